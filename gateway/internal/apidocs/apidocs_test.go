package apidocs

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	openapiv2 "github.com/transload/transload/gen/openapi"
	"github.com/transload/transload/gen/openapi3"
)

func serve(t *testing.T, method, target string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	Handler().ServeHTTP(w, r)
	return w
}

func TestServesDocuments(t *testing.T) {
	tests := []struct {
		path        string
		fsys        fs.FS
		file        string
		contentType string
		// versionKey is the top-level key naming the document's format.
		versionKey string
	}{
		{"/openapi/storefront.v1.json", openapi3.FS, "storefront.v1.json", "application/json", "openapi"},
		{"/openapi/ops.v1.json", openapi3.FS, "ops.v1.json", "application/json", "openapi"},
		{"/openapi/v2/storefront.v1.json", openapiv2.FS, "storefront.v1.json", "application/json", "swagger"},
		{"/openapi/v2/ops.v1.json", openapiv2.FS, "ops.v1.json", "application/json", "swagger"},
		{"/docs/", openapi3.FS, "docs/index.html", "text/html; charset=utf-8", ""},
		{"/docs/storefront.v1.html", openapi3.FS, "docs/storefront.v1.html", "text/html; charset=utf-8", ""},
		{"/docs/ops.v1.html", openapi3.FS, "docs/ops.v1.html", "text/html; charset=utf-8", ""},
		{"/docs/style.css", openapi3.FS, "docs/style.css", "text/css; charset=utf-8", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if !Owns(tt.path) {
				t.Errorf("Owns(%q) = false", tt.path)
			}
			w := serve(t, http.MethodGet, tt.path, nil)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d, want 200: %s", w.Code, w.Body)
			}
			want, err := fs.ReadFile(tt.fsys, tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if w.Body.String() != string(want) {
				t.Errorf("body is not the embedded %s", tt.file)
			}
			h := w.Result().Header
			for name, want := range map[string]string{
				"Content-Type":            tt.contentType,
				"Content-Security-Policy": ContentSecurityPolicy,
				"X-Content-Type-Options":  "nosniff",
				"Cache-Control":           "no-cache",
			} {
				if got := h.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			if etag := h.Get("ETag"); !strings.HasPrefix(etag, `"`) || len(etag) < 10 {
				t.Errorf("ETag = %q, want a strong validator", etag)
			}
			if tt.versionKey != "" {
				var doc map[string]any
				if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
					t.Fatalf("not JSON: %v", err)
				}
				if _, ok := doc[tt.versionKey]; !ok {
					t.Errorf("no %q key: not the expected format", tt.versionKey)
				}
			}
			if strings.HasPrefix(tt.contentType, "text/html") && strings.Contains(strings.ToLower(w.Body.String()), "<script") {
				t.Error("a reference page has a script; the CSP would block it")
			}
		})
	}
}

func TestConditionalAndMethods(t *testing.T) {
	const doc = "/openapi/storefront.v1.json"
	etag := serve(t, http.MethodGet, doc, nil).Result().Header.Get("ETag")
	tests := []struct {
		name, method, path string
		header             http.Header
		wantStatus         int
		wantHeader         map[string]string
		wantEmpty          bool
	}{
		{"matching If-None-Match", http.MethodGet, doc, http.Header{"If-None-Match": {etag}}, http.StatusNotModified, map[string]string{"ETag": etag}, true},
		{"stale If-None-Match", http.MethodGet, doc, http.Header{"If-None-Match": {`"stale"`}}, http.StatusOK, nil, false},
		{"HEAD", http.MethodHead, doc, nil, http.StatusOK, map[string]string{"Content-Type": "application/json"}, true},
		{"POST", http.MethodPost, doc, nil, http.StatusMethodNotAllowed, map[string]string{"Allow": "GET, HEAD"}, false},
		{"unknown document", http.MethodGet, "/openapi/inventory.v1.json", nil, http.StatusNotFound, nil, false},
		{"unknown page", http.MethodGet, "/docs/../openapi/x", nil, http.StatusNotFound, nil, false},
		{"docs without slash", http.MethodGet, "/docs", nil, http.StatusMovedPermanently, map[string]string{"Location": "/docs/"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(t, tt.method, tt.path, tt.header)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d", w.Code, tt.wantStatus)
			}
			for name, want := range tt.wantHeader {
				if got := w.Result().Header.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			if got := w.Result().Header.Get("Content-Security-Policy"); got != ContentSecurityPolicy {
				t.Errorf("CSP = %q on a %d answer", got, w.Code)
			}
			if tt.wantEmpty && w.Body.Len() != 0 {
				t.Errorf("body of %d bytes, want none", w.Body.Len())
			}
		})
	}
}

func TestOwns(t *testing.T) {
	for path, want := range map[string]bool{
		"/openapi/ops.v1.json": true, "/docs/": true, "/docs": true,
		"/v1/orders": false, "/console/": false, "/documents": false, "/openapi": false,
	} {
		if got := Owns(path); got != want {
			t.Errorf("Owns(%q) = %v, want %v", path, got, want)
		}
	}
}
