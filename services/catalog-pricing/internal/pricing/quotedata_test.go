package pricing_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// readCounter counts the database reads a quote computation makes.
type readCounter struct {
	pricing.Store
	cat   pricing.Catalog
	reads atomic.Int64
}

func (r *readCounter) QuoteLists(ctx context.Context, currency, channel string) ([]pricing.PriceList, error) {
	r.reads.Add(1)
	return r.Store.QuoteLists(ctx, currency, channel)
}

func (r *readCounter) PricesFor(ctx context.Context, listIDs, skus []string) ([]pricing.Price, error) {
	r.reads.Add(1)
	return r.Store.PricesFor(ctx, listIDs, skus)
}

func (r *readCounter) Products(ctx context.Context, v int64, skus []string) (map[string]catalog.Product, error) {
	r.reads.Add(1)
	return r.cat.Products(ctx, v, skus)
}

// TestQuoteDataPerVersion: without any quote cache, a repeated computation
// reads no lists, prices or products from the database (they are kept per
// catalog and price version), while a price change and a publication are
// priced from the new data at once.
func TestQuoteDataPerVersion(t *testing.T) {
	st, cat := seeded(t)
	ctx := t.Context()
	rc := &readCounter{Store: st.Pricing(), cat: st.Catalog()}
	svc := pricing.NewService(rc, rc)
	q, err := svc.Quote(ctx, quoteReq)
	if err != nil || q.Total != 3*1299 || rc.reads.Load() != 3 {
		t.Fatalf("first quote = %d, %v after %d reads; want %d after 3 (lists, products, prices)", q.Total, err, rc.reads.Load(), 3*1299)
	}
	for range 3 {
		if q, err := svc.Quote(ctx, quoteReq); err != nil || q.Total != 3*1299 {
			t.Fatalf("repeat quote = %d, %v", q.Total, err)
		}
	}
	if n := pricing.Computed(svc); n != 4 || rc.reads.Load() != 3 {
		t.Fatalf("%d computations made %d reads; want 4 computations and still 3 reads", n, rc.reads.Load())
	}
	if _, err := svc.ImportPrices(ctx, pricing.ImportPricesRequest{RequestID: "r2", PriceList: "PL-EUR", Mode: catalog.ModeUpsert,
		Rows: []pricing.PriceRow{{RowNumber: 1, SKU: "SKU-1", UnitMinor: 1500, Currency: "EUR"}}}); err != nil {
		t.Fatal(err)
	}
	if q, err := svc.Quote(ctx, quoteReq); err != nil || q.Total != 3*1500 {
		t.Fatalf("quote after a price change = %d, %v; want %d", q.Total, err, 3*1500)
	}
	// Version 2 takes SKU-1 out of the web channel: not sellable there.
	p := catalog.Product{SKU: "SKU-1", Title: "Drill", BaseUnit: "EA", Status: catalog.StatusActive, Channels: []string{"b2b"}}
	if _, err := cat.ImportProducts(ctx, catalog.ImportRequest{RequestID: "i2", Source: "t", Mode: catalog.ModeUpsert,
		Rows: []catalog.ImportRow{{RowNumber: 1, Product: p}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cat.PublishCatalog(ctx, catalog.PublishRequest{RequestID: "p2"}); err != nil {
		t.Fatal(err)
	}
	if q, err := svc.Quote(ctx, quoteReq); err == nil {
		t.Fatalf("quote after publishing SKU-1 off web = %+v; want a line error", q)
	}
}
