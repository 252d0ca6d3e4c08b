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

// testReReservationLimits is the concurrent model test of re-reservation:
// 20 orders each reserve promotion X and then, as a retried placement
// whose new quote applies Y instead, re-reserve their id for Y, while 10
// more orders reserve X; X and Y allow 5 uses each, 2 per customer. Every
// success and refusal is recorded, and at the end the live uses of each
// promotion are exactly the orders whose last successful reserve named it,
// within both limits: giving back X and taking Y is one step, so no
// interleaving exceeds a limit or leaks a use.
func testReReservationLimits(t *testing.T, s Stores) {
	ctx := t.Context()
	pr, now := pricedCatalog(t, s)
	for _, id := range []string{"X", "Y"} {
		if _, err := pricing.Promotions.Upsert(ctx, pr, pricing.UpsertRuleRequest[pricing.Promotion]{RequestID: "promo-" + id, AllowMissing: true,
			Rule: pricing.Promotion{ID: id, DisplayName: id, Code: id + "CODE", Kind: pricing.PromoPercent, DiscountBps: 500,
				Window: pricing.Window{Start: now.Add(-1)}, PerCustomerLimit: 2, TotalLimit: 5}}); err != nil {
			t.Fatal(err)
		}
	}
	const movers, newcomers, customers = 20, 10, 7
	var (
		mu    sync.Mutex
		final = map[string][]string{} // order id → the set it holds
		cust  = map[string]string{}
	)
	reserve := func(id, c string, set ...string) {
		_, err := pr.ReservePromotions(ctx, id, c, set)
		var limit *pricing.LimitReachedError
		switch {
		case err == nil:
			mu.Lock()
			final[id], cust[id] = set, c
			mu.Unlock()
		case !errors.As(err, &limit):
			t.Errorf("reserve %s %v: %v", id, set, err)
		}
	}
	var wg sync.WaitGroup
	for i := range movers {
		wg.Go(func() {
			id, c := fmt.Sprintf("mover-%d", i), fmt.Sprintf("C%02d", i%customers)
			reserve(id, c, "X")
			reserve(id, c, "Y")
		})
	}
	for i := range newcomers {
		wg.Go(func() { reserve(fmt.Sprintf("new-%d", i), fmt.Sprintf("C%02d", (i+3)%customers), "X") })
	}
	wg.Wait()
	want := map[string]int64{}
	perCustomer := map[[2]string]int64{}
	for id, set := range final {
		for _, p := range set {
			want[p]++
			perCustomer[[2]string{cust[id], p}]++
		}
	}
	got, err := s.Pricing.Usage(ctx, "nobody")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"X", "Y"} {
		if got[p].Total != want[p] || want[p] > 5 {
			t.Errorf("promotion %s: %d live uses, %d orders hold it (limit 5)", p, got[p].Total, want[p])
		}
	}
	if want["Y"] != 5 {
		t.Errorf("%d orders hold Y; 20 tried and the limit is 5, so exactly 5 must", want["Y"])
	}
	for k, n := range perCustomer {
		if n > 2 {
			t.Errorf("customer %s holds %s %d times; the limit is 2", k[0], k[1], n)
		}
	}
}
