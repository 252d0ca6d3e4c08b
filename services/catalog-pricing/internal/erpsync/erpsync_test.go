package erpsync_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/erpsync"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
	"github.com/transload/transload/services/catalog-pricing/internal/store/sqlstore"
)

// fakeSource is an in-memory export source that fails while failures > 0.
type fakeSource struct {
	mu       sync.Mutex
	failures int
	calls    int
	products []catalog.Product
	prices   map[string]int64 // SKU → PL-EUR price
	rules    func(*erpsync.PriceExport)
}

func (f *fakeSource) FetchCatalog(context.Context) (erpsync.CatalogExport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.failures > 0 {
		f.failures--
		return erpsync.CatalogExport{}, fmt.Errorf("fetch: %w", erpsync.ErrUnavailable)
	}
	return erpsync.CatalogExport{ExportID: "e", Products: append([]catalog.Product(nil), f.products...)}, nil
}

func (f *fakeSource) FetchPrices(context.Context) (erpsync.PriceExport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pe := erpsync.PriceExport{ExportID: "p", Lists: []pricing.PriceList{{ID: "PL-EUR", DisplayName: "Standard", Currency: "EUR"}},
		Rows: map[string][]pricing.PriceRow{}}
	n := int64(0)
	for _, p := range f.products {
		if price, ok := f.prices[p.SKU]; ok {
			n++
			pe.Rows["PL-EUR"] = append(pe.Rows["PL-EUR"], pricing.PriceRow{RowNumber: n, SKU: p.SKU, UnitMinor: price, Currency: "EUR"})
		}
	}
	if f.rules != nil {
		f.rules(&pe)
	}
	return pe, nil
}

func product(sku string) catalog.Product {
	return catalog.Product{SKU: sku, Title: sku, BaseUnit: "EA", PackSize: 1, Status: catalog.StatusActive, Channels: []string{"web"}}
}

func setup(t *testing.T, src erpsync.Source) (*erpsync.Syncer, *catalog.Service, *pricing.Service) {
	t.Helper()
	return setupOn(t, sqldbtest.OpenSQLite(t), src)
}

// setupOn is setup on db (migrated here; again is a no-op), so a test can
// start a second Syncer on the same data as a restarted process would.
func setupOn(t *testing.T, db *sqldb.DB, src erpsync.Source) (*erpsync.Syncer, *catalog.Service, *pricing.Service) {
	t.Helper()
	if err := sqlstore.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	st := sqlstore.New(db)
	cat := catalog.NewService(st.Catalog(), nil)
	pr := pricing.NewService(st.Pricing(), st.Catalog())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return erpsync.New(src, cat, pr, log, time.Millisecond, 4*time.Millisecond), cat, pr
}

func TestSyncPublishesOnlyChanges(t *testing.T) {
	src := &fakeSource{products: []catalog.Product{product("A"), product("B"), product("C")},
		prices: map[string]int64{"A": 100, "B": 200, "C": 300}}
	syncer, cat, pr := setup(t, src)
	ctx := t.Context()
	res, err := syncer.Sync(ctx)
	if err != nil || !res.VersionCreated || res.Version.Number != 1 || res.Products.Created != 3 || res.PriceRows != 3 {
		t.Fatalf("first sync = %+v, %v", res, err)
	}
	res, err = syncer.Sync(ctx)
	if err != nil || res.VersionCreated || res.Version.Number != 1 || res.Products.Unchanged != 3 {
		t.Fatalf("identical sync = %+v, %v; want no new version", res, err)
	}

	// C leaves the export, B gets a new price.
	src.mu.Lock()
	src.products = src.products[:2]
	src.prices["B"] = 250
	src.mu.Unlock()
	res, err = syncer.Sync(ctx)
	if err != nil || !res.VersionCreated || res.Version.Number != 2 || res.Retired != 1 || res.Version.ChangedCount != 1 {
		t.Fatalf("sync after changes = %+v, %v", res, err)
	}
	c, _, err := cat.GetProduct(ctx, catalog.VersionRef{}, "C")
	if err != nil || c.Status != catalog.StatusDiscontinued {
		t.Fatalf("product missing from the export = %+v, %v; want it DISCONTINUED", c, err)
	}
	q, err := pr.Quote(ctx, pricing.QuoteRequest{Channel: "web", Currency: "EUR", Lines: []pricing.QuoteRequestLine{{SKU: "B", Quantity: 2}}})
	if err != nil || q.Total != 500 {
		t.Fatalf("quote after repricing = %+v, %v", q, err)
	}
	// REPLACE_ALL removed C's price.
	if _, err := pr.GetPrice(ctx, "PL-EUR", "C"); !errors.Is(err, pricing.ErrPriceNotFound) {
		t.Fatalf("price of the retired product: %v", err)
	}
}

func TestRunRetriesUntilTheERPAnswers(t *testing.T) {
	src := &fakeSource{failures: 3, products: []catalog.Product{product("A")}, prices: map[string]int64{"A": 100}}
	syncer, cat, _ := setup(t, src)
	if err := syncer.Run(t.Context(), 0, nil); err != nil {
		t.Fatal(err)
	}
	if ok, err := cat.HasPublished(t.Context()); err != nil || !ok {
		t.Fatalf("published after Run = %v, %v", ok, err)
	}
	if src.calls != 4 {
		t.Fatalf("%d export attempts; want 3 failures and 1 success", src.calls)
	}
	// With a published catalog Run imports nothing.
	if err := syncer.Run(t.Context(), 0, nil); err != nil || src.calls != 4 {
		t.Fatalf("Run on a published catalog: %v after %d calls", err, src.calls)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	src := &fakeSource{failures: 1 << 30}
	syncer, _, _ := setup(t, src)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- syncer.Run(ctx, 0, nil) }()
	wait.Eventually(t, 10*time.Second, "Run retrying", func() error {
		src.mu.Lock()
		defer src.mu.Unlock()
		return wait.Check(src.calls >= 2, "%d export attempts", src.calls)
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
