// Package storetest is the conformance suite every catalog-pricing store
// engine passes. It drives the stores through the catalog and pricing
// services, so it checks what the domains rely on: draft and version
// isolation, filters and ordering, serialised publishing with events,
// idempotency records, price lists, entries and the price version.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/platform/correlation"
	"github.com/transload/transload/platform/testharness/fakeclock"

	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/erpsync"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// Stores is what the suite needs from an engine.
type Stores struct {
	Catalog catalog.Store
	Pricing pricing.Store
	// Unpublished returns the number of outbox events not yet relayed:
	// the domain events and an AuditRecordedEvent per audit record.
	Unpublished func(ctx context.Context) (int64, error)
	// FeedCursors returns the price feed cursor store as a restarted
	// service would: a new store value on the same database each call.
	FeedCursors func() erpsync.CursorStore
}

// Product returns a valid ACTIVE product on channel web.
func Product(sku string) catalog.Product {
	return catalog.Product{
		SKU: sku, Title: "Product " + sku, BaseUnit: "EA", Status: catalog.StatusActive, Channels: []string{"web"},
		Category: "tools/drills", Brand: "Acme", Attributes: []catalog.Attribute{{Key: "colour", Value: "red"}},
	}
}

func rows(ps ...catalog.Product) []catalog.ImportRow {
	out := make([]catalog.ImportRow, len(ps))
	for i, p := range ps {
		out[i] = catalog.ImportRow{RowNumber: int64(i + 1), Product: p}
	}
	return out
}

// Run runs the suite; newStores returns fresh, empty, migrated stores per
// call.
func Run(t *testing.T, newStores func(t *testing.T) Stores) {
	t.Run("ImportPublishRead", func(t *testing.T) { testImportPublishRead(t, newStores(t)) })
	t.Run("ListFiltersAndPages", func(t *testing.T) { testList(t, newStores(t)) })
	t.Run("Idempotency", func(t *testing.T) { testIdempotency(t, newStores(t)) })
	t.Run("ConcurrentPublish", func(t *testing.T) { testConcurrentPublish(t, newStores(t)) })
	t.Run("Prices", func(t *testing.T) { testPrices(t, newStores(t)) })
	t.Run("PriceListFilters", func(t *testing.T) { testListFilters(t, newStores(t)) })
	t.Run("Rules", func(t *testing.T) { testRules(t, newStores(t)) })
	t.Run("RulePublication", func(t *testing.T) { testRulePublication(t, newStores(t)) })
	t.Run("ReservationLimits", func(t *testing.T) { testReservationLimits(t, newStores(t)) })
	t.Run("ReReservationLimits", func(t *testing.T) { testReReservationLimits(t, newStores(t)) })
	t.Run("FeedCursor", func(t *testing.T) { testFeedCursor(t, newStores(t)) })
}

func services(s Stores) (*catalog.Service, *pricing.Service, *fakeclock.Clock) {
	c := fakeclock.New(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	return catalog.NewService(s.Catalog, c.Now), pricing.NewService(s.Pricing, s.Catalog, pricing.WithClock(c.Now)), c
}

var operator = catalog.Actor{Kind: "operator", ID: "alice"}

func mustImport(t *testing.T, cat *catalog.Service, id string, ps ...catalog.Product) catalog.ImportResult {
	t.Helper()
	res, err := cat.ImportProducts(t.Context(), catalog.ImportRequest{RequestID: id, Source: "test", Mode: catalog.ModeUpsert,
		Rows: rows(ps...), Actor: operator})
	if err != nil {
		t.Fatalf("import %s: %v", id, err)
	}
	return res
}

func mustPublish(t *testing.T, cat *catalog.Service, id string) catalog.PublishResult {
	t.Helper()
	res, err := cat.PublishCatalog(t.Context(), catalog.PublishRequest{RequestID: id, Note: id, Publisher: operator})
	if err != nil {
		t.Fatalf("publish %s: %v", id, err)
	}
	return res
}

func testImportPublishRead(t *testing.T, s Stores) {
	ctx := t.Context()
	cat, _, clk := services(s)
	if ok, err := cat.HasPublished(ctx); err != nil || ok {
		t.Fatalf("HasPublished on empty store = %v, %v", ok, err)
	}
	if _, err := s.Catalog.CurrentVersion(ctx); !errors.Is(err, catalog.ErrVersionNotFound) {
		t.Fatalf("CurrentVersion on empty store: %v, want ErrVersionNotFound", err)
	}
	a, b := Product("A-1"), Product("B-2")
	b.Channels = nil // not sellable anywhere
	res := mustImport(t, cat, "i1", a, b)
	if res.Created != 2 {
		t.Fatalf("created = %d, want 2: %+v", res.Created, res.Results)
	}
	v1 := mustPublish(t, cat, "p1")
	if !v1.Created || v1.Version.Number != 1 || v1.Version.ProductCount != 2 || v1.Version.SellableCount != 1 ||
		v1.Version.AddedCount != 2 || !v1.Version.PublishTime.Equal(clk.Now()) || v1.Version.Note != "p1" {
		t.Fatalf("first publish = %+v", v1)
	}
	// Changing the draft leaves version 1 untouched.
	clk.Advance(time.Minute)
	a2 := a
	a2.Title = "Changed"
	if r := mustImport(t, cat, "i2", a2, b); r.Updated != 1 || r.Unchanged != 1 {
		t.Fatalf("second import = %+v", r)
	}
	got, _, err := cat.GetProduct(ctx, catalog.VersionRef{Kind: catalog.RefNumber, Number: 1}, "A-1")
	if err != nil || got.Title != a.Title {
		t.Fatalf("version 1 product = %+v, %v; want the original title", got, err)
	}
	draft, _, err := cat.GetProduct(ctx, catalog.VersionRef{Kind: catalog.RefDraft}, "A-1")
	if err != nil || draft.Title != "Changed" || !draft.UpdateTime.Equal(clk.Now()) {
		t.Fatalf("draft product = %+v, %v", draft, err)
	}
	v2 := mustPublish(t, cat, "p2")
	if v2.Version.Number != 2 || v2.Version.PreviousVersion != 1 || v2.Version.ChangedCount != 1 || v2.Version.AddedCount != 0 {
		t.Fatalf("second publish = %+v", v2.Version)
	}
	// Publishing an unchanged draft creates nothing.
	v3 := mustPublish(t, cat, "p3")
	if v3.Created || v3.Version.Number != 2 {
		t.Fatalf("no-op publish = %+v", v3)
	}
	cur, err := cat.ResolveVersion(ctx, catalog.VersionRef{Kind: catalog.RefCurrent})
	if err != nil || cur.Number != 2 {
		t.Fatalf("current = %+v, %v", cur, err)
	}
	if diff := cmp.Diff(v2.Version, cur); diff != "" {
		t.Errorf("stored version differs (-published +read):\n%s", diff)
	}
	vs, err := cat.ListVersions(ctx, 0, 1)
	if err != nil || len(vs) != 1 || vs[0].Number != 2 {
		t.Fatalf("ListVersions page 1 = %+v, %v", vs, err)
	}
	vs, err = cat.ListVersions(ctx, 2, 5)
	if err != nil || len(vs) != 1 || vs[0].Number != 1 {
		t.Fatalf("ListVersions before 2 = %+v, %v", vs, err)
	}
	_, _, err = cat.BatchGetProducts(ctx, catalog.VersionRef{}, []string{"A-1", "NOPE", "B-2"})
	var nf *catalog.NotFoundError
	if !errors.As(err, &nf) || nf.SKU != "NOPE" || nf.Version != "catalogVersions/2" {
		t.Fatalf("BatchGet with a missing SKU: %v", err)
	}
	if _, err := cat.ResolveVersion(ctx, catalog.VersionRef{Kind: catalog.RefNumber, Number: 9}); !errors.Is(err, catalog.ErrVersionNotFound) {
		t.Fatalf("version 9: %v", err)
	}
	if n, err := s.Unpublished(ctx); err != nil || n != 2+4 {
		t.Fatalf("outbox events = %d, %v; want 6 (one per created version, one per audit record)", n, err)
	}

	// Audit: one record per import that changed the draft and per created
	// version (the no-op publish and the unchanged row leave none).
	ctx = correlation.WithID(ctx, "corr-1")
	audits, trail := auditTrail(ctx, t, s)
	for _, a := range audits {
		if a.Actor != operator || a.OccurTime.IsZero() || a.After == "" {
			t.Errorf("audit record %+v lacks actor, time or after", a)
		}
	}
	want := []string{"catalog.import_products catalogVersions/draft", "catalog.publish catalogVersions/1",
		"catalog.import_products catalogVersions/draft", "catalog.publish catalogVersions/2"}
	if diff := cmp.Diff(want, trail); diff != "" {
		t.Fatalf("audit trail (-want +got):\n%s", diff)
	}
	if audits[1].Before != "" || !strings.Contains(audits[1].After, `"version":1`) ||
		!strings.Contains(audits[3].Before, `"version":1`) || !strings.Contains(audits[3].After, `"changed":1`) {
		t.Errorf("publish snapshots: v1 %q → %q, v2 %q → %q", audits[1].Before, audits[1].After, audits[3].Before, audits[3].After)
	}
	if later, err := s.Catalog.AuditRecords(ctx, audits[1].ID, 100); err != nil || len(later) != 2 {
		t.Errorf("records after id %d = %d, %v; want 2", audits[1].ID, len(later), err)
	}
	// The correlation id of the request is recorded.
	if _, err := cat.ImportProducts(ctx, catalog.ImportRequest{RequestID: "i-corr", Source: "t", Mode: catalog.ModeUpsert,
		Rows: rows(Product("Z-9")), Actor: operator}); err != nil {
		t.Fatal(err)
	}
	last, err := s.Catalog.AuditRecords(ctx, audits[3].ID, 10)
	if err != nil || len(last) != 1 || last[0].CorrelationID != "corr-1" {
		t.Fatalf("audit of a correlated import = %+v, %v; want correlation id corr-1", last, err)
	}
}

func testList(t *testing.T, s Stores) {
	ctx := t.Context()
	cat, _, _ := services(s)
	var ps []catalog.Product
	for i := range 12 {
		p := Product(fmt.Sprintf("SKU-%02d", i))
		switch i % 3 {
		case 0:
			p.Channels = []string{"web", "b2b"}
			p.Category = "tools/drills/cordless"
		case 1:
			p.Channels = []string{"b2b"}
			p.Category = "tools/drillsets"
			p.Status = catalog.StatusOnHold
		case 2:
			p.Brand = "Other"
		}
		ps = append(ps, p)
	}
	mustImport(t, cat, "i", ps...)
	mustPublish(t, cat, "p")
	cases := []struct {
		filter catalog.Filter
		want   []string
	}{
		{catalog.Filter{Channel: "b2b"}, []string{"SKU-00", "SKU-01", "SKU-03", "SKU-04", "SKU-06", "SKU-07", "SKU-09", "SKU-10"}},
		{catalog.Filter{Channel: "web", Status: catalog.StatusActive}, []string{"SKU-00", "SKU-02", "SKU-03", "SKU-05", "SKU-06", "SKU-08", "SKU-09", "SKU-11"}},
		{catalog.Filter{Category: "tools/drills"}, []string{"SKU-00", "SKU-02", "SKU-03", "SKU-05", "SKU-06", "SKU-08", "SKU-09", "SKU-11"}},
		{catalog.Filter{Status: catalog.StatusOnHold, Brand: "Acme"}, []string{"SKU-01", "SKU-04", "SKU-07", "SKU-10"}},
		{catalog.Filter{Brand: "Other", Channel: "b2b"}, nil},
		{catalog.Filter{Channel: "b_b"}, nil}, // '_' is a literal, not a LIKE wildcard
	}
	for _, c := range cases {
		got := keysetAll(t, 3, func(after string, limit int) ([]string, error) {
			req := catalog.ListRequest{Filter: c.filter, Limit: limit}
			if after != "" {
				req.Cursor = &catalog.Cursor{Version: 1, After: after}
			}
			res, err := cat.ListProducts(ctx, req)
			return skus(res.Products), err
		})
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("filter %+v (-want +got):\n%s", c.filter, diff)
		}
	}
	// A cursor keeps reading its version after a publish.
	p := Product("SKU-00")
	p.Title = "Changed"
	mustImport(t, cat, "i2", p)
	mustPublish(t, cat, "p2")
	res, err := cat.ListProducts(ctx, catalog.ListRequest{Cursor: &catalog.Cursor{Version: 1, After: ""}, Limit: 1})
	if err != nil || res.Version.Number != 1 || len(res.Products) != 1 || res.Products[0].Title == "Changed" {
		t.Fatalf("page of version 1 after publishing 2 = %+v, %v", res, err)
	}
}

// keysetAll pages through a keyset listing the way the API does, asking
// list for size+1 items after the last key of the previous page, and
// returns every key listed.
func keysetAll(t *testing.T, size int, list func(after string, limit int) ([]string, error)) []string {
	t.Helper()
	var all []string
	after := ""
	for page := 0; ; page++ {
		keys, err := list(after, size+1)
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		if page > 20 {
			t.Fatalf("more than 20 pages: %v", all)
		}
		if len(keys) <= size {
			return append(all, keys...)
		}
		all = append(all, keys[:size]...)
		after = keys[size-1]
	}
}

func skus(ps []catalog.Product) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.SKU)
	}
	return out
}

func testIdempotency(t *testing.T, s Stores) {
	ctx := t.Context()
	cat, _, _ := services(s)
	first := mustImport(t, cat, "same", Product("X-1"))
	again := mustImport(t, cat, "same", Product("X-1"))
	if diff := cmp.Diff(first, again); diff != "" || again.Created != 1 {
		t.Fatalf("replay differs or re-applied (-first +again):\n%s", diff)
	}
	_, err := cat.ImportProducts(ctx, catalog.ImportRequest{RequestID: "same", Source: "test", Mode: catalog.ModeUpsert, Rows: rows(Product("X-2"))})
	if !errors.Is(err, catalog.ErrIdempotencyKeyReused) {
		t.Fatalf("reuse with another payload: %v", err)
	}
	p1 := mustPublish(t, cat, "pub")
	mustImport(t, cat, "other", Product("X-3"))
	p2 := mustPublish(t, cat, "pub")
	if p2.Version.Number != p1.Version.Number || !p2.Created {
		t.Fatalf("publish replay = %+v, want the first call's version %d (created)", p2, p1.Version.Number)
	}
	_, err = cat.PublishCatalog(ctx, catalog.PublishRequest{RequestID: "pub", Note: "different"})
	if !errors.Is(err, catalog.ErrIdempotencyKeyReused) {
		t.Fatalf("publish reuse: %v", err)
	}
	_, err = cat.PublishCatalog(ctx, catalog.PublishRequest{RequestID: "guarded", ExpectedCurrent: 7})
	var conflict *catalog.ConflictError
	if !errors.As(err, &conflict) || conflict.Current != 1 {
		t.Fatalf("guarded publish: %v", err)
	}
}

func testConcurrentPublish(t *testing.T, s Stores) {
	cat, _, _ := services(s)
	mustImport(t, cat, "i", Product("C-1"))
	const n = 4
	var wg sync.WaitGroup
	results := make([]catalog.PublishResult, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			// Each publisher changes the draft first, so every publish has
			// something new to freeze.
			var ps []catalog.Product
			for j := range 20 {
				p := Product(fmt.Sprintf("C-%02d", j))
				p.Title = fmt.Sprintf("title %d", i)
				ps = append(ps, p)
			}
			_, errs[i] = cat.ImportProducts(t.Context(), catalog.ImportRequest{RequestID: fmt.Sprintf("ci%d", i), Source: "t", Mode: catalog.ModeUpsert, Rows: rows(ps...)})
			if errs[i] == nil {
				results[i], errs[i] = cat.PublishCatalog(t.Context(), catalog.PublishRequest{RequestID: fmt.Sprintf("cp%d", i)})
			}
		})
	}
	wg.Wait()
	seen := map[int64]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("publisher %d: %v", i, errs[i])
		}
		if !results[i].Created {
			continue
		}
		if seen[results[i].Version.Number] {
			t.Fatalf("version %d created twice", results[i].Version.Number)
		}
		seen[results[i].Version.Number] = true
	}
	vs, err := cat.ListVersions(t.Context(), 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs { // numbered without gaps, newest first
		if v.Number != int64(len(vs)-i) {
			t.Fatalf("versions %+v have a gap", vs)
		}
		// Each version holds exactly what its checksum says: no import
		// slipped in between the publish's read and its copy.
		res, err := cat.ListProducts(t.Context(), catalog.ListRequest{Ref: catalog.VersionRef{Kind: catalog.RefNumber, Number: v.Number}, Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		var ds []catalog.Digest
		for _, p := range res.Products {
			ds = append(ds, catalog.Digest{SKU: p.SKU, Etag: p.Etag})
		}
		if got := catalog.Checksum(ds); got != v.Checksum {
			t.Errorf("version %d: stored products have checksum %s, version says %s", v.Number, got, v.Checksum)
		}
	}
}

func testPrices(t *testing.T, s Stores) {
	ctx := t.Context()
	cat, pr, clk := services(s)
	mustImport(t, cat, "i", Product("P-1"), Product("P-2"))
	mustPublish(t, cat, "p")
	if pv, err := pr.PriceVersion(ctx); err != nil || pv != 0 {
		t.Fatalf("initial price version = %d, %v", pv, err)
	}
	if vs, err := s.Pricing.Versions(ctx); err != nil || vs != (pricing.Versions{Catalog: 1}) {
		t.Fatalf("Versions = %+v, %v; want catalog 1", vs, err)
	}
	_, err := pr.ImportPrices(ctx, pricing.ImportPricesRequest{RequestID: "r0", PriceList: "NOPE", Mode: catalog.ModeUpsert,
		Rows: []pricing.PriceRow{{RowNumber: 1, SKU: "P-1", UnitMinor: 1, Currency: "EUR"}}})
	if !errors.Is(err, pricing.ErrPriceListNotFound) {
		t.Fatalf("import into a missing list: %v", err)
	}
	start := clk.Now().Add(-time.Hour)
	l, err := pr.UpsertPriceList(ctx, pricing.UpsertPriceListRequest{RequestID: "l1", AllowMissing: true,
		List: pricing.PriceList{ID: "PL-EUR", DisplayName: "Standard", Currency: "EUR", StartTime: start}})
	if err != nil || l.Etag == "" || !l.StartTime.Equal(start) {
		t.Fatalf("upsert list = %+v, %v", l, err)
	}
	res, err := pr.ImportPrices(ctx, pricing.ImportPricesRequest{RequestID: "r1", PriceList: "PL-EUR", Mode: catalog.ModeReplaceAll,
		Rows: []pricing.PriceRow{
			{RowNumber: 1, SKU: "P-1", UnitMinor: 1299, Currency: "EUR", Breaks: []pricing.Break{{MinQuantity: 10, UnitMinor: 1199}}},
			{RowNumber: 2, SKU: "P-2", UnitMinor: 500, Currency: "EUR"},
		}})
	if err != nil || res.Created != 2 || res.PriceVersion != 2 {
		t.Fatalf("import = %+v, %v; want 2 created at price version 2", res, err)
	}
	got, err := pr.GetPrice(ctx, "PL-EUR", "P-1")
	want := pricing.Price{PriceList: "PL-EUR", SKU: "P-1", UnitMinor: 1299, Currency: "EUR",
		Breaks: []pricing.Break{{MinQuantity: 10, UnitMinor: 1199}}}
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpIgnore("Etag", "UpdateTime")); diff != "" {
		t.Errorf("stored price (-want +got):\n%s", diff)
	}
	// REPLACE_ALL with a rejected row writes nothing.
	res, err = pr.ImportPrices(ctx, pricing.ImportPricesRequest{RequestID: "r2", PriceList: "PL-EUR", Mode: catalog.ModeReplaceAll,
		Rows: []pricing.PriceRow{{RowNumber: 1, SKU: "P-1", UnitMinor: 1, Currency: "USD"}}})
	if err != nil || res.Rejected != 1 || res.Results[0].Reason != catalog.ReasonCurrencyMismatch || res.PriceVersion != 2 {
		t.Fatalf("rejected replace-all = %+v, %v", res, err)
	}
	// REPLACE_ALL deletes what the rows do not mention.
	res, err = pr.ImportPrices(ctx, pricing.ImportPricesRequest{RequestID: "r3", PriceList: "PL-EUR", Mode: catalog.ModeReplaceAll,
		Rows: []pricing.PriceRow{{RowNumber: 1, SKU: "P-2", UnitMinor: 500, Currency: "EUR"}}})
	if err != nil || res.Deleted != 1 || res.Unchanged != 1 || res.PriceVersion != 3 {
		t.Fatalf("replace-all = %+v, %v", res, err)
	}
	if _, err := pr.GetPrice(ctx, "PL-EUR", "P-1"); !errors.Is(err, pricing.ErrPriceNotFound) {
		t.Fatalf("deleted price: %v", err)
	}
	lst, err := pr.GetPriceList(ctx, "PL-EUR")
	if err != nil || lst.PriceCount != 1 {
		t.Fatalf("list after replace = %+v, %v", lst, err)
	}
	lists, err := s.Pricing.QuoteLists(ctx, "EUR", "web")
	if err != nil || len(lists) != 1 {
		t.Fatalf("QuoteLists = %+v, %v", lists, err)
	}

	if curs, err := s.Pricing.Currencies(ctx); err != nil || !cmp.Equal(curs, []string{"EUR"}) {
		t.Fatalf("Currencies = %v, %v", curs, err)
	}
	// 1 publish + list upsert + 2 price changes, and one per audit record
	// (import, publish, list upsert, 2 price imports).
	if n, err := s.Unpublished(ctx); err != nil || n != 4+5 {
		t.Fatalf("outbox events = %d, %v; want 9", n, err)
	}

	// Deleting a list with entries needs force; then it stops applying.
	if err := pr.DeletePriceList(ctx, pricing.DeletePriceListRequest{RequestID: "d1", ID: "PL-EUR"}); !errors.Is(err, pricing.ErrPriceListNotEmpty) {
		t.Fatalf("delete without force: %v", err)
	}
	if err := pr.DeletePriceList(ctx, pricing.DeletePriceListRequest{RequestID: "d2", ID: "PL-EUR", Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := pr.GetPriceList(ctx, "PL-EUR"); !errors.Is(err, pricing.ErrPriceListNotFound) {
		t.Fatalf("deleted list: %v", err)
	}
	if lists, err := s.Pricing.QuoteLists(ctx, "EUR", "web"); err != nil || len(lists) != 0 {
		t.Fatalf("QuoteLists after delete = %+v, %v", lists, err)
	}
	if vs, err := s.Pricing.Versions(ctx); err != nil || vs != (pricing.Versions{Catalog: 1, Price: 4}) {
		t.Fatalf("Versions after delete = %+v, %v; want catalog 1, price 4", vs, err)
	}
	if err := pr.DeletePriceList(ctx, pricing.DeletePriceListRequest{RequestID: "d3", ID: "PL-EUR"}); !errors.Is(err, pricing.ErrPriceListNotFound) {
		t.Fatalf("delete a missing list: %v", err)
	}
	if err := pr.DeletePriceList(ctx, pricing.DeletePriceListRequest{RequestID: "d4", ID: "PL-EUR", AllowMissing: true}); err != nil {
		t.Fatalf("delete a missing list with allow_missing: %v", err)
	}
	audits, trail := auditTrail(ctx, t, s)
	wantTrail := []string{"catalog.import_products catalogVersions/draft", "catalog.publish catalogVersions/1",
		"pricing.upsert_price_list priceLists/PL-EUR", "pricing.import_prices priceLists/PL-EUR",
		"pricing.import_prices priceLists/PL-EUR", "pricing.delete_price_list priceLists/PL-EUR"}
	if diff := cmp.Diff(wantTrail, trail); diff != "" {
		t.Fatalf("audit trail (-want +got):\n%s", diff)
	}
	if imp := audits[4]; !strings.Contains(imp.Before, `"price_count":2`) || !strings.Contains(imp.After, `"deleted":1`) {
		t.Errorf("replace-all audit %q → %q", imp.Before, imp.After)
	}
}

// auditTrail returns the audit records and, for each, "action resource".
func auditTrail(ctx context.Context, t *testing.T, s Stores) ([]catalog.StoredAudit, []string) {
	t.Helper()
	audits, err := s.Catalog.AuditRecords(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	trail := make([]string, 0, len(audits))
	for _, a := range audits {
		trail = append(trail, a.Action+" "+a.Resource)
	}
	return audits, trail
}

func cmpIgnore(fields ...string) cmp.Option {
	return cmp.FilterPath(func(p cmp.Path) bool {
		for _, f := range fields {
			if p.Last().String() == "."+f {
				return true
			}
		}
		return false
	}, cmp.Ignore())
}

func testListFilters(t *testing.T, s Stores) {
	ctx := t.Context()
	cat, pr, clk := services(s)
	now := clk.Now()
	mustImport(t, cat, "i", Product("P-1"), Product("P-2"))
	for _, l := range []pricing.PriceList{
		{ID: "PL-EUR", DisplayName: "Standard", Currency: "EUR"},
		{ID: "PL-B2B", DisplayName: "B2B", Currency: "EUR", Channel: "b2b", EndTime: now.Add(time.Hour)},
		{ID: "PL-USD", DisplayName: "USD", Currency: "USD", StartTime: now.Add(time.Hour)},
	} {
		if _, err := pr.UpsertPriceList(ctx, pricing.UpsertPriceListRequest{RequestID: "f-" + l.ID, List: l, AllowMissing: true}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		filter pricing.ListFilter
		want   []string
	}{
		{pricing.ListFilter{}, []string{"PL-B2B", "PL-EUR", "PL-USD"}},
		{pricing.ListFilter{Currency: "EUR"}, []string{"PL-B2B", "PL-EUR"}},
		{pricing.ListFilter{HasChannel: true}, []string{"PL-EUR", "PL-USD"}},
		{pricing.ListFilter{Channel: "b2b", HasChannel: true, Currency: "EUR"}, []string{"PL-B2B"}},
		{pricing.ListFilter{ActiveTime: now}, []string{"PL-B2B", "PL-EUR"}},
		{pricing.ListFilter{ActiveTime: now.Add(2 * time.Hour)}, []string{"PL-EUR", "PL-USD"}},
	}
	for _, c := range cases {
		got := keysetAll(t, 1, func(after string, limit int) ([]string, error) {
			ls, err := pr.ListPriceLists(ctx, c.filter, after, limit)
			var ids []string
			for _, l := range ls {
				ids = append(ids, l.ID)
			}
			return ids, err
		})
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("ListPriceLists(%+v) (-want +got):\n%s", c.filter, diff)
		}
	}
	if _, err := pr.ImportPrices(ctx, pricing.ImportPricesRequest{RequestID: "fp", PriceList: "PL-EUR", Mode: catalog.ModeUpsert,
		Rows: []pricing.PriceRow{{RowNumber: 1, SKU: "P-1", UnitMinor: 1, Currency: "EUR"}, {RowNumber: 2, SKU: "P-2", UnitMinor: 2, Currency: "EUR"}}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		filter pricing.PriceFilter
		want   int
	}{
		{pricing.PriceFilter{SKU: "P-2"}, 1},
		{pricing.PriceFilter{SKUPrefix: "P-"}, 2},
		{pricing.PriceFilter{SKUPrefix: "Q"}, 0},
		{pricing.PriceFilter{SKU: "P-2", SKUPrefix: "Q"}, 0},
		{pricing.PriceFilter{}, 2},
	} {
		ps, err := pr.ListPrices(ctx, "PL-EUR", c.filter, "", 10)
		if err != nil || len(ps) != c.want {
			t.Errorf("ListPrices(%+v) = %d, %v; want %d", c.filter, len(ps), err, c.want)
		}
	}
	if _, err := pr.ListPrices(ctx, "NOPE", pricing.PriceFilter{}, "", 10); !errors.Is(err, pricing.ErrPriceListNotFound) {
		t.Errorf("ListPrices of a missing list: %v", err)
	}
}
