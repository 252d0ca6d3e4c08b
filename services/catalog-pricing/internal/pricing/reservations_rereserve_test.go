package pricing_test

import (
	"errors"
	"testing"

	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// TestReReserveAnotherSet: a retried placement whose new quote applies
// other promotions re-reserves under the same id: the old uses are given
// back and the new ones held in one step, its own old use does not count
// against the new set, and a new set that a limit refuses leaves the old
// reservation as it was. A redeemed or released reservation is not
// re-reserved.
func TestReReserveAnotherSet(t *testing.T) {
	ctx := t.Context()
	st, _ := seeded(t)
	pr := pricing.NewService(st.Pricing(), st.Catalog())
	limitedPromotion(t, pr, "A")
	limitedPromotion(t, pr, "B")
	limitedPromotion(t, pr, "C")
	if _, err := pr.ReservePromotions(ctx, "order-1", "C1", []string{"A"}); err != nil {
		t.Fatal(err)
	}
	r, err := pr.ReservePromotions(ctx, "order-1", "C1", []string{"A", "B"}) // A's single use is its own
	if err != nil || r.State != pricing.Reserved || len(r.Promotions) != 2 {
		t.Fatalf("re-reserve {A,B} = %+v, %v", r, err)
	}
	if _, err := pr.ReservePromotions(ctx, "order-2", "C2", []string{"B"}); err == nil {
		t.Fatal("B's single use was reserved twice")
	}
	if r, err := pr.ReservePromotions(ctx, "order-1", "C1", []string{"C"}); err != nil || len(r.Promotions) != 1 || r.Promotions[0] != "C" {
		t.Fatalf("re-reserve {C} = %+v, %v", r, err)
	}
	// A and B are free again: another order takes B; order-1 cannot move
	// to B now and keeps C.
	if _, err := pr.ReservePromotions(ctx, "order-2", "C2", []string{"B"}); err != nil {
		t.Fatalf("B after order-1 gave it back: %v", err)
	}
	var limit *pricing.LimitReachedError
	if _, err := pr.ReservePromotions(ctx, "order-1", "C1", []string{"B"}); !errors.As(err, &limit) {
		t.Fatalf("re-reserve onto an exhausted B: %v, want *LimitReachedError", err)
	}
	if r, err := pr.ReservePromotions(ctx, "order-1", "C1", []string{"C"}); err != nil || r.Promotions[0] != "C" || r.State != pricing.Reserved {
		t.Fatalf("order-1 after the refused re-reserve = %+v, %v; want C still reserved", r, err)
	}
	if _, err := pr.ReservePromotions(ctx, "order-3", "C3", []string{"C"}); err == nil {
		t.Fatal("C's single use was reserved twice after a refused re-reserve")
	}
	// Redeemed: the order was placed; another set is another request.
	if _, err := pr.RedeemReservation(ctx, "order-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := pr.ReservePromotions(ctx, "order-2", "C2", []string{"A"}); !errors.Is(err, pricing.ErrIdempotencyKeyReused) {
		t.Fatalf("re-reserve of a redeemed reservation: %v, want ErrIdempotencyKeyReused", err)
	}
	// Released: the order gave up on it; no reserve under its id holds uses.
	if _, err := pr.ReleaseReservation(ctx, "order-1"); err != nil {
		t.Fatal(err)
	}
	for _, set := range [][]string{{"C"}, {"A"}} {
		if _, err := pr.ReservePromotions(ctx, "order-1", "C1", set); !errors.Is(err, pricing.ErrReservationReleased) {
			t.Errorf("reserve %v under a released id: %v, want ErrReservationReleased", set, err)
		}
	}
	if _, err := pr.ReservePromotions(ctx, "order-4", "C4", []string{"C"}); err != nil {
		t.Fatalf("C after order-1's release: %v", err)
	}
}
