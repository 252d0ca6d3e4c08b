package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// testReservationLimits is the concurrent model test of promotion usage
// limits: 30 reservations race for a coupon limited to 1 per customer and
// 8 in total, from 12 customers (some customers several times). The model
// says exactly min(8, customers) succeed, at most one per customer, and
// every refusal names the limit; releasing gives a redemption back,
// redeeming keeps it, and quotes see the coupon exhausted.
func testReservationLimits(t *testing.T, s Stores) {
	ctx := t.Context()
	pr, now := pricedCatalog(t, s)
	if _, err := pricing.Promotions.Upsert(ctx, pr, pricing.UpsertRuleRequest[pricing.Promotion]{RequestID: "coupon", AllowMissing: true,
		Rule: pricing.Promotion{ID: "WELCOME", DisplayName: "Welcome", Code: "WELCOME10", Kind: pricing.PromoPercent, DiscountBps: 1000,
			Window: pricing.Window{Start: now.Add(-1)}, PerCustomerLimit: 1, TotalLimit: 8}}); err != nil {
		t.Fatal(err)
	}
	const attempts, customers = 30, 12
	type outcome struct {
		customer string
		err      error
	}
	results := make([]outcome, attempts)
	var wg sync.WaitGroup
	for i := range attempts {
		wg.Go(func() {
			c := fmt.Sprintf("C%02d", i%customers)
			_, err := pr.ReservePromotions(ctx, fmt.Sprintf("order-%d", i), c, []string{"WELCOME"})
			results[i] = outcome{c, err}
		})
	}
	wg.Wait()
	perCustomer := map[string]int{}
	ok := 0
	for i, r := range results {
		var limit *pricing.LimitReachedError
		switch {
		case r.err == nil:
			ok++
			perCustomer[r.customer]++
		case !errors.As(r.err, &limit):
			t.Fatalf("reservation %d: %v", i, r.err)
		}
	}
	if ok != min(8, customers) {
		t.Fatalf("%d reservations succeeded; the limits allow exactly %d", ok, min(8, customers))
	}
	for c, n := range perCustomer {
		if n > 1 {
			t.Fatalf("customer %s redeemed %d times; the limit is 1", c, n)
		}
	}
	// The same reservation id again is idempotent; another payload is not.
	var first int
	for i, r := range results {
		if r.err == nil {
			first = i
			break
		}
	}
	id, cust := fmt.Sprintf("order-%d", first), results[first].customer
	if r, err := pr.ReservePromotions(ctx, id, cust, []string{"WELCOME"}); err != nil || r.State != pricing.Reserved {
		t.Fatalf("replayed reservation = %+v, %v", r, err)
	}
	if _, err := pr.ReservePromotions(ctx, id, "C99", []string{"WELCOME"}); !errors.Is(err, pricing.ErrIdempotencyKeyReused) {
		t.Fatalf("reservation id reused for another customer: %v", err)
	}
	// The coupon is exhausted for everyone now: quotes say so.
	if q := quoteP1(t, pr, "C99", "WELCOME10"); len(q.CodeIssues) != 1 || q.CodeIssues[0].Reason != pricing.CodeExhausted || q.Lines[0].UnitMinor != 1299 {
		t.Fatalf("quote with an exhausted code = %+v, issues %v", q.Lines[0], q.CodeIssues)
	}
	// Redeeming keeps the use; releasing (cancellation) gives it back.
	if r, err := pr.RedeemReservation(ctx, id); err != nil || r.State != pricing.Redeemed {
		t.Fatalf("redeem = %+v, %v", r, err)
	}
	if r, err := pr.ReleaseReservation(ctx, id); err != nil || r.State != pricing.Released {
		t.Fatalf("release = %+v, %v", r, err)
	}
	if _, err := pr.RedeemReservation(ctx, id); !errors.Is(err, pricing.ErrReservationReleased) {
		t.Fatalf("redeem after release: %v", err)
	}
	if _, err := pr.ReservePromotions(ctx, "order-late", "C99", []string{"WELCOME"}); err != nil {
		t.Fatalf("reservation after a release: %v", err)
	}
	if _, err := pr.ReservePromotions(ctx, "order-over", "C98", []string{"WELCOME"}); err == nil {
		t.Fatal("a reservation beyond the total limit succeeded")
	}
	if _, err := pr.ReservePromotions(ctx, "order-none", "C97", []string{"NOPE"}); !errors.Is(err, pricing.ErrPromotionNotFound) {
		t.Fatalf("unknown promotion: %v", err)
	}
}
