package contracts

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// buildImage compiles the contracts with source info (comments) through the
// pinned buf and returns Transload's own files.
func buildImage(t *testing.T) []*descriptorpb.FileDescriptorProto {
	t.Helper()
	root := repoRoot(t)
	out := filepath.Join(t.TempDir(), "image.binpb")
	if msg, err := run(t, root, tool(t, "buf"), "build", "proto", "--exclude-imports", "-o", out); err != nil {
		t.Fatalf("buf build: %v\n%s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	var files []*descriptorpb.FileDescriptorProto
	for _, f := range set.GetFile() {
		if strings.HasPrefix(f.GetName(), "transload/") {
			files = append(files, f)
		}
	}
	if len(files) < 20 {
		t.Fatalf("only %d Transload proto files in the image", len(files))
	}
	return files
}

// Field numbers of descriptor.proto used in source-info paths.
const (
	fileMessage = 4
	fileEnum    = 5
	fileService = 6
	msgField    = 2
	msgNested   = 3
	msgEnum     = 4
	enumValue   = 2
	svcMethod   = 2
)

// TestEveryElementIsDocumented fails for any RPC, message, field, enum or
// enum value without a leading comment: the contracts are the product's
// documentation (OpenAPI, stubs, adapter obligations).
func TestEveryElementIsDocumented(t *testing.T) {
	var missing []string
	for _, f := range buildImage(t) {
		documented := map[string]bool{}
		for _, loc := range f.GetSourceCodeInfo().GetLocation() {
			if strings.TrimSpace(loc.GetLeadingComments()) != "" {
				documented[pathKey(loc.GetPath())] = true
			}
		}
		check := func(path []int32, what string) {
			if !documented[pathKey(path)] {
				missing = append(missing, f.GetName()+": "+what)
			}
		}
		for i, s := range f.GetService() {
			p := []int32{fileService, int32(i)}
			check(p, "service "+s.GetName())
			for j, m := range s.GetMethod() {
				check(append(slices.Clone(p), svcMethod, int32(j)), "rpc "+s.GetName()+"."+m.GetName())
			}
		}
		for i, m := range f.GetMessageType() {
			walkMessage(m, []int32{fileMessage, int32(i)}, m.GetName(), check)
		}
		for i, e := range f.GetEnumType() {
			walkEnum(e, []int32{fileEnum, int32(i)}, e.GetName(), check)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d undocumented elements, e.g.:\n%s", len(missing), strings.Join(missing[:min(len(missing), 40)], "\n"))
	}
}

func walkMessage(m *descriptorpb.DescriptorProto, path []int32, name string, check func([]int32, string)) {
	if m.GetOptions().GetMapEntry() {
		return // synthesized for map fields
	}
	check(path, "message "+name)
	for i, fd := range m.GetField() {
		check(append(slices.Clone(path), msgField, int32(i)), "field "+name+"."+fd.GetName())
	}
	for i, n := range m.GetNestedType() {
		walkMessage(n, append(slices.Clone(path), msgNested, int32(i)), name+"."+n.GetName(), check)
	}
	for i, e := range m.GetEnumType() {
		walkEnum(e, append(slices.Clone(path), msgEnum, int32(i)), name+"."+e.GetName(), check)
	}
}

func walkEnum(e *descriptorpb.EnumDescriptorProto, path []int32, name string, check func([]int32, string)) {
	check(path, "enum "+name)
	for i, v := range e.GetValue() {
		check(append(slices.Clone(path), enumValue, int32(i)), "enum value "+v.GetName())
	}
}

func pathKey(p []int32) string {
	var b strings.Builder
	for _, x := range p {
		b.WriteString(string(rune('A' + x)))
	}
	return b.String()
}

// TestEveryRequestIsValidated fails for an RPC request message that has
// fields but no protovalidate rule on any of them (or on the message):
// shape rules belong in the contract, enforced by one interceptor.
func TestEveryRequestIsValidated(t *testing.T) {
	files := buildImage(t)
	messages := map[string]*descriptorpb.DescriptorProto{}
	for _, f := range files {
		for _, m := range f.GetMessageType() {
			messages["."+f.GetPackage()+"."+m.GetName()] = m
		}
	}
	var unvalidated []string
	requests := 0
	for _, f := range files {
		for _, s := range f.GetService() {
			for _, rpc := range s.GetMethod() {
				m, ok := messages[rpc.GetInputType()]
				if !ok || len(m.GetField()) == 0 {
					continue // google.protobuf.Empty or another package's type
				}
				requests++
				if !hasRule(m) {
					unvalidated = append(unvalidated, s.GetName()+"."+rpc.GetName()+" ("+m.GetName()+")")
				}
			}
		}
	}
	if requests < 100 {
		t.Fatalf("only %d request messages found", requests)
	}
	if len(unvalidated) > 0 {
		t.Fatalf("request messages without any protovalidate rule:\n%s", strings.Join(unvalidated, "\n"))
	}
}

func hasRule(m *descriptorpb.DescriptorProto) bool {
	if proto.HasExtension(m.GetOptions(), validate.E_Message) {
		return true
	}
	for _, fd := range m.GetField() {
		if proto.HasExtension(fd.GetOptions(), validate.E_Field) {
			return true
		}
	}
	return false
}
