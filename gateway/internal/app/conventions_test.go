package app_test

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/apierr"

	"github.com/transload/transload/gateway/internal/rest"
)

// allRoutes are the REST routes of both APIs, from their google.api.http
// bindings.
func allRoutes(t *testing.T) []rest.Route {
	t.Helper()
	routes, err := rest.Routes(storefrontv1.File_transload_storefront_v1_storefront_service_proto.Services().Get(0),
		opsv1.File_transload_ops_v1_ops_service_proto.Services().Get(0))
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) < 20 {
		t.Fatalf("%d routes read from the bindings", len(routes))
	}
	return routes
}

var templateVar = regexp.MustCompile(`\{[^}=]+(=([^}]*))?\}`)

// concretePath fills a template's variables with sample segments.
func concretePath(template string) string {
	return templateVar.ReplaceAllStringFunc(template, func(v string) string {
		m := templateVar.FindStringSubmatch(v)
		pattern := m[2]
		if pattern == "" {
			pattern = "*"
		}
		pattern = strings.ReplaceAll(pattern, "**", "x1")
		return strings.ReplaceAll(pattern, "*", "x1")
	})
}

func TestRESTUnknownQueryParameterOnEveryRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, rt := range allRoutes(t) {
		path := concretePath(rt.Template)
		t.Run(rt.Method+" "+rt.Template, func(t *testing.T) {
			body := ""
			if rt.Body != "" {
				body = "{}"
			}
			r := e.do(rt.Method, path+"?bogusParam=1&customerId=C0001", keyAdmin, body)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.status, r.body)
			}
			eb, _ := r.errorBody(t)
			if eb.Status != "INVALID_ARGUMENT" || r.reason(t) != "ERROR_REASON_VALIDATION_FAILED" {
				t.Errorf("status %q reason %q", eb.Status, r.reason(t))
			}
			fv := r.fieldViolations(t)
			if fv["bogusParam"] == "" {
				t.Errorf("violations %v do not name bogusParam", fv)
			}
			// customerId is a field of no storefront list request, but a
			// body field of CreateOrder: refused everywhere.
			if fv["customerId"] == "" {
				t.Errorf("violations %v do not name customerId", fv)
			}
			// Every declared query field passes the check (it may fail
			// later as a bad value, never as an unknown parameter).
			for _, f := range rt.QueryFields() {
				r := e.do(rt.Method, path+"?"+f+"=1", keyAdmin, body)
				if strings.Contains(string(r.body), "UNKNOWN_PARAMETER") {
					t.Errorf("declared parameter %s refused: %s", f, r.body)
				}
			}
		})
	}
}

func TestRESTListQueryParameters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createOrder(keyWeb, "C0001", "k-q1")
	for name, tc := range map[string]struct {
		query string
		want  int
	}{
		"README filter":          {`filter=customer_id%20%3D%20%22C0001%22&pageSize=10`, http.StatusOK},
		"proto names":            {`page_size=10&order_by=create_time%20desc`, http.StatusOK},
		"unknown customerId":     {`customerId=C0001`, http.StatusBadRequest},
		"misspelt page size":     {`pagesize=10`, http.StatusBadRequest},
		"path-bound is no param": {`name=orders/x`, http.StatusBadRequest},
	} {
		t.Run(name, func(t *testing.T) {
			r := e.do("GET", "/v1/orders?"+tc.query, keyWeb, "")
			if r.status != tc.want {
				t.Errorf("status %d, want %d: %s", r.status, tc.want, r.body)
			}
		})
	}
}

func TestRESTCORS(t *testing.T) {
	t.Parallel()
	const shop = "https://shop.example"
	e := newEnv(t, "CORS_ALLOWED_ORIGINS=https://other.example, "+shop)
	preflight := func(origin, path, method string) response {
		return e.do("OPTIONS", path, "", "", "Origin", origin, "Access-Control-Request-Method", method,
			"Access-Control-Request-Headers", "authorization, content-type, idempotency-key")
	}
	t.Run("allowed preflight", func(t *testing.T) {
		r := preflight(shop, "/v1/orders", "POST")
		got := map[string]string{}
		for _, k := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Max-Age", "Allow"} {
			got[k] = r.header.Get(k)
		}
		want := map[string]string{
			"Access-Control-Allow-Origin":  shop,
			"Access-Control-Allow-Methods": "GET, POST",
			"Access-Control-Allow-Headers": "Authorization, X-Api-Key, Content-Type, Idempotency-Key, X-Correlation-Id, If-Match, If-None-Match",
			"Access-Control-Max-Age":       "600",
			"Allow":                        "GET, POST, OPTIONS",
		}
		if r.status != http.StatusNoContent || len(r.body) != 0 {
			t.Errorf("status %d body %q, want 204 without body", r.status, r.body)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got)\n%s", diff)
		}
		if !slices.Contains(r.header.Values("Vary"), "Origin") {
			t.Errorf("Vary %q lacks Origin", r.header.Values("Vary"))
		}
	})
	t.Run("custom method preflight", func(t *testing.T) {
		r := preflight(shop, "/v1/orders/O-0001:cancel", "POST")
		if got := r.header.Get("Access-Control-Allow-Methods"); got != "POST" {
			t.Errorf("methods %q, want POST", got)
		}
	})
	t.Run("disallowed preflight", func(t *testing.T) {
		r := preflight("https://evil.example", "/v1/orders", "POST")
		for k := range r.header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("disallowed origin got %s: %s", k, r.header.Get(k))
			}
		}
	})
	t.Run("actual request", func(t *testing.T) {
		r := e.do("GET", "/v1/orders", keyWeb, "", "Origin", shop)
		if r.status != http.StatusOK || r.header.Get("Access-Control-Allow-Origin") != shop {
			t.Fatalf("status %d allow-origin %q", r.status, r.header.Get("Access-Control-Allow-Origin"))
		}
		if got, want := r.header.Get("Access-Control-Expose-Headers"), "X-Correlation-Id, Idempotent-Replayed, Retry-After, ETag"; got != want {
			t.Errorf("expose %q, want %q", got, want)
		}
		r = e.do("GET", "/v1/orders", keyWeb, "", "Origin", "https://evil.example")
		if r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("disallowed origin allowed")
		}
	})
}

func TestRESTNoCORSWhenUnconfigured(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("OPTIONS", "/v1/orders", "", "", "Origin", "https://shop.example", "Access-Control-Request-Method", "GET")
	if r.status != http.StatusNoContent || r.header.Get("Allow") != "GET, POST, OPTIONS" {
		t.Errorf("status %d Allow %q", r.status, r.header.Get("Allow"))
	}
	if r.header.Get("Access-Control-Allow-Origin") != "" || slices.Contains(r.header.Values("Vary"), "Origin") {
		t.Errorf("CORS headers without CORS_ALLOWED_ORIGINS: %v", r.header)
	}
}

func TestRESTMethodNotAllowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct{ method, path, allow string }{
		{"DELETE", "/v1/orders", "GET, POST, OPTIONS"},
		{"PUT", "/v1/orders/O-0001", "GET, OPTIONS"},
		{"GET", "/v1/orders/O-0001:cancel", "POST, OPTIONS"},
		{"PATCH", "/v1/ops/exceptions/x1", "GET, OPTIONS"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := e.do(tc.method, tc.path, keyWeb, "")
			if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != tc.allow {
				t.Fatalf("status %d Allow %q, want 405 %q: %s", r.status, r.header.Get("Allow"), tc.allow, r.body)
			}
			if eb, _ := r.errorBody(t); eb.Status != "UNIMPLEMENTED" || eb.CorrelationID == "" {
				t.Errorf("error body %+v", eb)
			}
		})
	}
	if r := e.do("GET", "/v1/nothing", keyWeb, ""); r.status != http.StatusNotFound {
		t.Errorf("unknown path: %d", r.status)
	}
}

func TestRESTETagAndConditionalRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.createOrder(keyWeb, "C0002", "k-etag")
	r := e.do("GET", "/v1/"+name, keyWeb, "")
	if r.status != http.StatusOK || r.header.Get("ETag") != `"e1"` {
		t.Fatalf("status %d ETag %q, want the body's etag quoted", r.status, r.header.Get("ETag"))
	}
	if r.json(t)["etag"] != "e1" {
		t.Errorf("body etag %v", r.json(t)["etag"])
	}
	if l := e.do("GET", "/v1/orders", keyWeb, ""); l.header.Get("ETag") != "" {
		t.Errorf("list has ETag %q", l.header.Get("ETag"))
	}
	for _, tc := range []struct {
		inm  string
		want int
	}{{`"e1"`, 304}, {`W/"e1"`, 304}, {`"x", "e1"`, 304}, {`*`, 304}, {`"e0"`, 200}} {
		r := e.do("GET", "/v1/"+name, keyWeb, "", "If-None-Match", tc.inm)
		if r.status != tc.want {
			t.Errorf("If-None-Match %s: status %d, want %d", tc.inm, r.status, tc.want)
		}
		if r.status == 304 && (len(r.body) != 0 || r.header.Get("ETag") != `"e1"`) {
			t.Errorf("304 with body %q ETag %q", r.body, r.header.Get("ETag"))
		}
	}

	cancelPath := "/v1/" + name + ":cancel"
	r = e.do("POST", cancelPath, keyWeb, `{"reason":"x"}`, "Idempotency-Key", "k-c1", "If-Match", `"e0"`)
	if r.status != http.StatusPreconditionFailed || r.reason(t) != "ERROR_REASON_CONCURRENT_MODIFICATION" {
		t.Fatalf("stale If-Match: %d %s", r.status, r.body)
	}
	r = e.do("POST", cancelPath, keyWeb, `{"reason":"x"}`, "Idempotency-Key", "k-c1", "If-Match", `W/"e1"`)
	if r.status != http.StatusPreconditionFailed {
		t.Errorf("weak If-Match (strong comparison): %d", r.status)
	}
	r = e.do("POST", "/v1/orders/O-9999:cancel", keyWeb, `{}`, "Idempotency-Key", "k-c2", "If-Match", `"e1"`)
	if r.status != http.StatusNotFound {
		t.Errorf("If-Match on a missing order: %d %s", r.status, r.body)
	}
	// Over gRPC the gateway does not read the order first: the tag goes
	// to the order service, which compares it in the cancel's own
	// transaction, so a change between a check and the cancel cannot slip
	// through.
	stale := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+keyWeb, "if-match", `"e0"`)
	if _, err := e.client.CancelOrder(stale, &storefrontv1.CancelOrderRequest{Name: name, RequestId: "k-c4"}); status.Code(err) != codes.Aborted ||
		!apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_CONCURRENT_MODIFICATION) {
		t.Fatalf("gRPC cancel with a stale if-match: %v, want ABORTED CONCURRENT_MODIFICATION", err)
	}
	r = e.do("POST", cancelPath, keyWeb, `{"reason":"x"}`, "Idempotency-Key", "k-c3", "If-Match", `"e1"`)
	if r.status != http.StatusOK || r.json(t)["state"] != "STATE_CANCELLED" {
		t.Errorf("current If-Match: %d %s", r.status, r.body)
	}
}

func TestRESTGzip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 4 {
		e.createOrder(keyWeb, "C0002", fmt.Sprint("k-gz", i))
	}
	get := func(path, accept string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", e.baseURL+path, nil)
		req.Header.Set("Authorization", "Bearer "+keyWeb)
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		// A transport that leaves Content-Encoding to the test.
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	plainResp, plain := get("/v1/orders", "")
	if len(plain) < rest.DefaultCompressMinBytes || plainResp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("plain list: %d bytes, encoding %q", len(plain), plainResp.Header.Get("Content-Encoding"))
	}
	resp, zipped := get("/v1/orders", "br;q=1, gzip;q=0.8")
	if resp.Header.Get("Content-Encoding") != "gzip" || !slices.Contains(resp.Header.Values("Vary"), "Accept-Encoding") {
		t.Fatalf("Content-Encoding %q Vary %q", resp.Header.Get("Content-Encoding"), resp.Header.Values("Vary"))
	}
	zr, err := gzip.NewReader(strings.NewReader(string(zipped)))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var a, b map[string]any
	if err := json.Unmarshal(unzipped, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(plain, &b); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b, a); diff != "" {
		t.Errorf("gzipped body differs (-plain +gzip)\n%s", diff)
	}
	if resp, _ := get("/v1/orders", "gzip;q=0"); resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 got %q", resp.Header.Get("Content-Encoding"))
	}
	if resp, small := get("/v1/orders/O-9999", "gzip"); resp.Header.Get("Content-Encoding") != "" || !json.Valid(small) {
		t.Errorf("small error answer: encoding %q body %q", resp.Header.Get("Content-Encoding"), small)
	}
}

// TestRESTGzipOff: HTTP_COMPRESS_MIN_BYTES=0 sends even a large answer
// plain to a client that asks for gzip, and drops the Vary it would need.
func TestRESTGzipOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "HTTP_COMPRESS_MIN_BYTES=0")
	for i := range 4 {
		e.createOrder(keyWeb, "C0002", fmt.Sprint("k-gz-off", i))
	}
	req, _ := http.NewRequest("GET", e.baseURL+"/v1/orders", nil)
	req.Header.Set("Authorization", "Bearer "+keyWeb)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if len(body) < rest.DefaultCompressMinBytes || resp.Header.Get("Content-Encoding") != "" || !json.Valid(body) ||
		slices.Contains(resp.Header.Values("Vary"), "Accept-Encoding") {
		t.Errorf("gzip off: %d bytes, Content-Encoding %q, Vary %q", len(body), resp.Header.Get("Content-Encoding"), resp.Header.Values("Vary"))
	}
}

func TestRESTServesH2C(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	client := &http.Client{Transport: &http.Transport{Protocols: &p}}
	req, _ := http.NewRequest("GET", e.baseURL+"/v1/orders", nil)
	req.Header.Set("Authorization", "Bearer "+keyWeb)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
		t.Errorf("status %d over %s, want 200 over HTTP/2", resp.StatusCode, resp.Proto)
	}
	// HTTP/1.1 still works on the same listener.
	if r := e.do("GET", "/v1/orders", keyWeb, ""); r.status != http.StatusOK {
		t.Errorf("HTTP/1.1: %d", r.status)
	}
}

func TestRESTZeroMoneyIsExplicit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.createOrder(keyWeb, "C0002", "k-zero")
	r := e.do("GET", "/v1/"+name, keyWeb, "")
	var o struct {
		ShippingCharge map[string]any `json:"shippingCharge"`
		Subtotal       map[string]any `json:"subtotal"`
		ErpOrderNumber *string        `json:"erpOrderNumber"`
	}
	if err := json.Unmarshal(r.body, &o); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"amountMinor": "0", "currencyCode": "EUR"}
	if diff := cmp.Diff(want, o.ShippingCharge); diff != "" {
		t.Errorf("shippingCharge (-want +got)\n%s\n%s", diff, r.body)
	}
	if o.Subtotal["amountMinor"] != "2000" {
		t.Errorf("subtotal %v", o.Subtotal)
	}
	if o.ErpOrderNumber != nil {
		t.Errorf("other zero values are still omitted, got erpOrderNumber %q", *o.ErpOrderNumber)
	}
}
