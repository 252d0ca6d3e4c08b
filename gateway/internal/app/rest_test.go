package app_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/transload/transload/platform/tracing/tracingtest"
)

func TestRESTMalformedJSONHasTheErrorShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for name, tc := range map[string]struct{ path, body string }{
		"syntax":        {"/v1/orders", `{"customerId": "C0001", `},
		"unknown field": {"/v1/orders", `{"customerId": "C0001", "bogus": 1}`},
		"wrong type":    {"/v1/availability:check", `{"lines": "not a list"}`},
	} {
		t.Run(name, func(t *testing.T) {
			r := e.do("POST", tc.path, keyWeb, tc.body)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.status, r.body)
			}
			eb, _ := r.errorBody(t)
			if eb.Code != 3 || eb.Status != "INVALID_ARGUMENT" {
				t.Errorf("code %d status %q, want 3 INVALID_ARGUMENT", eb.Code, eb.Status)
			}
			if r.reason(t) != "ERROR_REASON_VALIDATION_FAILED" {
				t.Errorf("reason %q", r.reason(t))
			}
			if fv := r.fieldViolations(t); fv["body"] == "" {
				t.Errorf("no field violation explaining the body: %s", r.body)
			}
		})
	}
}

func TestRESTValidationErrorNamesFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := strings.Replace(orderBody, `"quantity":2`, `"quantity":0`, 1)
	r := e.do("POST", "/v1/orders", keyWeb, body, "Idempotency-Key", "k-validation")
	if r.status != http.StatusBadRequest {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if got := r.reason(t); got != "ERROR_REASON_VALIDATION_FAILED" {
		t.Errorf("reason %q", got)
	}
	if fv := r.fieldViolations(t); fv["order.lines[0].quantity"] == "" {
		t.Errorf("field violations %v, want order.lines[0].quantity", fv)
	}
	// request_id is required: no Idempotency-Key and no requestId.
	r = e.do("POST", "/v1/orders", keyWeb, orderBody)
	if fv := r.fieldViolations(t); r.status != http.StatusBadRequest || fv["request_id"] == "" {
		t.Errorf("without Idempotency-Key: status %d violations %v", r.status, fv)
	}
	if e.orders.lastCreate() != nil {
		t.Error("invalid requests reached the order service")
	}
}

func TestRESTUnknownCurrency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, cur := range []string{"XXX", "ABC"} {
		r := e.do("POST", "/v1/availability:check", keyWeb,
			`{"currencyCode":"`+cur+`","shipTo":{"regionCode":"DE"},"lines":[{"sku":"SKU-00001","quantity":1}]}`)
		if r.status != http.StatusBadRequest || r.reason(t) != "ERROR_REASON_UNSUPPORTED_CURRENCY" {
			t.Fatalf("availability %s: %d %s", cur, r.status, r.body)
		}
		if fv := r.fieldViolations(t); fv["currency_code"] == "" {
			t.Errorf("violations %v, want currency_code", fv)
		}
		r = e.do("POST", "/v1/orders", keyWeb, strings.Replace(orderBody, `"EUR"`, `"`+cur+`"`, 1), "Idempotency-Key", "k-"+cur)
		if r.status != http.StatusBadRequest || r.reason(t) != "ERROR_REASON_UNSUPPORTED_CURRENCY" {
			t.Fatalf("order %s: %d %s", cur, r.status, r.body)
		}
		if fv := r.fieldViolations(t); fv["order.currency_code"] == "" {
			t.Errorf("violations %v, want order.currency_code", fv)
		}
		r = e.do("POST", "/v1/prices:quote", keyWeb, `{"currencyCode":"`+cur+`","lines":[{"sku":"SKU-00001","quantity":1}]}`)
		if r.status != http.StatusBadRequest || r.reason(t) != "ERROR_REASON_UNSUPPORTED_CURRENCY" {
			t.Fatalf("quote %s: %d %s", cur, r.status, r.body)
		}
	}
	if e.pricing.calls.Load() != 0 || e.orders.lastCreate() != nil {
		t.Error("unsupported currencies reached the neighbours")
	}
}

func TestRESTAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for name, tc := range map[string]struct {
		headers []string
		status  int
		reason  string
	}{
		"missing":       {nil, http.StatusUnauthorized, "ERROR_REASON_UNAUTHENTICATED"},
		"unknown":       {[]string{"Authorization", "Bearer not-a-configured-key"}, http.StatusUnauthorized, "ERROR_REASON_UNAUTHENTICATED"},
		"not bearer":    {[]string{"Authorization", "Basic " + keyWeb}, http.StatusUnauthorized, "ERROR_REASON_UNAUTHENTICATED"},
		"operator key":  {[]string{"Authorization", "Bearer " + keyAdmin}, http.StatusForbidden, "ERROR_REASON_PERMISSION_DENIED"},
		"bearer":        {[]string{"Authorization", "Bearer " + keyWeb}, http.StatusOK, ""},
		"x-api-key":     {[]string{"X-Api-Key", keyWeb}, http.StatusOK, ""},
		"bearer casing": {[]string{"Authorization", "bearer " + keyWeb}, http.StatusOK, ""},
	} {
		t.Run(name, func(t *testing.T) {
			r := e.do("GET", "/v1/products/SKU-00001", "", "", tc.headers...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.reason != "" {
				if got := r.reason(t); got != tc.reason {
					t.Errorf("reason %q, want %q", got, tc.reason)
				}
				if strings.Contains(string(r.body), "not-a-configured-key") || strings.Contains(string(r.body), keyWeb) {
					t.Error("the error body echoes the key")
				}
			}
		})
	}
}

func TestRESTCorrelationIDOnEveryResponse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const id = "storefront-req-42"
	ok := e.do("GET", "/v1/products/SKU-00001", keyWeb, "", "X-Correlation-Id", id)
	if ok.status != http.StatusOK || ok.header.Get("X-Correlation-Id") != id {
		t.Errorf("success: status %d X-Correlation-Id %q, want %q", ok.status, ok.header.Get("X-Correlation-Id"), id)
	}
	for _, r := range []response{
		e.do("GET", "/v1/products/NOPE-1", keyWeb, "", "X-Correlation-Id", id), // handler error
		e.do("GET", "/v1/products/SKU-00001", "", "", "X-Correlation-Id", id),  // auth error
		e.do("POST", "/v1/orders", keyWeb, "{", "X-Correlation-Id", id),        // decode error
		e.do("GET", "/v1/no/such/route", keyWeb, "", "X-Correlation-Id", id),   // routing error
	} {
		eb, _ := r.errorBody(t)
		if eb.CorrelationID != id {
			t.Errorf("%d %s: correlationId %q, want %q", r.status, r.body, eb.CorrelationID, id)
		}
	}
	// Missing or unsafe ids are replaced by a fresh one.
	for _, given := range []string{"", "bad id with spaces", strings.Repeat("x", 200)} {
		r := e.do("GET", "/v1/products/SKU-00001", keyWeb, "", "X-Correlation-Id", given)
		if got := r.header.Get("X-Correlation-Id"); got == "" || got == given {
			t.Errorf("given %q: got %q, want a fresh id", given, got)
		}
	}
}

func TestRESTRoutingAndUnimplementedErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for name, tc := range map[string]struct {
		method, path string
		status       []int
		name         string
	}{
		"unknown route": {"GET", "/v1/nothing-here", []int{http.StatusNotFound}, "NOT_FOUND"},
		"wrong method":  {"DELETE", "/v1/orders", []int{http.StatusMethodNotAllowed, http.StatusNotFound}, ""},
		"webhooks":      {"GET", "/v1/webhookSubscriptions", []int{http.StatusNotImplemented}, "UNIMPLEMENTED"},
	} {
		t.Run(name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, keyWeb, "")
			eb, ds := r.errorBody(t)
			if !slices.Contains(tc.status, r.status) || len(ds) == 0 || tc.name != "" && eb.Status != tc.name {
				t.Errorf("%d %s, want one of %v %s", r.status, r.body, tc.status, tc.name)
			}
		})
	}
}

func TestRESTBodyLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "HTTP_MAX_BODY_BYTES=1024")
	big := `{"customerId":"C0002","note":"` + strings.Repeat("x", 2048) + `"}`
	r := e.do("POST", "/v1/orders", keyWeb, big, "Idempotency-Key", "k-big")
	if r.status != http.StatusRequestEntityTooLarge || r.reason(t) != "ERROR_REASON_PAYLOAD_TOO_LARGE" {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if e.orders.lastCreate() != nil {
		t.Error("an oversized body reached the order service")
	}
}

func TestRESTPageSizeLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("GET", "/v1/orders?pageSize=501", keyWeb, "")
	if fv := r.fieldViolations(t); r.status != http.StatusBadRequest || fv["page_size"] == "" {
		t.Errorf("pageSize=501: %d %v", r.status, fv)
	}
	r = e.do("GET", "/v1/orders?pageSize=abc", keyWeb, "")
	if fv := r.fieldViolations(t); r.status != http.StatusBadRequest || len(fv) == 0 {
		t.Errorf("pageSize=abc: %d %s", r.status, r.body)
	}
}

func TestRESTRateLimitPerKey(t *testing.T) {
	t.Parallel()
	// One token per 1000s and a burst of 2: the third call is refused.
	e := newEnv(t, "RATE_LIMIT_RPS=0.001", "RATE_LIMIT_BURST=2")
	for i := range 2 {
		if r := e.do("GET", "/v1/products/SKU-00001", keyWeb, ""); r.status != http.StatusOK {
			t.Fatalf("call %d: %d %s", i, r.status, r.body)
		}
	}
	r := e.do("GET", "/v1/products/SKU-00001", keyWeb, "")
	if r.status != http.StatusTooManyRequests || r.reason(t) != "ERROR_REASON_RATE_LIMITED" || r.header.Get("Retry-After") == "" {
		t.Fatalf("over the limit: %d %v %s", r.status, r.header, r.body)
	}
	// Other keys have their own bucket.
	if r := e.do("GET", "/v1/products/SKU-00001", keyC0001, ""); r.status != http.StatusOK {
		t.Errorf("another key: %d %s", r.status, r.body)
	}
}

func TestRESTListFilterAndTokenErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for name, tc := range map[string]struct {
		path, reason, field string
	}{
		"unknown order state":   {"/v1/orders?filter=" + url.QueryEscape("state = STATE_LOST"), "ERROR_REASON_VALIDATION_FAILED", "filter"},
		"unsupported field":     {"/v1/orders?filter=" + url.QueryEscape(`total_amount = "x"`), "ERROR_REASON_VALIDATION_FAILED", "filter"},
		"unterminated string":   {"/v1/orders?filter=" + url.QueryEscape(`customer_id = "C0002`), "ERROR_REASON_VALIDATION_FAILED", "filter"},
		"garbage product token": {"/v1/products?pageToken=not-a-token", "ERROR_REASON_INVALID_PAGE_TOKEN", "page_token"},
	} {
		t.Run(name, func(t *testing.T) {
			r := e.do("GET", tc.path, keyWeb, "")
			if r.status != http.StatusBadRequest || r.reason(t) != tc.reason {
				t.Fatalf("got %d %s, want 400 %s", r.status, r.body, tc.reason)
			}
			if fv := r.fieldViolations(t); fv[tc.field] == "" {
				t.Errorf("violations %v, want one on %s", fv, tc.field)
			}
		})
	}
	// A well-formed filter reaches the order service scoped to the channel.
	e.createOrder(keyWeb, "C0002", "k-filter")
	r := e.do("GET", "/v1/orders?filter="+url.QueryEscape(`state = STATE_ACCEPTED_PENDING_ERP AND customer_id = "C0002"`), keyWeb, "")
	if orders, _ := r.json(t)["orders"].([]any); r.status != http.StatusOK || len(orders) != 1 {
		t.Errorf("filtered list: %d %s", r.status, r.body)
	}
}

// TestRESTCallIsOneTrace checks that trace context flows from the REST side
// through the gateway's gRPC server to the neighbour it calls.
func TestRESTCallIsOneTrace(t *testing.T) {
	t.Parallel()
	rcv := tracingtest.Start(t)
	e := newEnv(t, "OTEL_EXPORTER_OTLP_ENDPOINT="+rcv.Endpoint())
	if r := e.do("GET", "/v1/products/SKU-00001", keyWeb, ""); r.status != http.StatusOK {
		t.Fatalf("get product: %d %s", r.status, r.body)
	}
	e.stop() // flushes the exporter
	server := rcv.WaitFor(t, 10*time.Second, "the gateway's GetProduct server span", func(s tracingtest.Span) bool {
		return s.Service == "gateway" && s.Kind == tracepb.Span_SPAN_KIND_SERVER &&
			s.Name == "transload.storefront.v1.StorefrontService/GetProduct"
	})
	if server.ParentSpanID == "" {
		t.Error("the gRPC server span has no parent: the REST side did not propagate its trace")
	}
	client := rcv.WaitFor(t, 10*time.Second, "the gateway's catalog GetProduct client span", func(s tracingtest.Span) bool {
		return s.Service == "gateway" && s.Kind == tracepb.Span_SPAN_KIND_CLIENT &&
			s.Name == "transload.catalog.v1.CatalogService/GetProduct"
	})
	if client.TraceID != server.TraceID || client.ParentSpanID != server.SpanID {
		t.Errorf("neighbour call in trace %s under span %s, want trace %s under the server span %s",
			client.TraceID, client.ParentSpanID, server.TraceID, server.SpanID)
	}
}
