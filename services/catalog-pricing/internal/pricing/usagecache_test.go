package pricing_test

import (
	"testing"
	"time"

	"github.com/transload/transload/platform/cache"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// TestLimitedPromotionQuotesBypassTheCache: a quote entering a code with
// a usage limit is computed every time (a redemption changes it without a
// new price version), so the second quote after the last use is reported
// exhausted; quotes without that code are still served from the cache.
func TestLimitedPromotionQuotesBypassTheCache(t *testing.T) {
	ctx := t.Context()
	st, _ := seeded(t)
	quotes, err := cache.NewCache(cache.NewMemoryStore(0, 0), "price-quote", cache.JSONCodec[pricing.Quote]())
	if err != nil {
		t.Fatal(err)
	}
	pr := pricing.NewService(st.Pricing(), st.Catalog(), pricing.WithCache(quotes))
	if _, err := pricing.Promotions.Upsert(ctx, pr, pricing.UpsertRuleRequest[pricing.Promotion]{RequestID: "p", AllowMissing: true,
		Rule: pricing.Promotion{ID: "ONCE", DisplayName: "Once", Code: "ONCE10", Kind: pricing.PromoPercent, DiscountBps: 1000,
			Window: pricing.Window{Start: time.Now().Add(-time.Hour)}, TotalLimit: 1}}); err != nil {
		t.Fatal(err)
	}
	quote := func(codes ...string) pricing.Quote {
		q, err := pr.Quote(ctx, pricing.QuoteRequest{CustomerID: "C1", Channel: "web", Currency: "EUR",
			Lines: []pricing.QuoteRequestLine{{SKU: "SKU-1", Quantity: 1}}, PromotionCodes: codes})
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	quote()
	before := pricing.Computed(pr)
	if q := quote(); q.Lines[0].UnitMinor != 1299 || pricing.Computed(pr) != before {
		t.Fatalf("plain quote not served from the cache (%d computations)", pricing.Computed(pr)-before)
	}
	if q := quote("once10"); q.Lines[0].UnitMinor != 1169 {
		t.Fatalf("quote with the code = %+v", q.Lines[0])
	}
	if _, err := pr.ReservePromotions(ctx, "order-1", "C2", []string{"ONCE"}); err != nil {
		t.Fatal(err)
	}
	before = pricing.Computed(pr)
	q := quote("ONCE10")
	if pricing.Computed(pr) == before || q.Lines[0].UnitMinor != 1299 || len(q.CodeIssues) != 1 || q.CodeIssues[0].Reason != pricing.CodeExhausted {
		t.Fatalf("quote after the last use = %+v, issues %v", q.Lines[0], q.CodeIssues)
	}
}
