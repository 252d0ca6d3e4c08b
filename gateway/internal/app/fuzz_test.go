package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// fuzzClient bounds each call: a body the gateway never answers is a
// finding.
var fuzzClient = &http.Client{Timeout: 10 * time.Second}

// fuzzPost sends body to path with the channel key and returns the status
// and body; t fails on a transport error only.
func fuzzPost(t *testing.T, e *env, path, body string) (int, []byte) {
	req, err := http.NewRequest(http.MethodPost, e.baseURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+keyWeb)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "fuzz-key")
	resp, err := fuzzClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s %q: %v", path, body, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// fuzzREST posts each body to path: whatever a client sends, the answer is
// never a server error and always a JSON object; an error answer carries a
// code and a message.
func fuzzREST(f *testing.F, path string, seeds ...string) {
	e := newEnv(f, "RATE_LIMIT_RPS=0")
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		status, b := fuzzPost(t, e, path, body)
		if status >= 500 {
			t.Fatalf("POST %s %q: status %d: %s", path, body, status, b)
		}
		var out map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("POST %s %q: status %d, body is not a JSON object: %q", path, body, status, b)
		}
		if status >= 400 && (out["code"] == nil || out["message"] == nil) {
			t.Fatalf("POST %s %q: status %d without code/message: %s", path, body, status, b)
		}
	})
}

// FuzzRESTCreateOrder: hostile REST bodies of CreateOrder through the
// gateway's REST handler, interceptors and validation (issue #14).
func FuzzRESTCreateOrder(f *testing.F) {
	fuzzREST(f, "/v1/orders",
		orderBody,
		`{"customerId":"C0001","currencyCode":"EUR","lines":[{"sku":"SKU-00001","quantity":9223372036854775807}]}`,
		`{"customerId":"C0001","currencyCode":"EUR","lines":[{"sku":"SKU-00001","quantity":"-1"},{"sku":"SKU-00001","quantity":1}]}`,
		`{"customerId":"`+strings.Repeat("C", 5000)+`","lines":[]}`,
		`{"lines":[{"sku":"\u0000\ud800","quantity":1e300}]}`,
		`[]`, `null`, `{"order":{}}`, `{"customerId":{"nested":[1,2,3]}}`,
	)
}

// FuzzRESTCheckAvailability: hostile REST bodies of CheckAvailability
// through the gateway's REST handler (issue #14).
func FuzzRESTCheckAvailability(f *testing.F) {
	fuzzREST(f, "/v1/availability:check",
		`{"customerId":"C0001","currencyCode":"EUR","shipTo":{"regionCode":"DE"},"lines":[{"sku":"SKU-00001","quantity":1}]}`,
		`{"customerId":"C0001","currencyCode":"EUR","lines":[{"sku":"SKU-00001","quantity":-9223372036854775808}]}`,
		`{"currencyCode":"EU\u20ac","lines":[{"sku":"","quantity":0}]}`,
		`{"lines":"not a list"}`, `{`, `"`+strings.Repeat("x", 10000)+`"`,
	)
}
