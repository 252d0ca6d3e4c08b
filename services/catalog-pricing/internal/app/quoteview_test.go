package app_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
)

// TestQuoteViewsAndMemoizedResponses, over gRPC with the service's codec:
// a repeated quote (served as the bytes its memoized response was
// marshalled to) equals the first, computed one; the summary view is the
// full view without candidates; two customers never get each other's
// response; a contract change and a price change reach both views at once.
func TestQuoteViewsAndMemoizedResponses(t *testing.T) {
	t.Parallel()
	in, _ := startReady(t)
	ctx := t.Context()
	req := func(customer string, view catalogv1.QuoteView) *catalogv1.QuotePricesRequest {
		r := quoteReq("web", line(sku(1), 3), line(sku(2), 1))
		r.CustomerId, r.View = customer, view
		return r
	}
	quote := func(r *catalogv1.QuotePricesRequest) *catalogv1.QuotePricesResponse {
		t.Helper()
		q, err := in.pricing.QuotePrices(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	noCandidates := protocmp.IgnoreFields(&catalogv1.QuoteLine{}, "candidates")
	// check quotes customer in both views (twice each, the repeat from the
	// memo) and returns the full view after checking the summary against it.
	check := func(customer string, wantUnit1 int64) *catalogv1.QuotePricesResponse {
		t.Helper()
		full := quote(req(customer, catalogv1.QuoteView_QUOTE_VIEW_UNSPECIFIED))
		for _, view := range []catalogv1.QuoteView{catalogv1.QuoteView_QUOTE_VIEW_UNSPECIFIED, catalogv1.QuoteView_QUOTE_VIEW_FULL} {
			if diff := cmp.Diff(full, quote(req(customer, view)), protocmp.Transform()); diff != "" {
				t.Fatalf("%s: repeated full quote (%v) differs (-first +repeat):\n%s", customer, view, diff)
			}
		}
		summary := quote(req(customer, catalogv1.QuoteView_QUOTE_VIEW_SUMMARY))
		if diff := cmp.Diff(summary, quote(req(customer, catalogv1.QuoteView_QUOTE_VIEW_SUMMARY)), protocmp.Transform()); diff != "" {
			t.Fatalf("%s: repeated summary differs (-first +repeat):\n%s", customer, diff)
		}
		if diff := cmp.Diff(full, summary, protocmp.Transform(), noCandidates); diff != "" {
			t.Fatalf("%s: summary is not the full quote without candidates (-full +summary):\n%s", customer, diff)
		}
		for i, l := range full.GetLines() {
			if len(l.GetCandidates()) == 0 || len(summary.GetLines()[i].GetCandidates()) != 0 || l.GetWinningRule().GetExplanation() == "" {
				t.Fatalf("%s line %d: full has %d candidates, summary %d; winning rule %v", customer, i,
					len(l.GetCandidates()), len(summary.GetLines()[i].GetCandidates()), l.GetWinningRule())
			}
		}
		if got := full.GetLines()[0].GetUnitPrice().GetAmountMinor(); got != wantUnit1 {
			t.Fatalf("%s: unit price of %s = %d; want %d", customer, sku(1), got, wantUnit1)
		}
		return full
	}
	check("C-LIST", standardPrice(1))
	if _, err := in.pricing.UpdateCustomerContract(ctx, &catalogv1.UpdateCustomerContractRequest{RequestId: "memo-k1", AllowMissing: true,
		CustomerContract: &catalogv1.CustomerContract{Name: "customerContracts/MEMO", CustomerId: "C-CONTRACT", CurrencyCode: "EUR",
			Terms: []*catalogv1.ContractTerm{{Scope: &catalogv1.ContractTerm_Sku{Sku: sku(1)},
				Pricing: &catalogv1.ContractTerm_DiscountBps{DiscountBps: 1000}}}}}); err != nil {
		t.Fatal(err)
	}
	list := check("C-LIST", standardPrice(1))
	contract := check("C-CONTRACT", standardPrice(1)*9/10)
	if contract.GetEtag() == list.GetEtag() || contract.GetLines()[0].GetWinningRule().GetKind() != catalogv1.RuleKind_RULE_KIND_CUSTOMER_CONTRACT {
		t.Fatalf("contract customer's quote = %v", contract.GetLines()[0])
	}
	// A contract change (new price version) reaches the next quote at once.
	if _, err := in.pricing.UpdateCustomerContract(ctx, &catalogv1.UpdateCustomerContractRequest{RequestId: "memo-k2",
		CustomerContract: &catalogv1.CustomerContract{Name: "customerContracts/MEMO", CustomerId: "C-CONTRACT", CurrencyCode: "EUR",
			Etag: "", Terms: []*catalogv1.ContractTerm{{Scope: &catalogv1.ContractTerm_Sku{Sku: sku(1)},
				Pricing: &catalogv1.ContractTerm_DiscountBps{DiscountBps: 2000}}}}}); err != nil {
		t.Fatal(err)
	}
	if q := check("C-CONTRACT", standardPrice(1)*8/10); q.GetPriceVersion() <= contract.GetPriceVersion() {
		t.Fatalf("price version %d after the contract change; was %d", q.GetPriceVersion(), contract.GetPriceVersion())
	}
	// A list price change reaches both customers at once.
	if _, err := in.pricing.ImportPrices(ctx, &catalogv1.ImportPricesRequest{
		RequestId: "memo-reprice", PriceList: "priceLists/PL-EUR", Source: "test", Mode: catalogv1.ImportMode_IMPORT_MODE_UPSERT,
		Rows: []*catalogv1.PriceImportRow{{RowNumber: 1, Sku: sku(1), UnitPrice: eur(3000)}},
	}); err != nil {
		t.Fatal(err)
	}
	check("C-LIST", 3000)
	check("C-CONTRACT", 2400)
}
