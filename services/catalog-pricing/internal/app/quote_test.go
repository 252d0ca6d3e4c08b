package app_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"buf.build/go/protovalidate"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/testharness/redistest"
	"github.com/transload/transload/services/catalog-pricing/internal/erptest"
)

func quoteReq(channel string, lines ...*catalogv1.QuoteRequestLine) *catalogv1.QuotePricesRequest {
	return &catalogv1.QuotePricesRequest{Channel: channel, CurrencyCode: "EUR", Lines: lines}
}

func line(sku string, qty int64) *catalogv1.QuoteRequestLine {
	return &catalogv1.QuoteRequestLine{Sku: sku, Quantity: qty}
}

func TestQuoteAtListPrice(t *testing.T) {
	t.Parallel()
	in, _ := startReady(t)
	before := time.Now()
	q, err := in.pricing.QuotePrices(t.Context(), quoteReq("web", line(sku(1), 3), line(sku(2), 1), line(sku(1), 2)))
	if err != nil {
		t.Fatal(err)
	}
	wantUnits := []int64{standardPrice(1), standardPrice(2), standardPrice(1)}
	qtys := []int64{3, 1, 2}
	var total int64
	for i, l := range q.GetLines() {
		unit, ext := l.GetUnitPrice().GetAmountMinor(), l.GetExtendedPrice().GetAmountMinor()
		if unit != wantUnits[i] || ext != wantUnits[i]*qtys[i] || l.GetListPrice().GetAmountMinor() != wantUnits[i] ||
			l.GetLineIndex() != int32(i) || l.GetQuantity() != qtys[i] || l.GetUnitPrice().GetCurrencyCode() != "EUR" {
			t.Errorf("line %d = %v; want unit %d × %d", i, l, wantUnits[i], qtys[i])
		}
		if w := l.GetWinningRule(); w.GetKind() != catalogv1.RuleKind_RULE_KIND_LIST_PRICE ||
			w.GetRule() != "priceLists/PL-EUR/prices/"+l.GetSku() || !strings.Contains(w.GetExplanation(), "PL-EUR") {
			t.Errorf("line %d winning rule = %v", i, w)
		}
		if len(l.GetCandidates()) != 1 || l.GetCandidates()[0].GetOutcome() != catalogv1.PriceCandidate_OUTCOME_WON {
			t.Errorf("line %d candidates = %v; the web channel sees only PL-EUR", i, l.GetCandidates())
		}
		total += ext
	}
	if len(q.GetLines()) != 3 || q.GetTotal().GetAmountMinor() != total || q.GetListTotal().GetAmountMinor() != total {
		t.Fatalf("totals = %v / %v, want %d over 3 lines", q.GetTotal(), q.GetListTotal(), total)
	}
	if q.GetCatalogVersion() != 1 || q.GetPriceVersion() < 1 || q.GetEtag() == "" {
		t.Errorf("versions = catalog %d, price %d, etag %q", q.GetCatalogVersion(), q.GetPriceVersion(), q.GetEtag())
	}
	exp := q.GetExpireTime().AsTime()
	if pt := q.GetPriceTime().AsTime(); pt.Before(before.Add(-time.Second)) || !exp.After(pt) || exp.Sub(pt) > 15*time.Minute {
		t.Errorf("price_time %v, expire_time %v: want now and at most 15 minutes later", pt, exp)
	}

	// b2b: the channel-specific list wins the tie; the all-channel list is
	// reported as beaten.
	q, err = in.pricing.QuotePrices(t.Context(), quoteReq("b2b", line(sku(4), 10)))
	if err != nil {
		t.Fatal(err)
	}
	l := q.GetLines()[0]
	b2b := standardPrice(4) * 9 / 10
	if l.GetUnitPrice().GetAmountMinor() != b2b || l.GetExtendedPrice().GetAmountMinor() != b2b*10 ||
		l.GetWinningRule().GetRule() != "priceLists/PL-B2B-EUR/prices/"+sku(4) {
		t.Fatalf("b2b line = %v", l)
	}
	wantCands := []*catalogv1.PriceCandidate{
		{Rule: l.GetWinningRule(), UnitPrice: eur(b2b), Outcome: catalogv1.PriceCandidate_OUTCOME_WON},
		{Rule: l.GetCandidates()[1].GetRule(), UnitPrice: eur(standardPrice(4)), Outcome: catalogv1.PriceCandidate_OUTCOME_BEATEN,
			LossReason: catalogv1.PriceCandidate_LOSS_REASON_LOWER_PRIORITY},
	}
	if diff := cmp.Diff(wantCands, l.GetCandidates(), protocmp.Transform()); diff != "" {
		t.Errorf("b2b candidates (-want +got):\n%s", diff)
	}
	if l.GetCandidates()[1].GetRule().GetRule() != "priceLists/PL-EUR/prices/"+sku(4) {
		t.Errorf("beaten candidate = %v", l.GetCandidates()[1])
	}
}

// TestQuoteUnknownSKU: without allow_partial the call fails as the contract
// says (the first failing line's reason with "sku" and "line_index"), plus a
// BadRequest violation on lines[i].sku so callers can point at the line;
// with allow_partial the line carries the reason and totals skip it.
func TestQuoteUnknownSKU(t *testing.T) {
	t.Parallel()
	in, _ := startReady(t)
	_, err := in.pricing.QuotePrices(t.Context(), quoteReq("web", line(sku(1), 1), line("NO-SUCH-SKU", 2)))
	if status.Code(err) != codes.NotFound {
		t.Fatalf("unknown SKU: %v, want NotFound", err)
	}
	info := apierr.Info(err)
	if info.GetReason() != "ERROR_REASON_PRODUCT_NOT_FOUND" || info.GetMetadata()["sku"] != "NO-SUCH-SKU" ||
		info.GetMetadata()["line_index"] != "1" || info.GetMetadata()["catalog_version"] != "catalogVersions/1" {
		t.Fatalf("error info = %v", info)
	}
	vs := apierr.FieldViolations(err)
	if len(vs) != 1 || vs[0].Field != "lines[1].sku" || vs[0].Reason != "ERROR_REASON_PRODUCT_NOT_FOUND" {
		t.Fatalf("field violations = %+v", vs)
	}

	req := quoteReq("web", line(sku(1), 1), line("NO-SUCH-SKU", 2))
	req.AllowPartial = true
	q, err := in.pricing.QuotePrices(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := q.GetLines()[1]; got.GetErrorReason() != catalogv1.ErrorReason_ERROR_REASON_PRODUCT_NOT_FOUND ||
		got.GetUnitPrice() != nil || got.GetLineIndex() != 1 {
		t.Fatalf("partial line = %v", got)
	}
	if q.GetTotal().GetAmountMinor() != standardPrice(1) {
		t.Fatalf("partial total = %v, want only the priced line", q.GetTotal())
	}
	metrics := in.get(t, "/metrics")
	for _, want := range []string{
		`transload_catalog_quotes_total{result="ERROR_REASON_PRODUCT_NOT_FOUND"} 1`,
		`transload_catalog_quotes_total{result="ok"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestQuoteRejections(t *testing.T) {
	t.Parallel()
	in, _ := startReady(t)
	cases := []struct {
		name   string
		req    *catalogv1.QuotePricesRequest
		code   codes.Code
		reason string
		field  string
	}{
		{"discontinued product", quoteReq("web", line(sku(3), 1)), codes.FailedPrecondition,
			"ERROR_REASON_PRODUCT_NOT_SELLABLE", "lines[0].sku"},
		{"channel not in the assortment", quoteReq("marketplace", line(sku(1), 1)), codes.FailedPrecondition,
			"ERROR_REASON_PRODUCT_NOT_SELLABLE", "lines[0].sku"},
		{"currency without prices", &catalogv1.QuotePricesRequest{Channel: "web", CurrencyCode: "USD",
			Lines: []*catalogv1.QuoteRequestLine{line(sku(1), 1)}}, codes.InvalidArgument,
			"ERROR_REASON_CURRENCY_MISMATCH", "currency_code"},
		{"invalid quantity (protovalidate)", quoteReq("web", line(sku(1), 0)), codes.InvalidArgument,
			"ERROR_REASON_VALIDATION_FAILED", "lines[0].quantity"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := in.pricing.QuotePrices(t.Context(), c.req)
			if status.Code(err) != c.code || apierr.ReasonOf(err) != c.reason {
				t.Fatalf("err = %v (reason %s), want %s %s", err, apierr.ReasonOf(err), c.code, c.reason)
			}
			vs := apierr.FieldViolations(err)
			if len(vs) == 0 || vs[0].Field != c.field {
				t.Fatalf("violations = %+v, want field %s", vs, c.field)
			}
		})
	}
	_, err := in.pricing.QuotePrices(t.Context(), cases[2].req)
	if md := apierr.Info(err).GetMetadata(); md["expected_currency_code"] != "EUR" || md["currency_code"] != "USD" {
		t.Errorf("currency mismatch metadata = %v", md)
	}
}

// TestQuoteValidationOverGRPC: the service checks QuotePrices requests
// itself (grpcapi.PricingServiceDesc: a pre-check equivalent to
// protovalidate, protovalidate for the refusal) instead of the platform's
// interceptor. Bad requests still get INVALID_ARGUMENT with exactly the
// field violations protovalidate names, and requests at every bound the
// rules allow are priced.
func TestQuoteValidationOverGRPC(t *testing.T) {
	t.Parallel()
	in, _ := startReady(t)
	v, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	id64 := "A" + strings.Repeat("b.-_", 15) + "xyz" // 64 characters, the longest id
	bad := map[string]*catalogv1.QuotePricesRequest{
		"no lines":            quoteReq("web"),
		"zero quantity":       quoteReq("web", line(sku(1), 0)),
		"quantity over 1e9":   quoteReq("web", line(sku(1), 1_000_000_001)),
		"sku with a slash":    quoteReq("web", line("SKU/1", 1)),
		"sku of 65":           quoteReq("web", line(id64+"9", 1)),
		"upper-case channel":  quoteReq("Web", line(sku(1), 1)),
		"lower-case currency": {Channel: "web", CurrencyCode: "eur", Lines: []*catalogv1.QuoteRequestLine{line(sku(1), 1)}},
		"customer with space": {CustomerId: "C 1", Channel: "web", CurrencyCode: "EUR", Lines: []*catalogv1.QuoteRequestLine{line(sku(1), 1)}},
		"code too short":      {Channel: "web", CurrencyCode: "EUR", PromotionCodes: []string{"AB"}, Lines: []*catalogv1.QuoteRequestLine{line(sku(1), 1)}},
		"undefined view":      {Channel: "web", CurrencyCode: "EUR", View: 7, Lines: []*catalogv1.QuoteRequestLine{line(sku(1), 1)}},
		"two bad fields":      {Channel: "-web", CurrencyCode: "EUR", Lines: []*catalogv1.QuoteRequestLine{line(sku(1), -5)}},
	}
	for name, req := range bad {
		t.Run(name, func(t *testing.T) {
			var verr *protovalidate.ValidationError
			if !errors.As(v.Validate(req), &verr) {
				t.Fatalf("protovalidate accepts the request")
			}
			want := apierr.FieldViolations(apierr.FromValidationError(verr))
			_, err := in.pricing.QuotePrices(t.Context(), req)
			if status.Code(err) != codes.InvalidArgument || apierr.ReasonOf(err) != "ERROR_REASON_VALIDATION_FAILED" {
				t.Fatalf("err = %v (reason %s), want InvalidArgument VALIDATION_FAILED", err, apierr.ReasonOf(err))
			}
			if got := apierr.FieldViolations(err); !reflect.DeepEqual(got, want) {
				t.Fatalf("violations = %+v, want protovalidate's %+v", got, want)
			}
		})
	}
	// At the bounds: a 64-character customer id, ten 32-character codes,
	// a quantity of 1e9 and the summary view are priced.
	codes32 := make([]string, 10)
	for i := range codes32 {
		codes32[i] = fmt.Sprintf("CODE-%027d", i)
	}
	ok := &catalogv1.QuotePricesRequest{CustomerId: id64, Channel: "web", CurrencyCode: "EUR", PromotionCodes: codes32,
		View: catalogv1.QuoteView_QUOTE_VIEW_SUMMARY, Lines: []*catalogv1.QuoteRequestLine{line(sku(1), 1_000_000_000)}}
	if err := v.Validate(ok); err != nil {
		t.Fatalf("protovalidate refuses the bound request: %v", err)
	}
	q, err := in.pricing.QuotePrices(t.Context(), ok)
	if err != nil {
		t.Fatalf("request at the bounds: %v", err)
	}
	if len(q.GetLines()) != 1 || len(q.GetPromotionCodeIssues()) != 10 {
		t.Fatalf("quote = %v", q)
	}
}

// TestPublishAndPriceChangesInvalidateQuotes: cached quotes are keyed by
// catalog and price version, so a price import or a publish is visible to
// the very next quote.
func TestPublishAndPriceChangesInvalidateQuotes(t *testing.T) {
	t.Parallel()
	in, _ := startReady(t)
	ctx := t.Context()
	req := quoteReq("web", line(sku(2), 4))
	q1, err := in.pricing.QuotePrices(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	q1again, err := in.pricing.QuotePrices(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(q1, q1again, protocmp.Transform()); diff != "" {
		t.Fatalf("identical quotes differ (-first +second):\n%s", diff)
	}

	// A price change bumps price_version: the next quote has the new price.
	imp, err := in.pricing.ImportPrices(ctx, &catalogv1.ImportPricesRequest{
		RequestId: "reprice-1", PriceList: "priceLists/PL-EUR", Source: "test", Mode: catalogv1.ImportMode_IMPORT_MODE_UPSERT,
		Rows: []*catalogv1.PriceImportRow{{RowNumber: 1, Sku: sku(2), UnitPrice: eur(4321)}},
	})
	if err != nil || imp.GetUpdatedCount() != 1 || imp.GetPriceVersion() <= q1.GetPriceVersion() {
		t.Fatalf("import prices = %v, %v", imp, err)
	}
	q2, err := in.pricing.QuotePrices(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if q2.GetPriceVersion() != imp.GetPriceVersion() || q2.GetTotal().GetAmountMinor() != 4321*4 || q2.GetEtag() == q1.GetEtag() {
		t.Fatalf("quote after repricing = price version %d total %v; want %d and %d", q2.GetPriceVersion(), q2.GetTotal(),
			imp.GetPriceVersion(), 4321*4)
	}

	// Discontinuing the product in the draft changes nothing until publish.
	p, err := in.catalog.GetProduct(ctx, &catalogv1.GetProductRequest{Name: "products/" + sku(2)})
	if err != nil {
		t.Fatal(err)
	}
	p.Status = catalogv1.ProductStatus_PRODUCT_STATUS_DISCONTINUED
	res, err := in.catalog.ImportProducts(ctx, &catalogv1.ImportProductsRequest{
		RequestId: "discontinue", Source: "test", Mode: catalogv1.ImportMode_IMPORT_MODE_UPSERT,
		Rows: []*catalogv1.ProductImportRow{{RowNumber: 1, Product: p}},
	})
	if err != nil || res.GetUpdatedCount() != 1 || res.GetCatalogVersion() != "catalogVersions/draft" {
		t.Fatalf("import = %v, %v", res, err)
	}
	if q, err := in.pricing.QuotePrices(ctx, req); err != nil || q.GetCatalogVersion() != 1 {
		t.Fatalf("quote before publish = %v, %v; want the current version 1 to still apply", q, err)
	}
	pub, err := in.catalog.PublishCatalog(ctx, &catalogv1.PublishCatalogRequest{RequestId: "pub-2", Note: "discontinue", ExpectedCurrentVersion: 1})
	if err != nil || !pub.GetCreated() || pub.GetCatalogVersion().GetVersion() != 2 || pub.GetCatalogVersion().GetChangedCount() != 1 {
		t.Fatalf("publish = %v, %v", pub, err)
	}
	_, err = in.pricing.QuotePrices(ctx, req)
	if status.Code(err) != codes.FailedPrecondition || apierr.ReasonOf(err) != "ERROR_REASON_PRODUCT_NOT_SELLABLE" {
		t.Fatalf("quote after publish: %v; want PRODUCT_NOT_SELLABLE from version 2", err)
	}
	q3, err := in.pricing.QuotePrices(ctx, quoteReq("web", line(sku(1), 1)))
	if err != nil || q3.GetCatalogVersion() != 2 {
		t.Fatalf("quote after publish = %v, %v; want catalog_version 2", q3, err)
	}
	// The guard rejects a publish on a stale version.
	_, err = in.catalog.PublishCatalog(ctx, &catalogv1.PublishCatalogRequest{RequestId: "pub-stale", ExpectedCurrentVersion: 1})
	if status.Code(err) != codes.Aborted || apierr.ReasonOf(err) != "ERROR_REASON_CATALOG_VERSION_CONFLICT" {
		t.Fatalf("stale publish: %v", err)
	}
}

// TestQuotesCachedInRedis: with REDIS_ADDR set the service caches quotes
// (the first quote is a miss on price-quote; the identical second one is
// answered from the in-memory memo in front of the cache, so it is neither
// a miss nor a recomputation) and keeps quoting while Redis is down.
func TestQuotesCachedInRedis(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	erp := newFakeERP()
	in := start(t, testEnv(t, map[string]string{"REDIS_ADDR": redis.Addr(), "CACHE_NAMESPACE": "catalog-test:"}), erptest.Serve(t, erp))
	in.waitReady(t)
	req := quoteReq("web", line(sku(1), 2))
	for range 2 {
		if _, err := in.pricing.QuotePrices(t.Context(), req); err != nil {
			t.Fatal(err)
		}
	}
	metrics := in.get(t, "/metrics")
	if !strings.Contains(metrics, `transload_cache_misses_total{cache="price-quote"} 1`) ||
		!strings.Contains(metrics, `transload_cache_hits_total{cache="price-quote"} 0`) {
		t.Fatalf("want 1 miss and no cache read for the repeat (memo) on price-quote in /metrics:\n%s", grepLines(metrics, "price-quote"))
	}
	redis.Stop()
	for i := range 3 {
		// New baskets: computed with Redis down.
		q, err := in.pricing.QuotePrices(t.Context(), quoteReq("web", line(sku(1), int64(3+i))))
		if err != nil || q.GetTotal().GetAmountMinor() != int64(3+i)*standardPrice(1) {
			t.Fatalf("quote %d with Redis down = %v, %v", i, q.GetTotal(), err)
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
