package pricing_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/platform/cache"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/redistest"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
	"github.com/transload/transload/services/catalog-pricing/internal/store/sqlstore"
)

// seeded returns services on a fresh SQLite database with one published
// product SKU-1 (web) priced 1299 EUR on PL-EUR.
func seeded(t testing.TB) (*sqlstore.Store, *catalog.Service) {
	t.Helper()
	ctx := t.Context()
	db := sqldbtest.OpenSQLite(t)
	if err := sqlstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	st := sqlstore.New(db)
	cat := catalog.NewService(st.Catalog(), nil)
	pr := pricing.NewService(st.Pricing(), st.Catalog())
	publish(t, cat, "1", "Drill")
	if _, err := pr.UpsertPriceList(ctx, pricing.UpsertPriceListRequest{RequestID: "l", AllowMissing: true,
		List: pricing.PriceList{ID: "PL-EUR", DisplayName: "Standard", Currency: "EUR"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := pr.ImportPrices(ctx, pricing.ImportPricesRequest{RequestID: "r", PriceList: "PL-EUR", Mode: catalog.ModeUpsert,
		Rows: []pricing.PriceRow{{RowNumber: 1, SKU: "SKU-1", UnitMinor: 1299, Currency: "EUR"}}}); err != nil {
		t.Fatal(err)
	}
	return st, cat
}

// publish imports SKU-1 (web) with title into the draft and publishes
// it; run names the request ids.
func publish(t testing.TB, cat *catalog.Service, run, title string) {
	t.Helper()
	p := catalog.Product{SKU: "SKU-1", Title: title, BaseUnit: "EA", Status: catalog.StatusActive, Channels: []string{"web"}}
	if _, err := cat.ImportProducts(t.Context(), catalog.ImportRequest{RequestID: "i" + run, Source: "t", Mode: catalog.ModeUpsert,
		Rows: []catalog.ImportRow{{RowNumber: 1, Product: p}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cat.PublishCatalog(t.Context(), catalog.PublishRequest{RequestID: "p" + run}); err != nil {
		t.Fatal(err)
	}
}

var quoteReq = pricing.QuoteRequest{Channel: "web", Currency: "EUR", CustomerID: "C0001",
	Lines: []pricing.QuoteRequestLine{{SKU: "SKU-1", Quantity: 3}}}

// TestQuoteCacheRedis: with a real Redis the second identical quote is
// served from the cache (not computed), a publish makes the next quote a
// miss, and a Redis outage costs recomputation but never a failed quote.
func TestQuoteCacheRedis(t *testing.T) {
	redis := redistest.Start(t)
	st, cat := seeded(t)
	store, err := cache.New(cache.Config{RedisAddr: redis.Addr(), Namespace: "test:", BreakerFailures: 2,
		BreakerOpenTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	quotes, err := cache.NewCache(store, "price-quote", cache.JSONCodec[pricing.Quote]())
	if err != nil {
		t.Fatal(err)
	}
	// No in-memory memo: this test is about the Redis layer.
	svc := pricing.NewService(st.Pricing(), st.Catalog(), pricing.WithCache(quotes), pricing.WithQuoteMemo(0))
	ctx := t.Context()

	q1, err := svc.Quote(ctx, quoteReq)
	if err != nil {
		t.Fatal(err)
	}
	if q1.Total != 3*1299 || pricing.Computed(svc) != 1 {
		t.Fatalf("first quote total %d after %d computations; want %d after 1", q1.Total, pricing.Computed(svc), 3*1299)
	}
	q2, err := svc.Quote(ctx, quoteReq)
	if err != nil {
		t.Fatal(err)
	}
	if n := pricing.Computed(svc); n != 1 {
		t.Fatalf("second identical quote was computed again (%d computations); want it served from Redis", n)
	}
	if diff := cmp.Diff(q1, q2); diff != "" {
		t.Fatalf("cached quote differs (-computed +cached):\n%s", diff)
	}
	other := quoteReq
	other.CustomerID = "C0002"
	if _, err := svc.Quote(ctx, other); err != nil || pricing.Computed(svc) != 2 {
		t.Fatalf("another customer's quote: %v after %d computations; want a separate cache entry", err, pricing.Computed(svc))
	}

	// Publishing a new catalog version changes the key: a miss.
	publish(t, cat, "2", "Drill v2")
	q3, err := svc.Quote(ctx, quoteReq)
	if err != nil || q3.CatalogVersion != 2 || pricing.Computed(svc) != 3 {
		t.Fatalf("quote after publish = version %d, %v after %d computations; want version 2 computed afresh", q3.CatalogVersion, err,
			pricing.Computed(svc))
	}

	// Redis down: every quote is computed, none fails.
	redis.Stop()
	for i := range 5 {
		q, err := svc.Quote(ctx, quoteReq)
		if err != nil || q.Total != 3*1299 {
			t.Fatalf("quote %d with Redis down = %v, %v", i, q.Total, err)
		}
	}
	if n := pricing.Computed(svc); n != 8 {
		t.Fatalf("%d computations with Redis down; want 5 more (every quote computed)", n)
	}
	// Redis back (empty, so any hit was written after the restart): once
	// the breaker lets calls through again quotes are served from Redis.
	redis.Restart()
	wait.Eventually(t, 10*time.Second, "a quote served from Redis after its restart", func() error {
		before := pricing.Computed(svc)
		if q, err := svc.Quote(ctx, quoteReq); err != nil || q.Total != 3*1299 {
			t.Fatalf("quote after Redis restart = %v, %v", q.Total, err)
		}
		return wait.Check(pricing.Computed(svc) == before, "the quote was computed (%d computations)", pricing.Computed(svc))
	})
}

// TestQuoteCacheExpiresWithQuote: a cached quote is not served past its
// expire_time (in-process store on a fake clock).
func TestQuoteCacheExpiresWithQuote(t *testing.T) {
	st, _ := seeded(t)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	quotes, err := cache.NewCache(cache.NewMemoryStore(0, 0, cache.WithClock(clock)), "price-quote", cache.JSONCodec[pricing.Quote]())
	if err != nil {
		t.Fatal(err)
	}
	svc := pricing.NewService(st.Pricing(), st.Catalog(), pricing.WithCache(quotes), pricing.WithClock(clock),
		pricing.WithQuoteTTL(time.Minute))
	q, err := svc.Quote(t.Context(), quoteReq)
	if err != nil || !q.ExpireTime.Equal(now.Add(time.Minute)) {
		t.Fatalf("quote = %+v, %v; want expire_time now+1m", q, err)
	}
	now = now.Add(30 * time.Second)
	if _, err := svc.Quote(t.Context(), quoteReq); err != nil || pricing.Computed(svc) != 1 {
		t.Fatalf("quote within TTL: %v after %d computations; want a hit", err, pricing.Computed(svc))
	}
	now = now.Add(31 * time.Second)
	q, err = svc.Quote(t.Context(), quoteReq)
	if err != nil || pricing.Computed(svc) != 2 || !q.ExpireTime.Equal(now.Add(time.Minute)) {
		t.Fatalf("quote after expiry: %v after %d computations, expire %v; want a fresh quote", err, pricing.Computed(svc), q.ExpireTime)
	}
}

// countingCache counts the reads and writes that reach the QuoteCache.
type countingCache struct {
	pricing.QuoteCache
	gets, sets atomic.Int64
}

func (c *countingCache) Get(ctx context.Context, key string) (pricing.Quote, bool) {
	c.gets.Add(1)
	return c.QuoteCache.Get(ctx, key)
}

func (c *countingCache) Set(ctx context.Context, key string, q pricing.Quote, ttl time.Duration) error {
	c.sets.Add(1)
	return c.QuoteCache.Set(ctx, key, q, ttl)
}

// TestQuoteSharedOnSecondUse: with the memo, a computed quote is written to
// the shared cache only when it is asked for again (a quote nobody repeats
// costs no write), exactly once; another replica on the same cache then
// reads it instead of computing; a price change is computed again.
func TestQuoteSharedOnSecondUse(t *testing.T) {
	st, _ := seeded(t)
	ctx := t.Context()
	inner, err := cache.NewCache(cache.NewMemoryStore(0, 0), "price-quote", cache.JSONCodec[pricing.Quote]())
	if err != nil {
		t.Fatal(err)
	}
	shared := &countingCache{QuoteCache: inner}
	a := pricing.NewService(st.Pricing(), st.Catalog(), pricing.WithCache(shared))
	b := pricing.NewService(st.Pricing(), st.Catalog(), pricing.WithCache(shared))
	q1, err := a.Quote(ctx, quoteReq)
	if err != nil {
		t.Fatal(err)
	}
	if n := shared.sets.Load(); n != 0 {
		t.Fatalf("a first quote made %d cache writes; want none until it is asked for again", n)
	}
	for range 3 {
		if _, err := a.Quote(ctx, quoteReq); err != nil {
			t.Fatal(err)
		}
	}
	if n := shared.sets.Load(); n != 1 {
		t.Fatalf("a repeated quote made %d cache writes; want 1", n)
	}
	qb, err := b.Quote(ctx, quoteReq)
	if err != nil {
		t.Fatal(err)
	}
	if pricing.Computed(b) != 0 || qb.Total != q1.Total || qb.Etag != q1.Etag || !qb.PriceTime.Equal(q1.PriceTime) {
		t.Fatalf("the other replica computed %d quotes and got total %d (etag %s); want the shared quote %d (%s)",
			pricing.Computed(b), qb.Total, qb.Etag, q1.Total, q1.Etag)
	}
	if _, err := a.ImportPrices(ctx, pricing.ImportPricesRequest{RequestID: "r2", PriceList: "PL-EUR", Mode: catalog.ModeUpsert,
		Rows: []pricing.PriceRow{{RowNumber: 1, SKU: "SKU-1", UnitMinor: 1500, Currency: "EUR"}}}); err != nil {
		t.Fatal(err)
	}
	if q, err := b.Quote(ctx, quoteReq); err != nil || q.Total != 3*1500 || pricing.Computed(b) != 1 {
		t.Fatalf("after a price change the other replica quoted %+v, %v after %d computations; want 3 × 1500, computed", q.Total, err, pricing.Computed(b))
	}
}

// TestQuoteMemo: a repeated quote is served from the in-memory memo
// without reading (and decoding) the QuoteCache; a price change is a miss
// by its new price version, and the memo never answers with a stale price.
func TestQuoteMemo(t *testing.T) {
	st, _ := seeded(t)
	ctx := t.Context()
	inner, err := cache.NewCache(cache.NewMemoryStore(0, 0), "price-quote", cache.JSONCodec[pricing.Quote]())
	if err != nil {
		t.Fatal(err)
	}
	quotes := &countingCache{QuoteCache: inner}
	svc := pricing.NewService(st.Pricing(), st.Catalog(), pricing.WithCache(quotes))
	q1, err := svc.Quote(ctx, quoteReq)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		q, err := svc.Quote(ctx, quoteReq)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(q1, q); diff != "" {
			t.Fatalf("memo quote %d differs (-computed +memo):\n%s", i, diff)
		}
	}
	if g, l := quotes.gets.Load(), pricing.Computed(svc); g != 1 || l != 1 {
		t.Fatalf("4 identical quotes made %d cache reads and %d computations; want 1 and 1 (the rest from the memo)", g, l)
	}
	if _, err := svc.ImportPrices(ctx, pricing.ImportPricesRequest{RequestID: "r2", PriceList: "PL-EUR", Mode: catalog.ModeUpsert,
		Rows: []pricing.PriceRow{{RowNumber: 1, SKU: "SKU-1", UnitMinor: 1500, Currency: "EUR"}}}); err != nil {
		t.Fatal(err)
	}
	q2, err := svc.Quote(ctx, quoteReq)
	if err != nil {
		t.Fatal(err)
	}
	if q2.Total != 3*1500 || q2.PriceVersion == q1.PriceVersion || pricing.Computed(svc) != 2 {
		t.Fatalf("quote after a price change = total %d at price version %d (was %d) after %d computations; want %d at a new version, computed",
			q2.Total, q2.PriceVersion, q1.PriceVersion, pricing.Computed(svc), 3*1500)
	}
}
