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

func TestFixSwaggerConditionalRequests(t *testing.T) {
	const withETag = `{"swagger":"2.0","paths":{
	  "/v1/things/{thing}":{"get":{"operationId":"S_Get","responses":{"200":{"description":"ok","schema":{"$ref":"#/definitions/Thing"}}}}},
	  "/v1/things/{thing}:cancel":{"post":{"operationId":"S_Cancel","responses":{"200":{"description":"ok","schema":{"$ref":"#/definitions/Thing"}}}}},
	  "/v1/plain/{plain}":{"get":{"operationId":"S_GetPlain","responses":{"200":{"description":"ok","schema":{"$ref":"#/definitions/Plain"}}}}},
	  "/v1/plain/{plain}:poke":{"post":{"operationId":"S_Poke","responses":{"200":{"description":"ok","schema":{"$ref":"#/definitions/Plain"}}}}},
	  "/v1/loose:run":{"post":{"operationId":"S_Run","responses":{"200":{"description":"ok"}}}}},
	  "definitions":{"Thing":{"type":"object","properties":{"etag":{"type":"string"}}},
	    "Plain":{"type":"object","properties":{"name":{"type":"string"}}}}}`
	const withoutETag = `{"swagger":"2.0","paths":{
	  "/v1/plain/{plain}":{"get":{"operationId":"S_GetPlain","responses":{"200":{"description":"ok","schema":{"$ref":"#/definitions/Plain"}}}}}},
	  "definitions":{"Plain":{"type":"object","properties":{"name":{"type":"string"}}}}}`
	type want struct{ etag, ifNoneMatch, notModified, ifMatch, failed bool }
	tests := []struct {
		name, doc string
		ops       map[string]want
		// components: the shared parameters and responses that must be
		// there (true) or pruned (false).
		components map[string]bool
	}{
		{"resource with an etag", withETag, map[string]want{
			"/v1/things/{thing} get":         {etag: true, ifNoneMatch: true, notModified: true},
			"/v1/things/{thing}:cancel post": {ifMatch: true, failed: true},
			"/v1/plain/{plain} get":          {},
			"/v1/plain/{plain}:poke post":    {},
			"/v1/loose:run post":             {},
		}, map[string]bool{"parameters/" + ifNoneMatchParam: true, "parameters/" + ifMatchParam: true,
			"responses/" + notModified: true, "responses/" + preconditionFailed: true, "responses/MethodNotAllowed": true}},
		{"no etag anywhere", withoutETag, map[string]want{"/v1/plain/{plain} get": {}},
			map[string]bool{"parameters/" + ifNoneMatchParam: false, "parameters/" + ifMatchParam: false,
				"responses/" + notModified: false, "responses/" + preconditionFailed: false, "responses/MethodNotAllowed": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decode(t, tt.doc).(obj)
			if err := fixSwagger(d, apis[0]); err != nil {
				t.Fatal(err)
			}
			for key, w := range tt.ops {
				path, method, _ := strings.Cut(key, " ")
				op := objAt(objAt(objAt(d, "paths"), path), method)
				responses := objAt(op, "responses")
				params := map[any]bool{}
				for _, p := range anySlice(op["parameters"]) {
					params[p.(obj)["$ref"]] = true
				}
				got := want{
					etag:        objAt(objAt(responses, "200"), "headers")[headerETag] != nil,
					ifNoneMatch: params["#/parameters/"+ifNoneMatchParam],
					notModified: cmp.Equal(responses["304"], ref("responses", notModified)),
					ifMatch:     params["#/parameters/"+ifMatchParam],
					failed:      cmp.Equal(responses["412"], ref("responses", preconditionFailed)),
				}
				if got != w {
					t.Errorf("%s: got %+v, want %+v", key, got, w)
				}
				if !cmp.Equal(responses["405"], ref("responses", "MethodNotAllowed")) {
					t.Errorf("%s: 405 = %v, want the MethodNotAllowed response", key, responses["405"])
				}
			}
			for c, want := range tt.components {
				section, name, _ := strings.Cut(c, "/")
				if _, got := objAt(d, section)[name]; got != want {
					t.Errorf("%s present: %v, want %v", c, got, want)
				}
			}
			if h := objAt(objAt(objAt(d, "responses"), "MethodNotAllowed"), "headers"); h[headerAllow] == nil {
				t.Errorf("the 405 response declares no %s header", headerAllow)
			}
			if _, body := objAt(objAt(d, "responses"), notModified)["schema"]; body {
				t.Error("the 304 response declares a body")
			}
		})
	}
}

func TestResourcePath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/v1/orders/{order}:cancel", "/v1/orders/{order}"},
		{"/v1/orders/{order}", "/v1/orders/{order}"},
		{"/v1/availability:check", "/v1/availability"},
		{"/v1/orders", "/v1/orders"},
		{"orders:cancel", "orders:cancel"},
		{"/v1/a:b/c", "/v1/a:b/c"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := resourcePath(tt.in); got != tt.want {
				t.Errorf("resourcePath(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
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
