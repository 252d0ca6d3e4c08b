// Package apidocs serves the experience APIs' published OpenAPI documents
// and their HTML reference from what `make generate` committed under gen/
// (embedded at build time, so the running gateway needs no files and no
// Node):
//
//	/openapi/storefront.v1.json     OpenAPI 3 (clients are generated from these)
//	/openapi/ops.v1.json
//	/openapi/v2/storefront.v1.json  Swagger 2 (protoc-gen-openapiv2's, post-processed)
//	/openapi/v2/ops.v1.json
//	/docs/                          the API reference (static HTML and one stylesheet)
//
// The documents are public, as the contracts are: the handler asks for no
// API key. Every answer carries a strong ETag (If-None-Match answers 304)
// with Cache-Control: no-cache, so a client revalidates and gets a new
// build's documents at once, and a CSP that allows nothing but the
// reference's own stylesheet: the pages have no script.
package apidocs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	openapiv2 "github.com/transload/transload/gen/openapi"
	"github.com/transload/transload/gen/openapi3"
)

// Path prefixes the handler serves; DocsPath without its slash redirects
// to it.
const (
	OpenAPIPath = "/openapi/"
	DocsPath    = "/docs/"
)

// ContentSecurityPolicy is the policy of every answer: nothing may load but
// the reference's stylesheet from this origin, no framing, no forms.
const ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// asset is one file served: its bytes and the headers that describe them.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Owns reports whether Handler serves urlPath, so the REST listener can
// send it there before the REST mux (which would answer 404 in the API's
// error shape).
func Owns(urlPath string) bool {
	return strings.HasPrefix(urlPath, OpenAPIPath) || strings.HasPrefix(urlPath, DocsPath) ||
		urlPath == strings.TrimSuffix(DocsPath, "/")
}

// Handler returns the handler of the documents and the reference, for the
// paths Owns reports. Other paths answer 404, methods other than GET and
// HEAD 405 with Allow.
func Handler() http.Handler {
	assets := loadAssets()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if r.URL.Path == strings.TrimSuffix(DocsPath, "/") {
			http.Redirect(w, r, DocsPath, http.StatusMovedPermanently)
			return
		}
		a, ok := assets[r.URL.Path]
		if !ok {
			http.Error(w, "not found: the API documents are under "+OpenAPIPath+" and the reference under "+DocsPath, http.StatusNotFound)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.Set("Content-Type", a.contentType)
		h.Set("ETag", a.etag)
		h.Set("Cache-Control", "no-cache")
		// ServeContent answers If-None-Match (304), HEAD and ranges.
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}

// loadAssets maps each served path to its embedded file; it panics only if
// gen/ was committed without a file its embed pattern names, which the
// tests catch.
var loadAssets = sync.OnceValue(func() map[string]asset {
	out := map[string]asset{}
	add := func(urlPath string, fsys fs.FS, name string) {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			panic("apidocs: embedded " + name + ": " + err.Error())
		}
		sum := sha256.Sum256(b)
		out[urlPath] = asset{body: b, contentType: contentType(name), etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
	}
	for _, id := range []string{"storefront.v1", "ops.v1"} {
		add(OpenAPIPath+id+".json", openapi3.FS, id+".json")
		add(OpenAPIPath+"v2/"+id+".json", openapiv2.FS, id+".json")
	}
	pages, err := fs.Glob(openapi3.FS, "docs/*")
	if err != nil || len(pages) == 0 {
		panic("apidocs: no embedded reference pages under gen/openapi3/docs")
	}
	for _, p := range pages {
		add(DocsPath+path.Base(p), openapi3.FS, p)
	}
	out[DocsPath] = out[DocsPath+"index.html"]
	return out
})

func contentType(name string) string {
	switch path.Ext(name) {
	case ".json":
		return "application/json"
	case ".html":
		return "text/html; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	default:
		return "application/octet-stream"
	}
}
