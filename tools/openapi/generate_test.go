package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestFixSchema(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"bare ref stays", `{"$ref":"#/definitions/A"}`, `{"$ref":"#/definitions/A"}`},
		{"type beside ref is dropped", `{"type":"object","$ref":"#/definitions/A"}`, `{"$ref":"#/definitions/A"}`},
		{"readOnly and description wrap the ref",
			`{"properties":{"p":{"$ref":"#/definitions/A","description":"d","readOnly":true}}}`,
			`{"properties":{"p":{"allOf":[{"$ref":"#/definitions/A"}],"description":"d","readOnly":true}}}`},
		{"array items", `{"items":{"type":"object","$ref":"#/definitions/A"}}`, `{"items":{"$ref":"#/definitions/A"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decode(t, tt.in)
			fixSchema(got)
			if diff := cmp.Diff(decode(t, tt.want), got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestFixSwaggerRequestID(t *testing.T) {
	const doc = `{"swagger":"2.0","paths":{
	  "/v1/things":{"post":{"operationId":"S_Create","responses":{"200":{"description":"ok"}},
	    "parameters":[{"name":"body","in":"body","required":true,"schema":{"$ref":"#/definitions/Body"}}]}},
	  "/v1/other":{"post":{"operationId":"S_Other","responses":{"200":{"description":"ok"}},
	    "parameters":[{"name":"requestId","in":"query","required":true,"type":"string"}]}},
	  "/v1/read":{"get":{"operationId":"S_Get","responses":{"200":{"description":"ok"}}}}},
	  "definitions":{"Body":{"type":"object","required":["requestId","x"],
	    "properties":{"requestId":{"type":"string"},"x":{"type":"string"}}},
	    "Unused":{"type":"object"}}}`
	d := decode(t, doc).(obj)
	if err := fixSwagger(d, apis[0]); err != nil {
		t.Fatal(err)
	}
	if got := anySlice(objAt(objAt(d, "definitions"), "Body")["required"]); !cmp.Equal(got, []any{"x"}) {
		t.Errorf("Body.required = %v, want [x]", got)
	}
	if _, ok := objAt(d, "definitions")["Unused"]; ok {
		t.Error("an unreferenced definition was kept")
	}
	for path, want := range map[string]bool{"/v1/things": true, "/v1/other": true, "/v1/read": false} {
		item := objAt(objAt(d, "paths"), path)
		for _, op := range item {
			var hasHeader bool
			for _, p := range anySlice(op.(obj)["parameters"]) {
				p := p.(obj)
				if p["$ref"] == "#/parameters/"+idempotencyParam {
					hasHeader = true
				}
				if p["name"] == requestIDField && p["required"] != false {
					t.Errorf("%s: requestId query parameter still required", path)
				}
			}
			if hasHeader != want {
				t.Errorf("%s: Idempotency-Key declared %v, want %v", path, hasHeader, want)
			}
		}
	}
}

func TestFixSwaggerRefusesSharedBody(t *testing.T) {
	const doc = `{"swagger":"2.0","paths":{
	  "/a":{"post":{"responses":{"200":{"description":"ok","schema":{"$ref":"#/definitions/Body"}}},
	    "parameters":[{"name":"body","in":"body","schema":{"$ref":"#/definitions/Body"}}]}}},
	  "definitions":{"Body":{"type":"object","required":["requestId"],"properties":{"requestId":{"type":"string"}}}}}`
	err := fixSwagger(decode(t, doc).(obj), apis[0])
	if err == nil || !strings.Contains(err.Error(), "used elsewhere") {
		t.Errorf("err = %v, want a refusal to change a shared body schema", err)
	}
}

func TestRunArguments(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no gen folder", nil, "-gen is required"},
		{"extra argument", []string{"-gen", "x", "y"}, "unexpected arguments"},
		{"missing input", []string{"-gen", t.TempDir()}, "no *.swagger.json with paths"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(t.Context(), tt.args, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestGenerateMatchesCommitted regenerates from the committed
// protoc-gen-openapiv2 output and compares with the committed documents
// and pages: the same check as make check-generate for this step alone,
// so `go test` here catches a change to the tool that was not regenerated.
func TestGenerateMatchesCommitted(t *testing.T) {
	root := repoRoot(t)
	gen := t.TempDir()
	if err := os.CopyFS(filepath.Join(gen, "openapi", "transload"), os.DirFS(filepath.Join(root, "gen", "openapi", "transload"))); err != nil {
		t.Fatal(err)
	}
	if err := generate(gen); err != nil {
		t.Fatal(err)
	}
	var compared int
	for _, dir := range []string{"openapi", "openapi3"} {
		err := filepath.WalkDir(filepath.Join(gen, dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(gen, path)
			got, _ := os.ReadFile(path)
			want, err := os.ReadFile(filepath.Join(root, "gen", rel))
			if err != nil {
				t.Errorf("%s: not committed: %v", rel, err)
				return nil
			}
			compared++
			if !bytes.Equal(got, want) {
				t.Errorf("gen/%s differs from what tools/openapi makes: run make generate", rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if compared < 10 {
		t.Errorf("compared %d files, want the raw and published documents and the pages", compared)
	}
}
