package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// pricedCatalog publishes P-1 (12.99) and P-2 (5.00) in list PL-EUR.
func pricedCatalog(t *testing.T, s Stores) (*pricing.Service, time.Time) {
	t.Helper()
	ctx := t.Context()
	cat, pr, clk := services(s)
	mustImport(t, cat, "i", Product("P-1"), Product("P-2"))
	mustPublish(t, cat, "p")
	if _, err := pr.UpsertPriceList(ctx, pricing.UpsertPriceListRequest{RequestID: "l", AllowMissing: true,
		List: pricing.PriceList{ID: "PL-EUR", DisplayName: "Standard", Currency: "EUR"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := pr.ImportPrices(ctx, pricing.ImportPricesRequest{RequestID: "r", PriceList: "PL-EUR", Mode: catalog.ModeUpsert,
		Rows: []pricing.PriceRow{{RowNumber: 1, SKU: "P-1", UnitMinor: 1299, Currency: "EUR"}, {RowNumber: 2, SKU: "P-2", UnitMinor: 500, Currency: "EUR"}}}); err != nil {
		t.Fatal(err)
	}
	return pr, clk.Now()
}

func quoteP1(t *testing.T, pr *pricing.Service, customer string, codes ...string) pricing.Quote {
	t.Helper()
	q, err := pr.Quote(t.Context(), pricing.QuoteRequest{CustomerID: customer, Channel: "web", Currency: "EUR",
		Lines: []pricing.QuoteRequestLine{{SKU: "P-1", Quantity: 2}}, PromotionCodes: codes})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func versions(t *testing.T, s Stores) pricing.Versions {
	t.Helper()
	vs, err := s.Pricing.Versions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// testRules: the three rule kinds are stored, read, paged, updated with
// etags and idempotency, deleted, and every published change is a new
// price version that quotes use at once.
func testRules(t *testing.T, s Stores) {
	ctx := t.Context()
	pr, now := pricedCatalog(t, s)
	pv0 := versions(t, s).Price
	contract := pricing.Contract{ID: "K-1", CustomerID: "C0002", Currency: "EUR",
		Terms: []pricing.ContractTerm{{SKU: "P-1", Fixed: true, UnitMinor: 1000}}}
	_, err := pricing.Contracts.Upsert(ctx, pr, pricing.UpsertRuleRequest[pricing.Contract]{RequestID: "u0", Rule: contract})
	if !errors.Is(err, pricing.ErrContractNotFound) {
		t.Fatalf("update of a missing contract: %v", err)
	}
	got, err := pricing.Contracts.Upsert(ctx, pr, pricing.UpsertRuleRequest[pricing.Contract]{RequestID: "u1", Rule: contract, AllowMissing: true})
	if err != nil || got.Etag == "" || !got.CreateTime.Equal(now) {
		t.Fatalf("create contract = %+v, %v", got, err)
	}
	vs := versions(t, s)
	if vs.Price != pv0+1 || vs.Rules != vs.Price {
		t.Fatalf("versions after a published contract = %+v; want price and rules %d", vs, pv0+1)
	}
	if q := quoteP1(t, pr, "C0002"); q.Lines[0].UnitMinor != 1000 || q.PriceVersion != vs.Price {
		t.Fatalf("quote with the contract = %+v", q.Lines[0])
	}
	if q := quoteP1(t, pr, "C0003"); q.Lines[0].UnitMinor != 1299 {
		t.Fatalf("another customer's quote = %+v", q.Lines[0])
	}
	// Same content: no new version; replay of u1 returns the contract.
	if _, err := pricing.Contracts.Upsert(ctx, pr, pricing.UpsertRuleRequest[pricing.Contract]{RequestID: "u2", Rule: contract}); err != nil || versions(t, s) != vs {
		t.Fatalf("unchanged update: %v, versions %+v", err, versions(t, s))
	}
	if r, err := pricing.Contracts.Upsert(ctx, pr, pricing.UpsertRuleRequest[pricing.Contract]{RequestID: "u1", Rule: contract, AllowMissing: true}); err != nil || r.Etag != got.Etag {
		t.Fatalf("replay: %+v, %v", r, err)
	}
	changed := contract
	changed.Terms = []pricing.ContractTerm{{SKU: "P-1", Fixed: true, UnitMinor: 900}}
	if _, err := pricing.Contracts.Upsert(ctx, pr, pricing.UpsertRuleRequest[pricing.Contract]{RequestID: "u1", Rule: changed}); !errors.Is(err, pricing.ErrIdempotencyKeyReused) {
		t.Fatalf("reused request id: %v", err)
	}
	if _, err := pricing.Contracts.Upsert(ctx, pr, pricing.UpsertRuleRequest[pricing.Contract]{RequestID: "u3", Rule: changed, ExpectedEtag: "stale"}); !errors.Is(err, pricing.ErrConcurrentModification) {
		t.Fatalf("stale etag: %v", err)
	}
	if _, err := pricing.Contracts.Upsert(ctx, pr, pricing.UpsertRuleRequest[pricing.Contract]{RequestID: "u4", Rule: changed, ValidateOnly: true}); err != nil || versions(t, s) != vs {
		t.Fatalf("validate only: %v, versions %+v", err, versions(t, s))
	}
	if r, err := pricing.Contracts.Get(ctx, pr, "K-1"); err != nil || r.Terms[0].UnitMinor != 1000 {
		t.Fatalf("get after validate only = %+v, %v", r, err)
	}
	bad := contract
	bad.Window = pricing.Window{Start: now, End: now}
	if _, err := pricing.Contracts.Upsert(ctx, pr, pricing.UpsertRuleRequest[pricing.Contract]{RequestID: "u5", Rule: bad}); !errors.Is(err, pricing.ErrInvalidEffectiveWindow) {
		t.Fatalf("empty window: %v", err)
	}

	// Channel rules and promotions, paged.
	for _, id := range []string{"R-3", "R-1", "R-2"} {
		if _, err := pricing.ChannelRules.Upsert(ctx, pr, pricing.UpsertRuleRequest[pricing.ChannelRule]{RequestID: "c" + id, AllowMissing: true,
			Rule: pricing.ChannelRule{ID: id, Channel: "web", Priority: 5}}); err != nil {
			t.Fatal(err)
		}
	}
	ids := keysetAll(t, 2, func(after string, limit int) ([]string, error) {
		rs, err := pricing.ChannelRules.List(ctx, pr, nil, after, limit)
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out, err
	})
	if len(ids) != 3 || ids[0] != "R-1" || ids[2] != "R-3" {
		t.Fatalf("channel rules listed %v", ids)
	}
	promo := pricing.Promotion{ID: "WELCOME", DisplayName: "Welcome", Code: "WELCOME10", Kind: pricing.PromoPercent, DiscountBps: 1000,
		Window: pricing.Window{Start: now.Add(-time.Hour)}}
	if _, err := pricing.Promotions.Upsert(ctx, pr, pricing.UpsertRuleRequest[pricing.Promotion]{RequestID: "p1", Rule: promo, AllowMissing: true}); err != nil {
		t.Fatal(err)
	}
	dup := promo
	dup.ID = "OTHER"
	var conflict *pricing.RuleConflictError
	if _, err := pricing.Promotions.Upsert(ctx, pr, pricing.UpsertRuleRequest[pricing.Promotion]{RequestID: "p2", Rule: dup, AllowMissing: true}); !errors.As(err, &conflict) {
		t.Fatalf("second promotion with the code: %v", err)
	}
	// C0002: contract 10.00, then 10 % off with the code = 9.00.
	if q := quoteP1(t, pr, "C0002", "welcome10"); q.Lines[0].UnitMinor != 900 || len(q.Promotions) != 1 || len(q.CodeIssues) != 0 {
		t.Fatalf("quote with contract and code = %+v, promotions %v, issues %v", q.Lines[0], q.Promotions, q.CodeIssues)
	}
	// Deletes.
	if err := pricing.Promotions.Delete(ctx, pr, pricing.DeleteRuleRequest{RequestID: "d1", ID: "WELCOME", ExpectedEtag: "stale"}); !errors.Is(err, pricing.ErrConcurrentModification) {
		t.Fatalf("delete with a stale etag: %v", err)
	}
	if err := pricing.Promotions.Delete(ctx, pr, pricing.DeleteRuleRequest{RequestID: "d2", ID: "WELCOME"}); err != nil {
		t.Fatal(err)
	}
	if _, err := pricing.Promotions.Get(ctx, pr, "WELCOME"); !errors.Is(err, pricing.ErrPromotionNotFound) {
		t.Fatalf("get deleted promotion: %v", err)
	}
	if err := pricing.Promotions.Delete(ctx, pr, pricing.DeleteRuleRequest{RequestID: "d3", ID: "WELCOME"}); !errors.Is(err, pricing.ErrPromotionNotFound) {
		t.Fatalf("delete missing promotion: %v", err)
	}
	if err := pricing.Promotions.Delete(ctx, pr, pricing.DeleteRuleRequest{RequestID: "d4", ID: "WELCOME", AllowMissing: true}); err != nil {
		t.Fatalf("delete missing promotion with allow_missing: %v", err)
	}
	if q := quoteP1(t, pr, "C0002", "WELCOME10"); q.Lines[0].UnitMinor != 1000 || len(q.CodeIssues) != 1 || q.CodeIssues[0].Reason != pricing.CodeUnknown {
		t.Fatalf("quote after the promotion's deletion = %+v, issues %v", q.Lines[0], q.CodeIssues)
	}
}

// testRulePublication: staged changes are invisible to quotes until
// PublishRules publishes them all as one price version; republishing
// brings an earlier rule set back as a new version; every publication is
// one event.
func testRulePublication(t *testing.T, s Stores) {
	ctx := t.Context()
	pr, _ := pricedCatalog(t, s)
	stage := func(id, customer string, unit int64) {
		t.Helper()
		if _, err := pricing.Contracts.Upsert(ctx, pr, pricing.UpsertRuleRequest[pricing.Contract]{RequestID: fmt.Sprintf("s-%s-%s-%d", id, customer, unit), AllowMissing: true, Draft: true,
			Rule: pricing.Contract{ID: id, CustomerID: customer, Currency: "EUR", Terms: []pricing.ContractTerm{{SKU: "P-1", Fixed: true, UnitMinor: unit}}}}); err != nil {
			t.Fatal(err)
		}
	}
	events := func() int64 {
		n, err := s.Unpublished(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := versions(t, s)
	stage("K-A", "C1", 1100)
	stage("K-B", "C2", 1200)
	if versions(t, s) != before {
		t.Fatalf("staging changed versions %+v", versions(t, s))
	}
	ev0 := events() // staging writes audit records only
	if q := quoteP1(t, pr, "C1"); q.Lines[0].UnitMinor != 1299 {
		t.Fatalf("staged contract applied: %+v", q.Lines[0])
	}
	res, err := pr.PublishRules(ctx, "pub1", false, operator)
	if err != nil || !res.Created || res.Contracts != 2 || res.PriceVersion != before.Price+1 {
		t.Fatalf("publish = %+v, %v", res, err)
	}
	if vs := versions(t, s); vs.Rules != res.PriceVersion || vs.Price != res.PriceVersion {
		t.Fatalf("versions after publish = %+v", vs)
	}
	if ev := events(); ev != ev0+2 {
		t.Fatalf("publication wrote %d events; want PricesChanged and its audit record", ev-ev0)
	}
	q1, q2 := quoteP1(t, pr, "C1"), quoteP1(t, pr, "C2")
	if q1.Lines[0].UnitMinor != 1100 || q2.Lines[0].UnitMinor != 1200 || q1.PriceVersion != res.PriceVersion {
		t.Fatalf("quotes after publish: %+v / %+v", q1, q2)
	}
	if again, err := pr.PublishRules(ctx, "pub2", false, operator); err != nil || again.Created || again.PriceVersion != res.PriceVersion {
		t.Fatalf("publish without changes = %+v, %v", again, err)
	}
	// A second publication changes K-A; rolling back brings 11.00 back.
	stage("K-A", "C1", 800)
	second, err := pr.PublishRules(ctx, "pub3", false, operator)
	if err != nil || quoteP1(t, pr, "C1").Lines[0].UnitMinor != 800 {
		t.Fatalf("second publish = %+v, %v", second, err)
	}
	back, err := pr.RepublishRules(ctx, "rb1", 0, operator)
	if err != nil || back.PriceVersion != second.PriceVersion+1 {
		t.Fatalf("republish = %+v, %v", back, err)
	}
	if q := quoteP1(t, pr, "C1"); q.Lines[0].UnitMinor != 1100 || q.PriceVersion != back.PriceVersion {
		t.Fatalf("quote after republish = %+v at %d", q.Lines[0], q.PriceVersion)
	}
	if c, err := pricing.Contracts.Get(ctx, pr, "K-A"); err != nil || c.Terms[0].UnitMinor != 1100 {
		t.Fatalf("draft after republish = %+v, %v", c, err)
	}
	if _, err := pr.RepublishRules(ctx, "rb2", before.Price, operator); !errors.Is(err, pricing.ErrPriceVersionNotFound) {
		t.Fatalf("republish of a version without rules: %v", err)
	}
	// Concurrent publications each get their own version.
	errs := make(chan error, 4)
	for i := range 4 {
		go func() {
			_, err := pricing.ChannelRules.Upsert(context.WithoutCancel(ctx), pr, pricing.UpsertRuleRequest[pricing.ChannelRule]{
				RequestID: "cr" + string(rune('a'+i)), AllowMissing: true, Rule: pricing.ChannelRule{ID: "R" + string(rune('a'+i)), Channel: "web"}})
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if vs := versions(t, s); vs.Price != back.PriceVersion+4 || vs.Rules != vs.Price {
		t.Fatalf("versions after 4 concurrent changes = %+v; want %d", vs, back.PriceVersion+4)
	}
	final, err := s.Pricing.PublishedRuleSet(ctx, versions(t, s).Rules)
	if err != nil || len(final.Rules) != 4 || len(final.Contracts) != 2 {
		t.Fatalf("published rule set = %+v, %v", final, err)
	}
}
