package pricing_test

import (
	"testing"
	"time"

	"github.com/transload/transload/platform/cache"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// rendering is what the test's render function makes of a quote: the
// quote it saw and a serial number, so a kept rendering served for the
// wrong quote shows.
type rendering struct {
	q      pricing.Quote
	serial int
	kept   bool
}

// TestQuoteRenderedKeptPerQuoteAndView: a rendering is made once per
// memoized quote and view and served to the repeats; another view,
// customer, basket, code set or price time, a rule change and a price change each get
// a rendering of their own quote (never another's); a quote that depends
// on promotion usage is rendered on every call and never kept.
func TestQuoteRenderedKeptPerQuoteAndView(t *testing.T) {
	st, _ := seeded(t)
	ctx := t.Context()
	quotes, err := cache.NewCache(cache.NewMemoryStore(0, 0), "price-quote", cache.JSONCodec[pricing.Quote]())
	if err != nil {
		t.Fatal(err)
	}
	svc := pricing.NewService(st.Pricing(), st.Catalog(), pricing.WithCache(quotes))
	serial := 0
	quote := func(req pricing.QuoteRequest, view string) rendering {
		t.Helper()
		v, err := svc.QuoteRendered(ctx, req, view, func(q pricing.Quote, kept bool) any {
			serial++
			return rendering{q: q, serial: serial, kept: kept}
		})
		if err != nil {
			t.Fatal(err)
		}
		r := v.(rendering)
		// Whatever is served must be the rendering of the quote the
		// service gives for req now (a quote computed on every call has
		// its own pricing instant).
		want, err := svc.Quote(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if r.q.Etag != want.Etag || r.q.Total != want.Total || r.q.PriceVersion != want.PriceVersion || (r.kept && !r.q.PriceTime.Equal(want.PriceTime)) {
			t.Fatalf("rendering of %+v served for a quote of total %d at price version %d (etag %s)", r.q, want.Total, want.PriceVersion, want.Etag)
		}
		return r
	}
	full := quote(quoteReq, "FULL")
	if !full.kept || quote(quoteReq, "FULL").serial != full.serial {
		t.Fatal("a repeated quote was rendered again instead of served from the memo")
	}
	summary := quote(quoteReq, "SUMMARY")
	if summary.serial == full.serial || quote(quoteReq, "SUMMARY").serial != summary.serial {
		t.Fatal("views share a rendering, or the second view is rendered again")
	}
	other := func(change func(*pricing.QuoteRequest)) pricing.QuoteRequest {
		r := quoteReq
		r.Lines = append([]pricing.QuoteRequestLine(nil), quoteReq.Lines...)
		change(&r)
		return r
	}
	for name, req := range map[string]pricing.QuoteRequest{
		"customer": other(func(r *pricing.QuoteRequest) { r.CustomerID = "C0002" }),
		"quantity": other(func(r *pricing.QuoteRequest) { r.Lines[0].Quantity++ }),
		"code":     other(func(r *pricing.QuoteRequest) { r.PromotionCodes = []string{"NOPE10"} }),
		"time":     other(func(r *pricing.QuoteRequest) { r.PriceTime = time.Now().Add(-time.Minute) }),
	} {
		if r := quote(req, "FULL"); r.serial == full.serial {
			t.Fatalf("another %s got the rendering of the first quote", name)
		}
	}
	// A contract for the customer (a rule change, a new price version).
	if _, err := pricing.Contracts.Upsert(ctx, svc, pricing.UpsertRuleRequest[pricing.Contract]{RequestID: "k", AllowMissing: true,
		Rule: pricing.Contract{ID: "K", CustomerID: quoteReq.CustomerID, Currency: "EUR",
			Terms: []pricing.ContractTerm{{SKU: "SKU-1", DiscountBps: 1000}}}}); err != nil {
		t.Fatal(err)
	}
	contract := quote(quoteReq, "FULL")
	if contract.serial == full.serial || contract.q.Total >= full.q.Total || contract.q.PriceVersion <= full.q.PriceVersion {
		t.Fatalf("after the contract: total %d at price version %d; want below %d at a newer version than %d, rendered anew",
			contract.q.Total, contract.q.PriceVersion, full.q.Total, full.q.PriceVersion)
	}
	// A list price change.
	if _, err := svc.ImportPrices(ctx, pricing.ImportPricesRequest{RequestID: "r2", PriceList: "PL-EUR", Mode: catalog.ModeUpsert,
		Rows: []pricing.PriceRow{{RowNumber: 1, SKU: "SKU-1", UnitMinor: 2000, Currency: "EUR"}}}); err != nil {
		t.Fatal(err)
	}
	if r := quote(quoteReq, "FULL"); r.serial == contract.serial || r.q.Total != 3*1800 {
		t.Fatalf("after the price change: total %d (rendering %d); want 3 × 1800 rendered anew", r.q.Total, r.serial)
	}
	// A usage-limited code: rendered every time, never kept.
	if _, err := pricing.Promotions.Upsert(ctx, svc, pricing.UpsertRuleRequest[pricing.Promotion]{RequestID: "p", AllowMissing: true,
		Rule: pricing.Promotion{ID: "ONCE", DisplayName: "Once", Code: "ONCE10", Kind: pricing.PromoPercent, DiscountBps: 1000,
			Window: pricing.Window{Start: time.Now().Add(-time.Hour)}, TotalLimit: 1}}); err != nil {
		t.Fatal(err)
	}
	limited := other(func(r *pricing.QuoteRequest) { r.PromotionCodes = []string{"ONCE10"} })
	a, b := quote(limited, "FULL"), quote(limited, "FULL")
	if a.kept || b.kept || a.serial == b.serial {
		t.Fatalf("usage-dependent quote renderings %d (kept %v) and %d (kept %v); want two, neither kept", a.serial, a.kept, b.serial, b.kept)
	}
}
