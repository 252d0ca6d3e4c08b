package app_test

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/apierr"
)

func TestCreateOrderIdempotencyKeyAndReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first := e.do("POST", "/v1/orders", keyWeb, orderBody, "Idempotency-Key", "checkout-1")
	if first.status != http.StatusOK {
		t.Fatalf("first: %d %s", first.status, first.body)
	}
	if got := e.orders.lastCreate(); got.GetRequestId() != "checkout-1" || got.GetChannel() != "web" || got.GetCustomerId() != "C0002" {
		t.Errorf("order service got request_id %q channel %q customer %q", got.GetRequestId(), got.GetChannel(), got.GetCustomerId())
	}
	e.orders.mu.Lock()
	actor := e.orders.actors[0]
	e.orders.mu.Unlock()
	if !strings.HasPrefix(actor, "api_key:key-") || strings.Contains(actor, keyWeb) {
		t.Errorf("actor %q: want api_key:<key id>, never the key", actor)
	}
	if h := first.header.Get("Idempotent-Replayed"); h != "" {
		t.Errorf("first execution carries Idempotent-Replayed %q", h)
	}
	o := first.json(t)
	if o["state"] != "STATE_ACCEPTED_PENDING_ERP" || o["stateMessage"] != "Accepted, pending ERP confirmation" {
		t.Errorf("state %v %v", o["state"], o["stateMessage"])
	}

	again := e.do("POST", "/v1/orders", keyWeb, orderBody, "Idempotency-Key", "checkout-1")
	if again.status != http.StatusOK || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d Idempotent-Replayed=%q %s", again.status, again.header.Get("Idempotent-Replayed"), again.body)
	}
	if again.json(t)["name"] != o["name"] {
		t.Errorf("replay returned %v, want %v", again.json(t)["name"], o["name"])
	}

	changed := strings.Replace(orderBody, `"quantity":2`, `"quantity":3`, 1)
	r := e.do("POST", "/v1/orders", keyWeb, changed, "Idempotency-Key", "checkout-1")
	if r.status != http.StatusConflict || r.reason(t) != "ERROR_REASON_IDEMPOTENCY_KEY_REUSED" {
		t.Errorf("reused key: %d %s", r.status, r.body)
	}

	// requestId in the query and a different Idempotency-Key header.
	r = e.do("POST", "/v1/orders?requestId=other", keyWeb, orderBody, "Idempotency-Key", "checkout-2")
	if fv := r.fieldViolations(t); r.status != http.StatusBadRequest || fv["request_id"] == "" {
		t.Errorf("differing request ids: %d %s", r.status, r.body)
	}
	// Equal values are fine.
	r = e.do("POST", "/v1/orders?requestId=checkout-3", keyWeb, orderBody, "Idempotency-Key", "checkout-3")
	if r.status != http.StatusOK {
		t.Errorf("equal request ids: %d %s", r.status, r.body)
	}
}

func TestCreateOrderOverGRPCReplayHeader(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+keyC0001)
	req := &storefrontv1.CreateOrderRequest{RequestId: "grpc-1", Order: &storefrontv1.Order{
		ShipTo:       &commonv1.Address{RegionCode: "DE", Locality: "Hamburg"},
		CurrencyCode: "EUR",
		Lines: []*storefrontv1.OrderLine{{Sku: "SKU-00001", Quantity: 1,
			ExpectedUnitPrice: &commonv1.Money{AmountMinor: 900, CurrencyCode: "EUR"}}},
	}}
	var hdr metadata.MD
	o, err := e.client.CreateOrder(ctx, req, grpc.Header(&hdr))
	if err != nil {
		t.Fatal(err)
	}
	if o.GetCustomerId() != "C0001" || len(hdr.Get("idempotent-replayed")) != 0 {
		t.Errorf("customer %q replayed %v", o.GetCustomerId(), hdr.Get("idempotent-replayed"))
	}
	if !o.GetLines()[0].GetPriceChanged() {
		t.Error("price_changed is false although the expected unit price differs")
	}
	if _, err := e.client.CreateOrder(ctx, req, grpc.Header(&hdr)); err != nil {
		t.Fatal(err)
	}
	if got := hdr.Get("idempotent-replayed"); len(got) != 1 || got[0] != "true" {
		t.Errorf("replay header %v", got)
	}
	// The idempotency-key metadata fills request_id for gRPC callers too.
	req.RequestId = ""
	kctx := metadata.AppendToOutgoingContext(ctx, "idempotency-key", "grpc-2")
	if _, err := e.client.CreateOrder(kctx, req); err != nil {
		t.Fatal(err)
	}
	if got := e.orders.lastCreate().GetRequestId(); got != "grpc-2" {
		t.Errorf("request_id %q, want grpc-2", got)
	}
}

func TestCustomerBoundKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	theirs := e.createOrder(keyWeb, "C0002", "k-theirs")
	mine := e.createOrder(keyC0001, "C0001", "k-mine")

	if r := e.do("GET", "/v1/"+mine, keyC0001, ""); r.status != http.StatusOK {
		t.Fatalf("own order: %d %s", r.status, r.body)
	}
	other := e.do("GET", "/v1/"+theirs, keyC0001, "")
	missing := e.do("GET", "/v1/orders/O-9999", keyC0001, "")
	if other.status != http.StatusNotFound || missing.status != http.StatusNotFound {
		t.Fatalf("other customer's order %d, missing order %d; want 404 both", other.status, missing.status)
	}
	strip := regexp.MustCompile(`"correlationId":"[^"]*"`)
	if a, b := strip.ReplaceAll(other.body, nil), strip.ReplaceAll(missing.body, nil); !bytes.Equal(a, b) {
		t.Errorf("not-yours and missing differ:\n%s\n%s", other.body, missing.body)
	}
	// Other channel's keys do not see web orders either.
	if r := e.do("GET", "/v1/"+mine, keyB2B, ""); r.status != http.StatusNotFound {
		t.Errorf("b2b key reading a web order: %d", r.status)
	}
	// Cancelling or listing shipments of another customer's order: same 404.
	if r := e.do("POST", "/v1/"+theirs+":cancel", keyC0001, `{}`, "Idempotency-Key", "c-1"); r.status != http.StatusNotFound {
		t.Errorf("cancel other's order: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/"+theirs+"/shipments", keyC0001, ""); r.status != http.StatusNotFound {
		t.Errorf("shipments of other's order: %d %s", r.status, r.body)
	}

	// Creating for another customer is PERMISSION_DENIED.
	r := e.do("POST", "/v1/orders", keyC0001, orderBody, "Idempotency-Key", "k-steal")
	if r.status != http.StatusForbidden || r.reason(t) != "ERROR_REASON_CUSTOMER_MISMATCH" {
		t.Errorf("create for another customer: %d %s", r.status, r.body)
	}
	// A channel key must name the customer.
	r = e.do("POST", "/v1/orders", keyWeb, strings.Replace(orderBody, `"customerId":"C0002",`, "", 1), "Idempotency-Key", "k-anon")
	if r.status != http.StatusBadRequest || r.reason(t) != "ERROR_REASON_CUSTOMER_REQUIRED" {
		t.Errorf("channel key without customer: %d %s", r.status, r.body)
	}

	// Lists are scoped to the key's customer.
	list := e.do("GET", "/v1/orders", keyC0001, "")
	orders, _ := list.json(t)["orders"].([]any)
	if len(orders) != 1 || orders[0].(map[string]any)["name"] != mine {
		t.Errorf("C0001 list: %s", list.body)
	}
	if r := e.do("GET", `/v1/orders?filter=customer_id%20%3D%20%22C0002%22`, keyC0001, ""); r.status != http.StatusForbidden {
		t.Errorf("bound key filtering for another customer: %d %s", r.status, r.body)
	}
	all := e.do("GET", "/v1/orders", keyWeb, "")
	if orders, _ := all.json(t)["orders"].([]any); len(orders) != 2 {
		t.Errorf("channel key list: %s", all.body)
	}
}

func TestCreateOrderBusinessErrors(t *testing.T) {
	t.Parallel()
	outOfStock, _ := apierr.New(codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_OUT_OF_STOCK, "short",
		map[string]string{"sku": "SKU-00500", "requested": "11", "available": "10"}).WithDetails(
		&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{Type: "OUT_OF_STOCK", Subject: "SKU-00500", Description: "requested 11, available 10"}}})
	for name, tc := range map[string]struct {
		err        error
		status     int
		reason     string
		field      string
		metaKey    string
		metaValue  string
		precondSub string
	}{
		"out of stock": {outOfStock.Err(), http.StatusBadRequest, "ERROR_REASON_OUT_OF_STOCK", "", "sku", "SKU-00500", "SKU-00500"},
		"credit hold": {apierr.Error(codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_CUSTOMER_ON_CREDIT_HOLD, "hold",
			map[string]string{"customer_id": "C0020"}), http.StatusBadRequest, "ERROR_REASON_CUSTOMER_ON_CREDIT_HOLD", "", "customerId", "C0020", ""},
		"unknown sku": {apierr.Error(codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_UNKNOWN_SKU, "unknown",
			map[string]string{"sku": "SKU-99999", "line_index": "1"}), http.StatusBadRequest, "ERROR_REASON_UNKNOWN_SKU", "order.lines[1].sku", "sku", "SKU-99999", ""},
		"in progress": {apierr.Error(codes.Aborted, commonv1.ErrorReason_ERROR_REASON_REQUEST_IN_PROGRESS, "busy", nil),
			http.StatusConflict, "ERROR_REASON_REQUEST_IN_PROGRESS", "", "", "", ""},
		"order down": {status.Error(codes.Unavailable, "connection refused 10.0.0.7:9005"),
			http.StatusServiceUnavailable, "ERROR_REASON_DEPENDENCY_UNAVAILABLE", "", "dependency", "order", ""},
		"internal": {status.Error(codes.InvalidArgument, ""), http.StatusBadRequest, "ERROR_REASON_VALIDATION_FAILED", "order", "", "", ""},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.orders.set(tc.err)
			body := strings.Replace(orderBody, `{"sku":"SKU-00001","quantity":2}`, `{"sku":"SKU-00500","quantity":11},{"sku":"SKU-99999","quantity":1}`, 1)
			r := e.do("POST", "/v1/orders", keyWeb, body, "Idempotency-Key", "k-"+strings.ReplaceAll(name, " ", "-"))
			if r.status != tc.status || r.reason(t) != tc.reason {
				t.Fatalf("got %d %s, want %d %s", r.status, r.body, tc.status, tc.reason)
			}
			_, ds := r.errorBody(t)
			if tc.metaKey != "" && ds[0].Metadata[tc.metaKey] != tc.metaValue {
				t.Errorf("metadata %v, want %s=%s", ds[0].Metadata, tc.metaKey, tc.metaValue)
			}
			if tc.field != "" {
				if fv := r.fieldViolations(t); fv[tc.field] == "" {
					t.Errorf("violations %v, want %s", fv, tc.field)
				}
			}
			if tc.precondSub != "" {
				found := false
				for _, d := range ds {
					for _, v := range d.Violations {
						found = found || (v.Subject == tc.precondSub && v.Type == "OUT_OF_STOCK")
					}
				}
				if !found {
					t.Errorf("no PreconditionFailure for %s: %s", tc.precondSub, r.body)
				}
			}
			if strings.Contains(string(r.body), "10.0.0.7") {
				t.Error("the error leaks the dependency's address")
			}
		})
	}
}

func TestCancelOrderAndShipments(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.createOrder(keyC0001, "C0001", "k-1")
	id := strings.TrimPrefix(name, "orders/")
	e.fulfillment.add(id, "C0001", "S-1")
	other := e.createOrder(keyWeb, "C0002", "k-2")
	e.fulfillment.add(strings.TrimPrefix(other, "orders/"), "C0002", "S-2")

	r := e.do("GET", "/v1/"+name+"/shipments", keyC0001, "")
	shipments, _ := r.json(t)["shipments"].([]any)
	if r.status != http.StatusOK || len(shipments) != 1 {
		t.Fatalf("shipments: %d %s", r.status, r.body)
	}
	sh := shipments[0].(map[string]any)
	if sh["name"] != name+"/shipments/S-1" || sh["state"] != "STATE_SHIPPED" || sh["trackingNumber"] != "TRK-S-1" {
		t.Errorf("shipment %v", sh)
	}
	all := e.do("GET", "/v1/orders/-/shipments", keyC0001, "")
	if shipments, _ := all.json(t)["shipments"].([]any); len(shipments) != 1 {
		t.Errorf("orders/- for C0001: %s", all.body)
	}
	if r := e.do("GET", "/v1/"+name+"/shipments/S-1", keyC0001, ""); r.status != http.StatusOK {
		t.Errorf("get shipment: %d %s", r.status, r.body)
	}

	r = e.do("POST", "/v1/"+name+":cancel", keyC0001, `{"reason":"changed my mind"}`, "Idempotency-Key", "cancel-1")
	if r.status != http.StatusOK || r.json(t)["state"] != "STATE_CANCELLED" || r.json(t)["cancelReason"] != "changed my mind" {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	r = e.do("POST", "/v1/"+name+":cancel", keyC0001, `{}`, "Idempotency-Key", "cancel-2")
	if r.status != http.StatusBadRequest || r.reason(t) != "ERROR_REASON_ORDER_NOT_CANCELLABLE" {
		t.Errorf("cancel twice: %d %s", r.status, r.body)
	}
}

func TestOrderServiceDependencyOutageDoesNotOpenTheOrderBreaker(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := e.createOrder(keyWeb, "C0002", "k-before")
	// The order service answers, but its ERP is down: that is not the
	// order service failing, so reads must keep working.
	e.orders.createFail.set(apierr.DependencyUnavailable("erp", "erp is unavailable; retry later"))
	for i := range 10 {
		r := e.do("POST", "/v1/orders", keyWeb, orderBody, "Idempotency-Key", "k-down-"+strings.Repeat("x", i+1))
		if r.status != http.StatusServiceUnavailable || r.reason(t) != "ERROR_REASON_DEPENDENCY_UNAVAILABLE" {
			t.Fatalf("create %d: %d %s", i, r.status, r.body)
		}
	}
	if r := e.do("GET", "/v1/"+name, keyWeb, ""); r.status != http.StatusOK {
		t.Fatalf("read after the neighbour's dependency outage: %d %s", r.status, r.body)
	}
	// A transport-level outage of the order service itself does open it.
	e.orders.createFail.set(nil)
	e.orders.set(status.Error(codes.Unavailable, "order service down"))
	var last response
	for range 10 {
		last = e.do("GET", "/v1/"+name, keyWeb, "")
	}
	if last.status != http.StatusServiceUnavailable || last.reason(t) != "ERROR_REASON_CIRCUIT_OPEN" {
		t.Errorf("after repeated outages: %d %s, want the breaker open", last.status, last.body)
	}
}

// TestCreateOrderIsOneRoundTrip counts what a REST placement costs the
// gateway's neighbours (issue #12: no extra hop per placement): exactly
// one CreateOrder to the order service, which quotes and reserves itself,
// and no pricing or availability call of the gateway's own.
func TestCreateOrderIsOneRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pricing0, inventory0 := e.pricing.calls.Load(), e.inventory.calls.Load()
	r := e.do("POST", "/v1/orders", keyWeb, orderBody, "Idempotency-Key", "one-round-trip")
	if r.status != http.StatusOK {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	e.orders.mu.Lock()
	creates := len(e.orders.creates)
	e.orders.mu.Unlock()
	if creates != 1 {
		t.Errorf("order service got %d CreateOrder calls, want 1", creates)
	}
	if p, i := e.pricing.calls.Load()-pricing0, e.inventory.calls.Load()-inventory0; p != 0 || i != 0 {
		t.Errorf("placement called pricing %d and inventory %d times, want none", p, i)
	}
}
