package storefront

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
)

// response is a decoded REST answer.
type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

// call sends a REST request with the given API key and optional headers
// ("Name: value") and decodes the JSON body.
func call(t testing.TB, method, path, key string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, mesh.RESTURL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			t.Fatalf("%s %s: status %d, body is not JSON: %q", method, path, resp.StatusCode, raw)
		}
	}
	return r
}

// reason returns the ErrorInfo reason of an error body, "" if none.
func (r response) reason() string {
	for _, d := range r.details() {
		if strings.HasSuffix(fmt.Sprint(d["@type"]), "google.rpc.ErrorInfo") {
			return fmt.Sprint(d["reason"])
		}
	}
	return ""
}

// violatedFields returns the BadRequest field violations' field paths.
func (r response) violatedFields() []string {
	var fields []string
	for _, d := range r.details() {
		if !strings.HasSuffix(fmt.Sprint(d["@type"]), "google.rpc.BadRequest") {
			continue
		}
		vs, _ := d["fieldViolations"].([]any)
		for _, v := range vs {
			if m, ok := v.(map[string]any); ok {
				fields = append(fields, fmt.Sprint(m["field"]))
			}
		}
	}
	return fields
}

func (r response) details() []map[string]any {
	ds, _ := r.Body["details"].([]any)
	var out []map[string]any
	for _, d := range ds {
		if m, ok := d.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func (r response) str(key string) string {
	v, ok := r.Body[key]
	if !ok || v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// line is one requested SKU and quantity.
type line struct {
	SKU string
	Qty int
}

func linesJSON(lines []line) []map[string]any {
	out := make([]map[string]any, 0, len(lines))
	for _, l := range lines {
		out = append(out, map[string]any{"sku": l.SKU, "quantity": l.Qty})
	}
	return out
}

// orderBody is the storefront Order a REST client posts.
func orderBody(customer string, lines ...line) map[string]any {
	return map[string]any{
		"customerId":   customer,
		"currencyCode": "EUR",
		"shipTo": map[string]any{
			"recipient": "Demo GmbH", "lines": []string{"Hafenstr. 1"},
			"locality": "Hamburg", "postalCode": "20457", "regionCode": "DE",
		},
		"lines": linesJSON(lines),
	}
}

// placeOrder posts an order with an Idempotency-Key and any extra
// "Name: value" headers.
func placeOrder(t testing.TB, key, idem string, body map[string]any, headers ...string) response {
	t.Helper()
	return call(t, http.MethodPost, "/v1/orders", key, body, append(headers, "Idempotency-Key: "+idem)...)
}

// availability returns the total available quantity per SKU.
func availability(t testing.TB, customer string, skus ...string) map[string]int64 {
	t.Helper()
	lines := make([]line, 0, len(skus))
	for _, s := range skus {
		lines = append(lines, line{SKU: s, Qty: 1})
	}
	r := call(t, http.MethodPost, "/v1/availability:check", launcher.DemoAPIKey, map[string]any{
		"customerId": customer, "currencyCode": "EUR", "lines": linesJSON(lines),
		"shipTo": map[string]any{"regionCode": "DE", "postalCode": "20457"},
	})
	if r.Status != http.StatusOK {
		t.Fatalf("availability: %d %s", r.Status, r.Raw)
	}
	out := map[string]int64{}
	ls, _ := r.Body["lines"].([]any)
	for _, l := range ls {
		m, _ := l.(map[string]any)
		out[fmt.Sprint(m["sku"])] = toInt(t, m["availableQuantity"])
	}
	return out
}

// toInt reads an integer field of a JSON body: a number, or a string for
// int64 fields (proto3 JSON), or absent for zero (proto3 JSON omits it).
// Anything else fails the test rather than reading as 0.
func toInt(t testing.TB, v any) int64 {
	t.Helper()
	switch x := v.(type) {
	case nil:
		return 0
	case float64:
		return int64(x)
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			t.Fatalf("integer field %q: %v", x, err)
		}
		return n
	}
	t.Fatalf("integer field is a %T (%v), want a number or a string", v, v)
	return 0
}

// control posts a JSON body to a simulator's admin control API.
func control(t testing.TB, proc, path string, body any) map[string]any {
	t.Helper()
	url := "http://" + mesh.Proc(proc).AdminAddr + path
	var rd io.Reader
	method := http.MethodGet
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
		method = http.MethodPost
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("control %s: %v", url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("control %s: %d %s", url, resp.StatusCode, raw)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}
