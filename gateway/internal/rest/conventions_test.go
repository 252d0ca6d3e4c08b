package rest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
)

func testRoutes(t *testing.T) routeTable {
	t.Helper()
	routes, err := Routes(storefrontv1.File_transload_storefront_v1_storefront_service_proto.Services().Get(0),
		opsv1.File_transload_ops_v1_ops_service_proto.Services().Get(0))
	if err != nil {
		t.Fatal(err)
	}
	return routes
}

func TestRoutesMatchAndMethods(t *testing.T) {
	t.Parallel()
	table := testRoutes(t)
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/v1/orders", []string{"GET", "POST"}},
		{"/v1/orders/O-1", []string{"GET"}},
		{"/v1/orders/O-1:cancel", []string{"POST"}},
		{"/v1/orders/O-1/shipments/S-1", []string{"GET"}},
		{"/v1/orders/O-1/returns", []string{"GET", "POST"}},
		{"/v1/ops/deadLetters:replay", []string{"POST"}},
		{"/v1/ops/deadLetters/d1", []string{"GET"}},
		{"/v1/orders/", nil},
		{"/v1/orders/O-1/extra", nil},
		{"/v2/orders", nil},
		{"v1/orders", nil},
		{"/v1/orders/O-1:cancel/x", nil},
		{"/v1/orders/O-1:refund", []string{"GET"}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, methods(table.forPath(tc.path))); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestRouteQueryField(t *testing.T) {
	t.Parallel()
	table := testRoutes(t)
	route := func(method, path string) *Route {
		rs := routesFor(table.forPath(path), method)
		if len(rs) != 1 {
			t.Fatalf("%s %s: %d routes", method, path, len(rs))
		}
		return rs[0]
	}
	list, get, cancel, create := route("GET", "/v1/orders"), route("GET", "/v1/orders/x"), route("POST", "/v1/orders/x:cancel"), route("POST", "/v1/orders")
	for _, tc := range []struct {
		r    *Route
		key  string
		want []string
	}{
		{list, "filter", []string{"filter"}},
		{list, "pageSize", []string{"page_size"}},
		{list, "page_size", []string{"page_size"}},
		{list, "pagesize", nil},
		{list, "customerId", nil},
		{get, "name", nil},         // bound to the path
		{cancel, "reason", nil},    // body "*": no query parameters
		{cancel, "requestId", nil}, // body "*"
		{create, "requestId", []string{"request_id"}},
		{create, "order", nil},            // the body
		{create, "order.customerId", nil}, // inside the body
		{create, "order.", nil},
	} {
		t.Run(tc.r.Template+"?"+tc.key, func(t *testing.T) {
			got, ok := tc.r.QueryField(tc.key)
			if ok != (tc.want != nil) {
				t.Fatalf("ok %v, want %v", ok, tc.want != nil)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	if diff := cmp.Diff([]string{"requestId"}, create.QueryFields()); diff != "" {
		t.Errorf("CreateOrder query fields (-want +got)\n%s", diff)
	}
	if got := cancel.QueryFields(); got != nil {
		t.Errorf("CancelOrder query fields %v", got)
	}
}

func TestRoutesRejectBadTemplates(t *testing.T) {
	t.Parallel()
	for _, tmpl := range []string{"v1/orders", "/v1/{name=orders/*"} {
		r := Route{Template: tmpl}
		if err := r.parseTemplate(); err == nil {
			t.Errorf("%q parsed", tmpl)
		}
	}
}

func TestParseOrigin(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://shop.example":       "https://shop.example",
		"HTTP://Shop.Example:8080":   "http://shop.example:8080",
		"http://127.0.0.1:5173":      "http://127.0.0.1:5173",
		"https://shop.example/":      "",
		"https://shop.example/path":  "",
		"shop.example":               "",
		"ftp://shop.example":         "",
		"https://user@shop.example":  "",
		"https://shop.example:99999": "",
		"*":                          "",
	} {
		got, err := ParseOrigin(in)
		if (err == nil) != (want != "") || got != want {
			t.Errorf("ParseOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := newCORSPolicy([]string{"https://a.example", "nope"}); err == nil {
		t.Error("bad origin accepted")
	}
}

func TestAcceptsGzip(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"":                      false,
		"gzip":                  true,
		"gzip, deflate, br":     true,
		"br;q=1.0, gzip;q=0.5":  true,
		"gzip;q=0":              false,
		"*":                     true,
		"*;q=0":                 false,
		"identity":              false,
		"GZIP":                  true,
		"*, gzip;q=0":           false,
		"gzip;q=bogus, deflate": false,
	} {
		if got := acceptsGzip(in); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestGzipWriterThreshold(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		writes []string
		zipped bool
	}{
		{"below", 200, []string{"short"}, false},
		{"at threshold in pieces", 200, []string{strings.Repeat("a", 6), strings.Repeat("b", 4)}, true},
		{"error above", 503, []string{strings.Repeat("x", 20)}, true},
		{"not modified", 304, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			g := newGzipWriter(rec, 10)
			g.WriteHeader(tc.status)
			for _, w := range tc.writes {
				if _, err := g.Write([]byte(w)); err != nil {
					t.Fatal(err)
				}
			}
			if err := g.finish(); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			body := rec.Body.Bytes()
			if got := rec.Header().Get("Content-Encoding") == "gzip"; got != tc.zipped {
				t.Fatalf("zipped %v, want %v", got, tc.zipped)
			}
			if tc.zipped {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if got, want := string(body), strings.Join(tc.writes, ""); got != want {
				t.Errorf("body %q, want %q", got, want)
			}
		})
	}
}

func TestETagHelpers(t *testing.T) {
	t.Parallel()
	if got := quoteETag("abc-1"); got != `"abc-1"` {
		t.Errorf("quote %q", got)
	}
	for _, bad := range []string{"", `a"b`, "a b"} {
		if got := quoteETag(bad); got != "" {
			t.Errorf("quoteETag(%q) = %q", bad, got)
		}
	}
	for _, tc := range []struct {
		header string
		weak   bool
		want   bool
	}{
		{`"v1"`, false, true},
		{`"v0", "v1"`, false, true},
		{`W/"v1"`, false, false},
		{`W/"v1"`, true, true},
		{`*`, false, true},
		{`"v2"`, true, false},
		{``, true, false},
	} {
		if got := etagListMatches(tc.header, `"v1"`, tc.weak); got != tc.want {
			t.Errorf("etagListMatches(%q, weak %v) = %v", tc.header, tc.weak, got)
		}
	}
	if got := etagOf(&storefrontv1.Order{Etag: "e7"}); got != "e7" {
		t.Errorf("order etag %q", got)
	}
	if got := etagOf(&storefrontv1.ListOrdersResponse{}); got != "" {
		t.Errorf("list etag %q", got)
	}
}

func TestZeroMoneyIsWrittenOut(t *testing.T) {
	t.Parallel()
	m := newMarshaler()
	eur := func(n int64) *commonv1.Money { return &commonv1.Money{AmountMinor: n, CurrencyCode: "EUR"} }
	for name, tc := range map[string]struct {
		msg  *storefrontv1.Order
		want string
	}{
		"zero amounts": {
			msg: &storefrontv1.Order{Name: "orders/<1>&", ShippingCharge: eur(0), Subtotal: eur(1500), Tax: &commonv1.Money{},
				Lines: []*storefrontv1.OrderLine{{Sku: "S", UnitPrice: eur(0)}, {Sku: "T", UnitPrice: eur(5)}}},
			want: `{"name":"orders/<1>&","lines":[{"sku":"S","unitPrice":{"amountMinor":"0","currencyCode":"EUR"}},` +
				`{"sku":"T","unitPrice":{"amountMinor":"5","currencyCode":"EUR"}}],"subtotal":{"amountMinor":"1500","currencyCode":"EUR"},` +
				`"shippingCharge":{"amountMinor":"0","currencyCode":"EUR"},"tax":{"amountMinor":"0"}}`,
		},
		"no money untouched": {msg: &storefrontv1.Order{Name: "orders/1"}, want: `{"name":"orders/1"}`},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := m.Marshal(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, got, []byte(tc.want)) {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			back := &storefrontv1.Order{}
			if err := protojson.Unmarshal(got, back); err != nil {
				t.Errorf("output no longer parses as the message: %v", err)
			}
		})
	}
}

// jsonEqual compares two JSON documents token by token, so member order
// matters (it is the proto field order clients see) but spacing does not.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var ca, cb bytes.Buffer
	if err := json.Compact(&ca, a); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Compact(&cb, b); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return ca.String() == cb.String()
}

func TestCORSOptionsWithoutPreflight(t *testing.T) {
	t.Parallel()
	p, err := newCORSPolicy([]string{"https://shop.example"})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	// An Origin without Access-Control-Request-Method is no preflight.
	req := httptest.NewRequest(http.MethodOptions, "/v1/orders", nil)
	req.Header.Set("Origin", "https://shop.example")
	p.options(rec, req, []string{"GET"})
	if rec.Code != http.StatusNoContent || rec.Header().Get("Allow") != "GET, OPTIONS" || rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("status %d headers %v", rec.Code, rec.Header())
	}
}

func TestReachesMoney(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		msg  proto.Message
		want bool
	}{
		"money itself":            {msg: &commonv1.Money{}, want: true},
		"field holds money":       {msg: &storefrontv1.Order{}, want: true},
		"list of such messages":   {msg: &storefrontv1.ListOrdersResponse{}, want: true},
		"well-known type":         {msg: &timestamppb.Timestamp{}, want: false},
		"recursive without money": {msg: &structpb.Struct{}, want: false},
	} {
		t.Run(name, func(t *testing.T) {
			// Twice: the second answer comes from the cache.
			for range 2 {
				if got := reachesMoney(tc.msg.ProtoReflect().Descriptor()); got != tc.want {
					t.Errorf("reachesMoney(%T) = %v, want %v", tc.msg, got, tc.want)
				}
			}
		})
	}
}
