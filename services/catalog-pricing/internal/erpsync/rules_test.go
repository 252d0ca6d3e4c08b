package erpsync_test

import (
	"testing"
	"time"

	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/erpsync"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// TestSyncImportsPricingRules: the ERP's contracts, channel rules and
// promotions reach quotes; a rule the domain refuses is counted, not
// fatal; an identical second sync publishes no new price version.
func TestSyncImportsPricingRules(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	src := &fakeSource{products: []catalog.Product{product("A"), product("B")}, prices: map[string]int64{"A": 1000, "B": 2000},
		rules: func(pe *erpsync.PriceExport) {
			pe.Contracts = []pricing.Contract{{ID: "CTR-1", CustomerID: "C0002", Currency: "EUR",
				Terms: []pricing.ContractTerm{{SKU: "A", Fixed: true, UnitMinor: 800}}}}
			pe.ChannelRules = []pricing.ChannelRule{{ID: "WEB", Channel: "web", AdjustmentBps: -1000}}
			pe.Promotions = []pricing.Promotion{
				{ID: "WELCOME", DisplayName: "Welcome", Code: "WELCOME10", Kind: pricing.PromoPercent, DiscountBps: 1000, Window: pricing.Window{Start: start}},
				{ID: "BROKEN", DisplayName: "Broken", Kind: pricing.PromoPercent, DiscountBps: 1000, Window: pricing.Window{Start: start, End: start}},
			}
			pe.RulesSkipped = 1
		}}
	syncer, _, pr := setup(t, src)
	ctx := t.Context()
	res, err := syncer.Sync(ctx)
	if err != nil || res.Rules.Contracts.Created != 1 || res.Rules.Staged != 2 || res.Rules.Rejected != 1 || res.Rules.Skipped != 1 ||
		!res.Rules.Published.Created {
		t.Fatalf("sync = %+v, %v", res.Rules, err)
	}
	quote := func(customer string) pricing.Quote {
		q, err := pr.Quote(ctx, pricing.QuoteRequest{CustomerID: customer, Channel: "web", Currency: "EUR",
			Lines: []pricing.QuoteRequestLine{{SKU: "A", Quantity: 1}, {SKU: "B", Quantity: 1}}, PromotionCodes: []string{"WELCOME10"}})
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	// C0002: A at the contract 8.00 (the web markdown gives 9.00), −10 % = 7.20;
	// B: 20.00 −10 % channel = 18.00, −10 % code = 16.20.
	q := quote("C0002")
	if q.Lines[0].UnitMinor != 720 || q.Lines[1].UnitMinor != 1620 {
		t.Fatalf("C0002 quote = %+v", q.Lines)
	}
	if q := quote("C0003"); q.Lines[0].UnitMinor != 810 {
		t.Fatalf("C0003 quote = %+v", q.Lines)
	}
	pv := q.PriceVersion
	res, err = syncer.Sync(ctx)
	if err != nil || res.Rules.Published.Created || res.Rules.Contracts.Unchanged != 1 {
		t.Fatalf("identical sync = %+v, %v", res.Rules, err)
	}
	if q := quote("C0002"); q.PriceVersion != pv {
		t.Fatalf("identical sync moved the price version %d → %d", pv, q.PriceVersion)
	}
}
