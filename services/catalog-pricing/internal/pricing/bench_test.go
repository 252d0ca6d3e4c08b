package pricing_test

import (
	"fmt"
	"testing"

	"github.com/transload/transload/platform/cache"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// BenchmarkQuote prices a 20-line quote on SQLite: "computed" reads the
// catalog and prices every time (no cache), "cached" serves repeats from
// the in-process cache (the version lookups still hit the database).
func BenchmarkQuote(b *testing.B) {
	st, cat := seeded(b)
	ctx := b.Context()
	var rows []catalog.ImportRow
	var prices []pricing.PriceRow
	var lines []pricing.QuoteRequestLine
	for i := range 20 {
		sku := fmt.Sprintf("B-%02d", i)
		rows = append(rows, catalog.ImportRow{RowNumber: int64(i + 1), Product: catalog.Product{SKU: sku, Title: sku, BaseUnit: "EA",
			Status: catalog.StatusActive, Channels: []string{"web"}}})
		prices = append(prices, pricing.PriceRow{RowNumber: int64(i + 1), SKU: sku, UnitMinor: int64(100 + i), Currency: "EUR"})
		lines = append(lines, pricing.QuoteRequestLine{SKU: sku, Quantity: int64(i + 1)})
	}
	if _, err := cat.ImportProducts(ctx, catalog.ImportRequest{RequestID: "bench", Source: "b", Mode: catalog.ModeUpsert, Rows: rows}); err != nil {
		b.Fatal(err)
	}
	if _, err := cat.PublishCatalog(ctx, catalog.PublishRequest{RequestID: "bench"}); err != nil {
		b.Fatal(err)
	}
	plain := pricing.NewService(st.Pricing(), st.Catalog())
	if _, err := plain.ImportPrices(ctx, pricing.ImportPricesRequest{RequestID: "bench", PriceList: "PL-EUR", Mode: catalog.ModeUpsert, Rows: prices}); err != nil {
		b.Fatal(err)
	}
	req := pricing.QuoteRequest{Channel: "web", Currency: "EUR", Lines: lines}
	quotes, err := cache.NewCache(cache.NewMemoryStore(0, 0), "price-quote", cache.JSONCodec[pricing.Quote]())
	if err != nil {
		b.Fatal(err)
	}
	cached := pricing.NewService(st.Pricing(), st.Catalog(), pricing.WithCache(quotes))
	run := func(name string, svc *pricing.Service, req pricing.QuoteRequest) {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := svc.Quote(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	run("computed", plain, req)
	run("cached", cached, req)
	// The same quote with a rule of every kind active for the customer: a
	// contract, a channel rule (markdown, rounding), a best-of and a
	// stackable promotion, a buy-X-get-Y, an order-level tiered spend and
	// an entered exclusive code.
	var skus []string
	var terms []pricing.ContractTerm
	for _, l := range lines {
		skus = append(skus, l.SKU)
		terms = append(terms, pricing.ContractTerm{SKU: l.SKU, DiscountBps: 500})
	}
	must := func(_ any, err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(pricing.Contracts.Upsert(ctx, plain, pricing.UpsertRuleRequest[pricing.Contract]{RequestID: "bc", AllowMissing: true,
		Rule: pricing.Contract{ID: "K", CustomerID: "C1", Currency: "EUR", Terms: terms[:10]}}))
	must(pricing.ChannelRules.Upsert(ctx, plain, pricing.UpsertRuleRequest[pricing.ChannelRule]{RequestID: "br", AllowMissing: true,
		Rule: pricing.ChannelRule{ID: "R", Channel: "web", AdjustmentBps: -100, Rounding: pricing.Round99, SKUs: skus}}))
	for i, p := range []pricing.Promotion{
		{Kind: pricing.PromoPercent, DiscountBps: 500, SKUs: skus[:15]},
		{Kind: pricing.PromoAmount, AmountMinor: 1, Currency: "EUR", Combine: pricing.CombineStackable, SKUs: skus[5:]},
		{Kind: pricing.PromoBuyXGetY, BuyQuantity: 2, GetQuantity: 1, SKUs: skus[10:]},
		{Kind: pricing.PromoTieredSpend, Currency: "EUR", Tiers: []pricing.SpendTier{{MinSpendMinor: 100, AmountMinor: 10}}},
		{Kind: pricing.PromoPercent, DiscountBps: 1000, Code: "BENCH", Combine: pricing.CombineExclusive},
	} {
		p.ID, p.DisplayName = fmt.Sprintf("P%d", i), "bench"
		must(pricing.Promotions.Upsert(ctx, plain, pricing.UpsertRuleRequest[pricing.Promotion]{RequestID: p.ID, AllowMissing: true, Rule: p}))
	}
	ruled := req
	ruled.CustomerID, ruled.PromotionCodes = "C1", []string{"BENCH"}
	run("computed-rules", plain, ruled)
	run("cached-rules", cached, ruled)
}
