package storefront

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/transload/transload/deploy/local/launcher"
	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	"github.com/transload/transload/platform/testharness/wait"
)

// The coupon test's own promotion, customers and SKU: no other test
// orders them, so the counts below hold in any test order.
const (
	couponPromotion = "promotions/E2E-COUPON5"
	couponCode      = "E2ECOUPON5"
	couponLimit     = 5
	couponSKU       = "SKU-00377"
	couponCustomer  = "C0017"
	// couponRejected is the customer whose coupon order the ERP rejects.
	couponRejected = "C0018"
	// couponKey is the b2b channel's key: C0017 and C0018 order in b2b
	// only (no other test orders for them).
	couponKey = launcher.DemoB2BAPIKey
)

// TestCouponLimitAtOrderPlacement (issue #11): a coupon limited to 5 uses
// in total, entered on 20 concurrent REST orders. Contract: an order is
// placed only with the discount it was quoted with, so exactly 5 orders
// succeed (at the price the storefront quote with the code showed, the
// promotion shown on the order) and 15 are refused
// with 400 PROMOTION_LIMIT_REACHED; catalog-pricing counts exactly 5
// redemptions. Cancelling one of the 5 and an order the ERP rejects give
// their use back: the count returns to 4, and one more order with the code
// is placed.
func TestCouponLimitAtOrderPlacement(t *testing.T) {
	pc := couponPricingClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := pc.UpdatePromotion(ctx, &catalogv1.UpdatePromotionRequest{RequestId: "e2e-coupon5", AllowMissing: true,
		Promotion: &catalogv1.Promotion{Name: couponPromotion, DisplayName: "E2E 10 % off, 5 uses", Trigger: catalogv1.Promotion_TRIGGER_CODE,
			Code: couponCode, Skus: []string{couponSKU}, Discount: &catalogv1.Promotion_DiscountBps{DiscountBps: 1000},
			TotalLimit: couponLimit, StartTime: timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}}); err != nil {
		t.Fatalf("create the coupon: %v", err)
	}
	redemptions := func() int64 {
		p, err := pc.GetPromotion(ctx, &catalogv1.GetPromotionRequest{Name: couponPromotion})
		if err != nil {
			t.Fatalf("GetPromotion: %v", err)
		}
		return p.GetRedemptionCount()
	}
	if n := redemptions(); n != 0 {
		t.Fatalf("a fresh coupon has %d redemptions", n)
	}
	quote := func(codes ...string) pricedLine {
		return pricedLines(t, call(t, http.MethodPost, "/v1/prices:quote", couponKey, map[string]any{
			"customerId": couponCustomer, "currencyCode": "EUR", "lines": linesJSON([]line{{couponSKU, 1}}), "promotionCodes": codes,
		}), "quote")[couponSKU]
	}
	list, coded := quote().unit, quote(couponCode)
	if coded.kind != "RULE_KIND_PROMOTION" || coded.unit >= list {
		t.Fatalf("quote with %s = %+v; want a promotion price below %d", couponCode, coded, list)
	}

	body := func(customer string) map[string]any {
		b := orderBody(customer, line{couponSKU, 1})
		b["promotionCodes"] = []string{"e2ecoupon5"}
		return b
	}
	var (
		mu      sync.Mutex
		placed  []response
		refused int
		wg      sync.WaitGroup
	)
	for i := range 20 {
		wg.Go(func() {
			r := placeOrder(t, couponKey, fmt.Sprintf("e2e-coupon-%d", i), body(couponCustomer))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case r.Status == http.StatusOK:
				placed = append(placed, r)
			case r.Status == http.StatusBadRequest && r.reason() == "ERROR_REASON_PROMOTION_LIMIT_REACHED":
				refused++
			default:
				t.Errorf("order %d: %d %s", i, r.Status, r.Raw)
			}
		})
	}
	wg.Wait()
	if len(placed) != couponLimit || refused != 20-couponLimit {
		t.Fatalf("placed %d, refused %d; want %d and %d", len(placed), refused, couponLimit, 20-couponLimit)
	}
	for _, r := range placed {
		if got := pricedLines(t, r, "placed order")[couponSKU]; got.unit != coded.unit || got.kind != "RULE_KIND_PROMOTION" {
			t.Errorf("placed order line = %+v; want %d, the quoted promotion price (list %d)", got, coded.unit, list)
		}
		g := call(t, http.MethodGet, "/v1/"+r.str("name"), couponKey, nil)
		if applied, _ := g.Body["appliedPromotions"].([]any); len(applied) != 1 || applied[0] != couponPromotion {
			t.Errorf("GetOrder appliedPromotions = %v; want [%s]", g.Body["appliedPromotions"], couponPromotion)
		}
	}
	if n := redemptions(); n != couponLimit {
		t.Fatalf("redemptions after the burst = %d, want %d", n, couponLimit)
	}

	// A cancellation gives its use back...
	name := placed[0].str("name")
	if r := call(t, http.MethodPost, "/v1/"+name+":cancel", couponKey, map[string]any{"reason": "e2e coupon"},
		"Idempotency-Key: e2e-coupon-cancel"); r.Status != http.StatusOK {
		t.Fatalf("cancel %s: %d %s", name, r.Status, r.Raw)
	}
	wait.Eventually(t, 30*time.Second, "the cancelled order's use given back", func() error {
		n := redemptions()
		return wait.Check(n == couponLimit-1, "%d redemptions", n)
	})
	// ...which an order the ERP rejects takes and gives back too.
	control(t, launcher.ERPSim, "/control/faults", map[string]any{
		"rejectCustomers": []string{couponRejected}, "rejectReason": "SALES_ORDER_REJECTION_REASON_CREDIT_HOLD",
	})
	t.Cleanup(func() { control(t, launcher.ERPSim, "/control/faults", map[string]any{"rejectCustomers": []string{}}) })
	rej := placeOrder(t, couponKey, "e2e-coupon-rejected", body(couponRejected))
	if rej.Status != http.StatusOK {
		t.Fatalf("order to be rejected: %d %s", rej.Status, rej.Raw)
	}
	wait.Eventually(t, 30*time.Second, "the rejected order's use given back", func() error {
		g := call(t, http.MethodGet, "/v1/"+rej.str("name"), couponKey, nil)
		n := redemptions()
		return wait.Check(g.str("state") == "STATE_REJECTED" && n == couponLimit-1, "state %s, %d redemptions", g.str("state"), n)
	})
	control(t, launcher.ERPSim, "/control/faults", map[string]any{"rejectCustomers": []string{}})
	again := placeOrder(t, couponKey, "e2e-coupon-again", body(couponCustomer))
	if again.Status != http.StatusOK || !slices.Contains(anyStrings(again.Body["appliedPromotions"]), couponPromotion) {
		t.Fatalf("order with the given-back use: %d %s", again.Status, again.Raw)
	}
	if n := redemptions(); n != couponLimit {
		t.Errorf("redemptions at the end = %d, want %d", n, couponLimit)
	}
}

func anyStrings(v any) []string {
	vs, _ := v.([]any)
	out := make([]string, 0, len(vs))
	for _, s := range vs {
		out = append(out, fmt.Sprint(s))
	}
	return out
}

// couponPricingClient dials catalog-pricing's gRPC API, where promotions
// are administered.
func couponPricingClient(t *testing.T) catalogv1.PricingServiceClient {
	t.Helper()
	conn, err := mesh.Dial(launcher.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return catalogv1.NewPricingServiceClient(conn)
}
