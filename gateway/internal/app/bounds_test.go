package app_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/apierr"
)

// stringField is a string field reachable from a request message: the
// fields leading to it and its violation path ("order.lines[0].sku").
type stringField struct {
	fields []protoreflect.FieldDescriptor
	path   string
}

// requestStrings lists the string fields of md and of the messages it
// holds (list and map values once, at index 0), skipping output-only
// fields (ignored in requests, AIP-203) and well-known types.
func requestStrings(md protoreflect.MessageDescriptor) []stringField {
	var out []stringField
	var walk func(md protoreflect.MessageDescriptor, prefix []protoreflect.FieldDescriptor, path string, depth int)
	walk = func(md protoreflect.MessageDescriptor, prefix []protoreflect.FieldDescriptor, path string, depth int) {
		if depth > 5 || md.ParentFile().Package() == "google.protobuf" {
			return
		}
		for i := range md.Fields().Len() {
			fd := md.Fields().Get(i)
			fb, _ := proto.GetExtension(fd.Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
			if slices.Contains(fb, annotations.FieldBehavior_OUTPUT_ONLY) || fd.IsMap() {
				continue
			}
			p := path + string(fd.Name())
			if fd.IsList() {
				p += "[0]"
			}
			fields := append(slices.Clone(prefix), fd)
			switch {
			case fd.Kind() == protoreflect.StringKind:
				out = append(out, stringField{fields: fields, path: p})
			case fd.Message() != nil:
				walk(fd.Message(), fields, p+".", depth+1)
			}
		}
	}
	walk(md, nil, "", 0)
	return out
}

// withString returns a request of type md whose field f holds s.
func withString(md protoreflect.MessageDescriptor, f stringField, s string) *dynamicpb.Message {
	root := dynamicpb.NewMessage(md)
	m := protoreflect.Message(root)
	for i, fd := range f.fields {
		last := i == len(f.fields)-1
		switch {
		case last && fd.IsList():
			m.Mutable(fd).List().Append(protoreflect.ValueOfString(s))
		case last:
			m.Set(fd, protoreflect.ValueOfString(s))
		case fd.IsList():
			l := m.Mutable(fd).List()
			v := l.NewElement()
			l.Append(v)
			m = v.Message()
		default:
			m = m.Mutable(fd).Message()
		}
	}
	return root
}

// Issue #14: every string field of every storefront.v1 and ops.v1 request
// is bounded: a 1 MiB value is refused with INVALID_ARGUMENT and a field
// violation naming it, before any handler runs (never an INTERNAL error,
// never accepted and truncated or stored). The fields are read from the
// descriptors, so a field added without a bound fails here.
func TestOneMebibyteStringsAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "RATE_LIMIT_RPS=0", "ORDER_RATE_LIMIT_PER_CUSTOMER=0")
	huge := strings.Repeat("x", 1<<20)
	for j, sd := range requestServices() {
		key := []string{keyWeb, keyOperator}[j]
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+key)
		for i := range sd.Methods().Len() {
			m := sd.Methods().Get(i)
			if m.IsStreamingClient() || m.IsStreamingServer() {
				continue
			}
			method := fmt.Sprintf("/%s/%s", sd.FullName(), m.Name())
			for _, f := range requestStrings(m.Input()) {
				req := withString(m.Input(), f, huge)
				err := e.conn.Invoke(ctx, method, req, dynamicpb.NewMessage(m.Output()))
				named := slices.ContainsFunc(apierr.FieldViolations(err), func(v apierr.FieldViolation) bool { return v.Field == f.path })
				if status.Code(err) != codes.InvalidArgument || !named {
					t.Errorf("%s with a 1 MiB %s: %v; want INVALID_ARGUMENT with a violation of %s", m.Name(), f.path, err, f.path)
				}
			}
		}
	}
}

// Over REST the same: a note of a million characters (the body stays
// under HTTP_MAX_BODY_BYTES) is a 400 naming order.note, not a 500, not
// a 413 and not an order with a shortened note.
func TestRESTHugeStringIsABadRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := strings.Replace(orderBody, `"currencyCode"`, `"note":"`+strings.Repeat("n", 1_000_000)+`","currencyCode"`, 1)
	r := e.do("POST", "/v1/orders", keyWeb, body, "Idempotency-Key", "huge-note")
	if _, ok := r.fieldViolations(t)["order.note"]; r.status != http.StatusBadRequest || !ok {
		t.Fatalf("a 1,000,000-character note: %d %.300s; want 400 naming order.note", r.status, r.body)
	}
	if n := len(e.orders.creates); n != 0 {
		t.Errorf("%d orders reached the order service", n)
	}
}

// requestServices are the APIs the gateway serves to outside callers.
func requestServices() []protoreflect.ServiceDescriptor {
	return []protoreflect.ServiceDescriptor{
		storefrontv1.File_transload_storefront_v1_storefront_service_proto.Services().Get(0),
		opsv1.File_transload_ops_v1_ops_service_proto.Services().Get(0),
	}
}

// Issue #14: line counts and quantities have bounds of their own (the
// contract says why: 200 lines, quantities up to 1,000,000), so an
// over-long list or a quantity near 2^63 is refused by its own rule
// (REPEATED_MAX_ITEMS, INT64_GT_LTE) before any arithmetic. Every list in
// a storefront.v1 or ops.v1 request has max_items and every quantity an
// upper bound; read from the descriptors, so a new unbounded one fails.
func TestRequestListsAndQuantitiesAreBounded(t *testing.T) {
	t.Parallel()
	seen := map[protoreflect.FullName]bool{}
	quantities := 0
	var walk func(md protoreflect.MessageDescriptor)
	walk = func(md protoreflect.MessageDescriptor) {
		if seen[md.FullName()] || md.ParentFile().Package() == "google.protobuf" {
			return
		}
		seen[md.FullName()] = true
		for i := range md.Fields().Len() {
			fd := md.Fields().Get(i)
			fb, _ := proto.GetExtension(fd.Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
			if slices.Contains(fb, annotations.FieldBehavior_OUTPUT_ONLY) {
				continue
			}
			rules, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
			if fd.IsList() && !rules.GetRepeated().HasMaxItems() {
				t.Errorf("%s.%s: a list without max_items", md.FullName(), fd.Name())
			}
			if fd.IsList() {
				rules = rules.GetRepeated().GetItems()
			}
			if strings.HasSuffix(string(fd.Name()), "quantity") {
				quantities++
				if !upperBound(rules) {
					t.Errorf("%s.%s: a quantity without an upper bound", md.FullName(), fd.Name())
				}
			}
			if m := fd.Message(); m != nil {
				walk(m)
			}
		}
	}
	for _, sd := range requestServices() {
		for i := range sd.Methods().Len() {
			walk(sd.Methods().Get(i).Input())
		}
	}
	if quantities < 3 {
		t.Fatalf("checked %d quantities; the walk misses the order, availability and return lines", quantities)
	}
}

func upperBound(r *validate.FieldRules) bool {
	switch {
	case r.GetInt64() != nil:
		return r.GetInt64().HasLte() || r.GetInt64().HasLt()
	case r.GetInt32() != nil:
		return r.GetInt32().HasLte() || r.GetInt32().HasLt()
	}
	return false
}
