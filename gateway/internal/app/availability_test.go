package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/testharness/natstest"
	"github.com/transload/transload/platform/testharness/wait"
)

func (e *env) checkAvailability(t testing.TB, key string, req *storefrontv1.CheckAvailabilityRequest) (*storefrontv1.CheckAvailabilityResponse, error) {
	t.Helper()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+key)
	return e.client.CheckAvailability(ctx, req)
}

func availabilityRequest(lines ...*storefrontv1.RequestedLine) *storefrontv1.CheckAvailabilityRequest {
	return &storefrontv1.CheckAvailabilityRequest{
		ShipTo: &storefrontv1.ShipToLocation{RegionCode: "DE"}, CurrencyCode: "EUR", Lines: lines,
		IncludeWarehouseBreakdown: true,
	}
}

func line(sku string, qty int64) *storefrontv1.RequestedLine {
	return &storefrontv1.RequestedLine{Sku: sku, Quantity: qty}
}

func TestAvailabilityLivePromisePerLine(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	resp, err := e.checkAvailability(t, keyC0001, availabilityRequest(
		line("SKU-00001", 5), line("SKU-00500", 12), line("SKU-00002", 50), line("NOPE-1", 1), line("bad sku!", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetStale() || resp.GetConfidence() != storefrontv1.Confidence_CONFIDENCE_LIVE || resp.GetCatalogVersion() != "7" {
		t.Errorf("stale %v confidence %v catalog %q", resp.GetStale(), resp.GetConfidence(), resp.GetCatalogVersion())
	}
	ls := resp.GetLines()
	if len(ls) != 5 {
		t.Fatalf("%d lines", len(ls))
	}
	// Contract price for the bound customer (fake: 10 % off 1250).
	if l := ls[0]; l.GetUnitPrice().GetAmountMinor() != 1125 || l.GetExtendedPrice().GetAmountMinor() != 5625 ||
		l.GetPromise().GetStatus() != storefrontv1.DeliveryPromise_STATUS_IN_STOCK ||
		l.GetPriceExplanation().GetRuleKind() != storefrontv1.PriceExplanation_RULE_KIND_CUSTOMER_CONTRACT ||
		len(l.GetPromise().GetSourceWarehouses()) != 1 || l.GetAvailableQuantity() != 600 || len(l.GetWarehouses()) != 3 {
		t.Errorf("line 0: %v", l)
	}
	if l := ls[1]; l.GetPromise().GetStatus() != storefrontv1.DeliveryPromise_STATUS_PARTIAL ||
		l.GetPromise().GetBackorderQuantity() != 2 || len(l.GetPromise().GetSourceWarehouses()) != 3 {
		t.Errorf("line 1 (12 of 10): %v", l)
	}
	if l := ls[2]; l.GetPromise().GetStatus() != storefrontv1.DeliveryPromise_STATUS_IN_STOCK {
		t.Errorf("line 2: %v", l)
	}
	for _, i := range []int{3, 4} {
		if l := ls[i]; l.GetIssue() != storefrontv1.LineIssue_LINE_ISSUE_UNKNOWN_SKU || l.GetUnitPrice() != nil ||
			l.GetPromise().GetStatus() != storefrontv1.DeliveryPromise_STATUS_UNAVAILABLE {
			t.Errorf("line %d: %v", i, l)
		}
	}
	if ls[0].GetPromise().GetShipDate().GetDay() != 26 {
		t.Errorf("ship date %v, want today (before the cutoff)", ls[0].GetPromise().GetShipDate())
	}
}

func TestAvailabilityPricesFromCacheWhileFreshStockAlwaysLive(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "AVAILABILITY_FRESH_FOR=2s")
	req := availabilityRequest(line("SKU-00001", 5))
	if resp, err := e.checkAvailability(t, keyWeb, req); err != nil || resp.GetConfidence() != storefrontv1.Confidence_CONFIDENCE_LIVE {
		t.Fatalf("first: %v %v", resp.GetConfidence(), err)
	}
	pc, ic := e.pricing.calls.Load(), e.inventory.calls.Load()
	// Stock changes (a new stock sequence) are visible at once: an order
	// placed just before must show in the next availability answer.
	e.inventory.setAvailable("SKU-00001", "WH-HAM", 0)
	e.clock.Advance(time.Second)
	resp, err := e.checkAvailability(t, keyWeb, req)
	if err != nil || resp.GetConfidence() != storefrontv1.Confidence_CONFIDENCE_CACHED || resp.GetStale() {
		t.Fatalf("second: %v stale=%v %v", resp.GetConfidence(), resp.GetStale(), err)
	}
	if e.pricing.calls.Load() != pc {
		t.Error("fresh cached prices still called pricing")
	}
	if e.inventory.calls.Load() != ic+1 {
		t.Errorf("inventory calls %d → %d, want one live call", ic, e.inventory.calls.Load())
	}
	if l := resp.GetLines()[0]; l.GetAvailableQuantity() != 300 || l.GetUnitPrice().GetAmountMinor() != 1250 {
		t.Errorf("line %v: want live stock 300 and cached price 1250", l)
	}
	// A different customer is a different price key: live pricing.
	if resp, err := e.checkAvailability(t, keyC0001, req); err != nil || resp.GetLines()[0].GetUnitPrice().GetAmountMinor() != 1125 {
		t.Fatalf("customer price from cache of the anonymous price: %v %v", resp.GetLines()[0], err)
	}
	// Once the versions are older than FreshFor pricing is asked again.
	e.clock.Advance(2 * time.Second)
	resp, err = e.checkAvailability(t, keyWeb, req)
	if err != nil || resp.GetConfidence() != storefrontv1.Confidence_CONFIDENCE_LIVE || e.pricing.calls.Load() != pc+2 {
		t.Fatalf("after expiry: %v pricing calls %d %v", resp.GetConfidence(), e.pricing.calls.Load()-pc, err)
	}
}

func TestAvailabilityStaleSnapshotWhenInventoryIsDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "AVAILABILITY_FRESH_FOR=1s")
	req := availabilityRequest(line("SKU-00001", 5), line("SKU-00500", 3))
	good, err := e.checkAvailability(t, keyWeb, req)
	if err != nil || good.GetStale() {
		t.Fatalf("good answer: %v %v", good, err)
	}
	goodTime := good.GetAsOfTime().AsTime()

	e.inventory.set(status.Error(codes.Unavailable, "inventory down"))
	e.clock.Advance(time.Minute)
	// Enough calls to open the inventory breaker: the fallback must hold
	// both for UNAVAILABLE answers and for the open circuit.
	for i := range 8 {
		resp, err := e.checkAvailability(t, keyWeb, req)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if !resp.GetStale() || resp.GetConfidence() != storefrontv1.Confidence_CONFIDENCE_LAST_PUBLISHED_SNAPSHOT {
			t.Fatalf("call %d: stale %v confidence %v", i, resp.GetStale(), resp.GetConfidence())
		}
		if d := resp.GetDegradedDependencies(); len(d) != 1 || d[0] != "inventory" {
			t.Errorf("degraded %v", d)
		}
		if !resp.GetAsOfTime().AsTime().Equal(goodTime) {
			t.Errorf("as_of_time %v, want the snapshot time %v", resp.GetAsOfTime().AsTime(), goodTime)
		}
		if l := resp.GetLines()[0]; l.GetAvailableQuantity() != 600 || l.GetUnitPrice().GetAmountMinor() != 1250 {
			t.Errorf("line from snapshot: %v", l)
		}
		if l := resp.GetLines()[1]; l.GetAvailableQuantity() != 10 || l.GetPromise().GetStatus() != storefrontv1.DeliveryPromise_STATUS_IN_STOCK {
			t.Errorf("SKU-00500 from snapshot: %v", l)
		}
	}

	// A SKU never seen before has no snapshot: the call fails.
	_, err = e.checkAvailability(t, keyWeb, availabilityRequest(line("SKU-00002", 1)))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("no snapshot: %v", err)
	}
	r := e.do("POST", "/v1/availability:check", keyWeb, `{"currencyCode":"EUR","shipTo":{"regionCode":"DE"},"lines":[{"sku":"SKU-00002","quantity":1}]}`)
	if r.status != http.StatusServiceUnavailable || r.reason(t) != "ERROR_REASON_NO_SNAPSHOT_AVAILABLE" || r.header.Get("Retry-After") == "" {
		t.Errorf("REST no snapshot: %d %v %s", r.status, r.header, r.body)
	}
}

func TestAvailabilityStaleSnapshotWhenPricingIsDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "AVAILABILITY_FRESH_FOR=0s")
	if _, err := e.checkAvailability(t, keyWeb, availabilityRequest(line("SKU-00001", 5))); err != nil {
		t.Fatal(err)
	}
	e.pricing.set(status.Error(codes.Unavailable, "pricing down"))
	// Another quantity of the same SKU: the last unit price, extended.
	resp, err := e.checkAvailability(t, keyWeb, availabilityRequest(line("SKU-00001", 7)))
	if err != nil {
		t.Fatal(err)
	}
	if !resp.GetStale() || resp.GetDegradedDependencies()[0] != "pricing" {
		t.Errorf("stale %v degraded %v", resp.GetStale(), resp.GetDegradedDependencies())
	}
	if l := resp.GetLines()[0]; l.GetUnitPrice().GetAmountMinor() != 1250 || l.GetExtendedPrice().GetAmountMinor() != 8750 {
		t.Errorf("line %v", l)
	}
	// QuotePrices has no fallback.
	r := e.do("POST", "/v1/prices:quote", keyWeb, `{"currencyCode":"EUR","lines":[{"sku":"SKU-00001","quantity":1}]}`)
	if r.status != http.StatusServiceUnavailable || r.reason(t) != "ERROR_REASON_DEPENDENCY_UNAVAILABLE" {
		t.Errorf("quote while pricing is down: %d %s", r.status, r.body)
	}
}

func TestQuotePricesAndProducts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("POST", "/v1/prices:quote", keyC0001, `{"currencyCode":"EUR","lines":[{"sku":"SKU-00001","quantity":2},{"sku":"NOPE","quantity":1}]}`)
	if r.status != http.StatusOK {
		t.Fatalf("quote: %d %s", r.status, r.body)
	}
	q := r.json(t)
	if q["subtotal"].(map[string]any)["amountMinor"] != "2250" || q["savings"].(map[string]any)["amountMinor"] != "250" {
		t.Errorf("totals: %s", r.body)
	}
	if ls := q["lines"].([]any); ls[1].(map[string]any)["issue"] != "LINE_ISSUE_UNKNOWN_SKU" {
		t.Errorf("lines: %s", r.body)
	}

	p := e.do("GET", "/v1/products/SKU-00001", keyWeb, "")
	if p.status != http.StatusOK {
		t.Fatalf("product: %d %s", p.status, p.body)
	}
	pj := p.json(t)
	if pj["displayName"] != "Hex bolt M8x40" || pj["orderable"] != true || pj["listPrice"].(map[string]any)["amountMinor"] != "1250" {
		t.Errorf("product: %s", p.body)
	}
	// Outside the channel's assortment: NOT_FOUND like a missing product.
	if r := e.do("GET", "/v1/products/SKU-B2B01", keyWeb, ""); r.status != http.StatusNotFound {
		t.Errorf("b2b-only product on web: %d", r.status)
	}
	if r := e.do("GET", "/v1/products/SKU-B2B01", keyB2B, ""); r.status != http.StatusOK {
		t.Errorf("b2b product on b2b: %d", r.status)
	}
	// Discontinued products stay readable but are not orderable.
	if r := e.do("GET", "/v1/products/SKU-00003", keyWeb, ""); r.status != http.StatusOK || r.json(t)["orderable"] == true {
		t.Errorf("discontinued: %d %s", r.status, r.body)
	}

	list := e.do("GET", "/v1/products?pageSize=2", keyWeb, "")
	lj := list.json(t)
	if ps := lj["products"].([]any); len(ps) != 2 || lj["totalSize"] != float64(4) || lj["nextPageToken"] == nil {
		t.Fatalf("page 1: %s", list.body)
	}
	next := e.do("GET", "/v1/products?pageSize=2&pageToken="+lj["nextPageToken"].(string), keyWeb, "")
	if ps := next.json(t)["products"].([]any); len(ps) != 2 || next.json(t)["nextPageToken"] != nil {
		t.Errorf("page 2: %s", next.body)
	}
	// The token belongs to its query.
	if r := e.do("GET", "/v1/products?query=nut&pageToken="+lj["nextPageToken"].(string), keyWeb, ""); r.status != http.StatusBadRequest ||
		r.reason(t) != "ERROR_REASON_INVALID_PAGE_TOKEN" {
		t.Errorf("token of another query: %d %s", r.status, r.body)
	}
	search := e.do("GET", "/v1/products?query=nut", keyWeb, "")
	if ps := search.json(t)["products"].([]any); len(ps) != 1 || ps[0].(map[string]any)["sku"] != "SKU-00002" {
		t.Errorf("search: %s", search.body)
	}
}

func TestAvailabilityPriceCacheDroppedOnCatalogEvents(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	e := newEnv(t, "AVAILABILITY_FRESH_FOR=1h", "NATS_URL="+ns.ClientURL())
	req := availabilityRequest(line("SKU-00001", 5))
	if resp, err := e.checkAvailability(t, keyWeb, req); err != nil || resp.GetConfidence() != storefrontv1.Confidence_CONFIDENCE_LIVE {
		t.Fatalf("first: %v %v", resp.GetConfidence(), err)
	}
	if resp, err := e.checkAvailability(t, keyWeb, req); err != nil || resp.GetConfidence() != storefrontv1.Confidence_CONFIDENCE_CACHED {
		t.Fatalf("second: %v %v", resp.GetConfidence(), err)
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, subject := range []string{eventstreams.PricesChanged, eventstreams.CatalogPublished} {
		if err := nc.Publish(subject, nil); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		// Delivery is asynchronous: poll until a live quote shows up.
		wait.Eventually(t, 10*time.Second, subject+" drops the cached prices", func() error {
			resp, err := e.checkAvailability(t, keyWeb, req)
			if err != nil {
				return err
			}
			return wait.Check(resp.GetConfidence() == storefrontv1.Confidence_CONFIDENCE_LIVE, "confidence %v", resp.GetConfidence())
		})
		// And the versions seen by that live quote are trusted again.
		if resp, err := e.checkAvailability(t, keyWeb, req); err != nil || resp.GetConfidence() != storefrontv1.Confidence_CONFIDENCE_CACHED {
			t.Fatalf("%s: after the live quote: %v %v", subject, resp.GetConfidence(), err)
		}
	}
}

func TestGatewayServesWhileNATSIsDown(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1: the listener keeps retrying in the
	// background and the gateway is ready and serves anyway.
	e := newEnv(t, "NATS_URL=nats://127.0.0.1:1")
	if _, err := e.checkAvailability(t, keyWeb, availabilityRequest(line("SKU-00001", 1))); err != nil {
		t.Fatal(err)
	}
}

// TestAvailabilityFallbackOnlyWhenInventoryCannotAnswer pins which inventory
// errors turn into a snapshot answer (the dependency could not answer) and
// which reach the storefront.
func TestAvailabilityFallbackOnlyWhenInventoryCannotAnswer(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		err      error
		snapshot bool
		code     codes.Code
	}{
		"unavailable":        {status.Error(codes.Unavailable, "down"), true, codes.OK},
		"deadline exceeded":  {status.Error(codes.DeadlineExceeded, "slow"), true, codes.OK},
		"resource exhausted": {status.Error(codes.ResourceExhausted, "busy"), true, codes.OK},
		"internal":           {status.Error(codes.Internal, "bug"), true, codes.OK},
		"unknown":            {status.Error(codes.Unknown, "bug"), true, codes.OK},
		"permission denied":  {status.Error(codes.PermissionDenied, "no"), false, codes.Internal},
		"invalid argument":   {status.Error(codes.InvalidArgument, "bad sku"), false, codes.InvalidArgument},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			req := availabilityRequest(line("SKU-00001", 5))
			if _, err := e.checkAvailability(t, keyWeb, req); err != nil {
				t.Fatal(err)
			}
			e.inventory.set(tc.err)
			resp, err := e.checkAvailability(t, keyWeb, req)
			if status.Code(err) != tc.code {
				t.Fatalf("code %v, want %v (%v)", status.Code(err), tc.code, err)
			}
			if got := resp.GetConfidence() == storefrontv1.Confidence_CONFIDENCE_LAST_PUBLISHED_SNAPSHOT; got != tc.snapshot {
				t.Errorf("snapshot answer %v, want %v: %v", got, tc.snapshot, resp)
			}
		})
	}
}
