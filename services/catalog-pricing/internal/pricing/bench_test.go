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
	for name, svc := range map[string]*pricing.Service{"computed": plain, "cached": cached} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := svc.Quote(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
