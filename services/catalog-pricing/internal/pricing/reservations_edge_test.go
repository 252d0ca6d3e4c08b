package pricing_test

import (
	"errors"
	"testing"
	"time"

	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

func limitedPromotion(t *testing.T, pr *pricing.Service, id string) {
	t.Helper()
	if _, err := pricing.Promotions.Upsert(t.Context(), pr, pricing.UpsertRuleRequest[pricing.Promotion]{RequestID: "p-" + id, AllowMissing: true,
		Rule: pricing.Promotion{ID: id, DisplayName: id, Code: id + "10", Kind: pricing.PromoPercent, DiscountBps: 1000,
			Window: pricing.Window{Start: time.Now().Add(-time.Hour)}, TotalLimit: 1}}); err != nil {
		t.Fatal(err)
	}
}

// TestReleaseBeforeReserve: a release that overtakes its reserve (the
// order gave up on a reserve still in flight) is recorded, the late
// reserve is refused and holds nothing, so the single use stays free for
// another order; releasing again and redeeming behave as for a release.
func TestReleaseBeforeReserve(t *testing.T) {
	ctx := t.Context()
	st, _ := seeded(t)
	pr := pricing.NewService(st.Pricing(), st.Catalog())
	limitedPromotion(t, pr, "ONCE")
	if r, err := pr.ReleaseReservation(ctx, "order-early"); err != nil || r.State != pricing.Released {
		t.Fatalf("release of an unknown id = %+v, %v", r, err)
	}
	if _, err := pr.ReservePromotions(ctx, "order-early", "C1", []string{"ONCE"}); !errors.Is(err, pricing.ErrReservationReleased) {
		t.Fatalf("reserve after its release: err = %v, want ErrReservationReleased", err)
	}
	if r, err := pr.ReleaseReservation(ctx, "order-early"); err != nil || r.State != pricing.Released {
		t.Fatalf("second release = %+v, %v", r, err)
	}
	if _, err := pr.RedeemReservation(ctx, "order-early"); !errors.Is(err, pricing.ErrReservationReleased) {
		t.Fatalf("redeem after release: err = %v", err)
	}
	// The limit of 1 is untouched: another order gets the use.
	if _, err := pr.ReservePromotions(ctx, "order-other", "C2", []string{"ONCE"}); err != nil {
		t.Fatalf("the late reserve held the use: %v", err)
	}
}

// TestReserveWithdrawnPromotion: a promotion deleted between the quote and
// the reservation is a PromotionWithdrawnError naming it (still
// ErrPromotionNotFound), not an internal error, and reserves nothing.
func TestReserveWithdrawnPromotion(t *testing.T) {
	ctx := t.Context()
	st, _ := seeded(t)
	pr := pricing.NewService(st.Pricing(), st.Catalog())
	limitedPromotion(t, pr, "KEPT")
	_, err := pr.ReservePromotions(ctx, "order-1", "C1", []string{"KEPT", "GONE"})
	var withdrawn *pricing.PromotionWithdrawnError
	if !errors.As(err, &withdrawn) || withdrawn.Promotion != "GONE" || !errors.Is(err, pricing.ErrPromotionNotFound) {
		t.Fatalf("reserve of a withdrawn promotion: err = %v", err)
	}
	if _, err := pr.ReservePromotions(ctx, "order-2", "C2", []string{"KEPT"}); err != nil {
		t.Fatalf("the refused reservation held KEPT's single use: %v", err)
	}
}
