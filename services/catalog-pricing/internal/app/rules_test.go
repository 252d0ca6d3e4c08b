package app_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
)

func violations(err error) []string {
	var out []string
	st, _ := status.FromError(err)
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, v.GetField())
			}
		}
	}
	return out
}

// TestRuleRPCs: contracts, channel rules and promotions through the gRPC
// API: request validation with field violations, upsert, get, filtered
// paged lists, quotes that apply and explain them, code issues, deletion,
// staged changes published as one price version, and the contract import
// with per-row outcomes.
func TestRuleRPCs(t *testing.T) {
	t.Parallel()
	in, _ := startReady(t)
	ctx := t.Context()
	pc := in.pricing

	// Validation: a contract without terms and with a bad currency.
	_, err := pc.UpdateCustomerContract(ctx, &catalogv1.UpdateCustomerContractRequest{RequestId: "v1", AllowMissing: true,
		CustomerContract: &catalogv1.CustomerContract{Name: "customerContracts/K-1", CustomerId: "C0002", CurrencyCode: "eur"}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(strings.Join(violations(err), ","), "customer_contract.terms") {
		t.Fatalf("invalid contract: %v (violations %v)", err, violations(err))
	}

	contract := &catalogv1.CustomerContract{Name: "customerContracts/K-1", CustomerId: "C0002", CurrencyCode: "EUR",
		Terms: []*catalogv1.ContractTerm{
			{Scope: &catalogv1.ContractTerm_Sku{Sku: sku(1)}, Pricing: &catalogv1.ContractTerm_UnitPrice{UnitPrice: eur(1000)}},
			{Scope: &catalogv1.ContractTerm_Sku{Sku: sku(2)}, Pricing: &catalogv1.ContractTerm_DiscountBps{DiscountBps: 2000}},
		}}
	got, err := pc.UpdateCustomerContract(ctx, &catalogv1.UpdateCustomerContractRequest{RequestId: "c1", AllowMissing: true, CustomerContract: contract})
	if err != nil || got.GetEtag() == "" || got.GetCreateTime() == nil {
		t.Fatalf("create contract = %v, %v", got, err)
	}
	margin := int32(1000)
	if _, err := pc.UpdateChannelRule(ctx, &catalogv1.UpdateChannelRuleRequest{RequestId: "r1", AllowMissing: true,
		ChannelRule: &catalogv1.ChannelRule{Name: "channelRules/B2B", Channel: "b2b", AdjustmentBps: -500,
			Rounding: catalogv1.ChannelRule_ROUNDING_NINETY_NINE, MinMarginBps: &margin, ExcludedSkus: []string{sku(5)}}}); err != nil {
		t.Fatal(err)
	}
	start := timestamppb.New(time.Now().Add(-time.Hour))
	if _, err := pc.UpdatePromotion(ctx, &catalogv1.UpdatePromotionRequest{RequestId: "p1", AllowMissing: true,
		Promotion: &catalogv1.Promotion{Name: "promotions/WELCOME", DisplayName: "Welcome", Trigger: catalogv1.Promotion_TRIGGER_CODE,
			Code: "WELCOME10", Discount: &catalogv1.Promotion_DiscountBps{DiscountBps: 1000}, StartTime: start,
			Combinability: catalogv1.Promotion_COMBINABILITY_STACKABLE, PerCustomerLimit: 1}}); err != nil {
		t.Fatal(err)
	}
	// A CODE promotion without a code is refused with the field named.
	_, err = pc.UpdatePromotion(ctx, &catalogv1.UpdatePromotionRequest{RequestId: "p2", AllowMissing: true,
		Promotion: &catalogv1.Promotion{Name: "promotions/BAD", DisplayName: "Bad", Trigger: catalogv1.Promotion_TRIGGER_CODE,
			Discount: &catalogv1.Promotion_DiscountBps{DiscountBps: 1000}, StartTime: start}})
	if status.Code(err) != codes.InvalidArgument || strings.Join(violations(err), ",") != "code" {
		t.Fatalf("code promotion without code: %v", err)
	}

	q, err := pc.QuotePrices(ctx, &catalogv1.QuotePricesRequest{CustomerId: "C0002", Channel: "web", CurrencyCode: "EUR",
		Lines: []*catalogv1.QuoteRequestLine{line(sku(1), 2), line(sku(2), 1)}, PromotionCodes: []string{"welcome10", "NOPE"}})
	if err != nil {
		t.Fatal(err)
	}
	l1, l2 := q.GetLines()[0], q.GetLines()[1]
	// web: contract 10.00 then 10 % stacked = 9.00; SKU 2: 20 % off 15.00 = 12.00, then 10 % = 10.80.
	if l1.GetUnitPrice().GetAmountMinor() != 900 || l2.GetUnitPrice().GetAmountMinor() != standardPrice(2)*8/10*9/10 {
		t.Fatalf("contract + promotion lines: %v / %v", l1, l2)
	}
	if l1.GetWinningRule().GetKind() != catalogv1.RuleKind_RULE_KIND_PROMOTION || l1.GetCandidates()[1].GetRule().GetRule() != "customerContracts/K-1" {
		t.Fatalf("line 1 explanation: %v", l1)
	}
	if len(q.GetPromotionCodeIssues()) != 1 || q.GetPromotionCodeIssues()[0].GetCode() != "NOPE" ||
		q.GetPromotionCodeIssues()[0].GetReason() != catalogv1.PromotionCodeIssue_REASON_UNKNOWN ||
		strings.Join(q.GetAppliedPromotions(), ",") != "promotions/WELCOME" {
		t.Fatalf("issues %v, applied %v", q.GetPromotionCodeIssues(), q.GetAppliedPromotions())
	}
	// Another customer in b2b: B2B list 11.25, −5 % = 10.69, rounded down to
	// 9.99 (no cost price, so no margin floor); SKU 5 is excluded.
	q, err = pc.QuotePrices(ctx, &catalogv1.QuotePricesRequest{CustomerId: "C0003", Channel: "b2b", CurrencyCode: "EUR",
		Lines: []*catalogv1.QuoteRequestLine{line(sku(1), 1), line(sku(5), 1)}, AllowPartial: true})
	if err != nil {
		t.Fatal(err)
	}
	if u := q.GetLines()[0].GetUnitPrice().GetAmountMinor(); u != 999 || q.GetLines()[1].GetErrorReason() != catalogv1.ErrorReason_ERROR_REASON_PRODUCT_NOT_SELLABLE {
		t.Fatalf("b2b lines: %v", q.GetLines())
	}

	// Lists with filters and pages.
	for _, id := range []string{"K-2", "K-3"} {
		c := &catalogv1.CustomerContract{Name: "customerContracts/" + id, CustomerId: "C0009", CurrencyCode: "EUR", Terms: contract.GetTerms()}
		if _, err := pc.UpdateCustomerContract(ctx, &catalogv1.UpdateCustomerContractRequest{RequestId: "c-" + id, AllowMissing: true, CustomerContract: c}); err != nil {
			t.Fatal(err)
		}
	}
	all := pageAll(t, func(token string) ([]string, string, error) {
		r, err := pc.ListCustomerContracts(ctx, &catalogv1.ListCustomerContractsRequest{PageSize: 1, PageToken: token, Filter: `customer_id = "C0009"`})
		return names(r.GetCustomerContracts()), r.GetNextPageToken(), err
	})
	if strings.Join(all, ",") != "customerContracts/K-2,customerContracts/K-3" {
		t.Fatalf("filtered contracts = %v", all)
	}
	if _, err := pc.ListPromotions(ctx, &catalogv1.ListPromotionsRequest{Filter: `colour = "red"`}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad filter: %v", err)
	}
	ps, err := pc.ListPromotions(ctx, &catalogv1.ListPromotionsRequest{Filter: `trigger = CODE AND code = "welcome10"`})
	if err != nil || len(ps.GetPromotions()) != 1 || ps.GetPromotions()[0].GetPerCustomerLimit() != 1 {
		t.Fatalf("promotions by code = %v, %v", ps, err)
	}

	// Staged deletion: quotes keep the contract until the draft is published.
	if _, err := pc.DeleteCustomerContract(ctx, &catalogv1.DeleteCustomerContractRequest{RequestId: "d1", Name: "customerContracts/K-1", Draft: true}); err != nil {
		t.Fatal(err)
	}
	quoteC2 := func() *catalogv1.QuotePricesResponse {
		q, err := pc.QuotePrices(ctx, &catalogv1.QuotePricesRequest{CustomerId: "C0002", Channel: "web", CurrencyCode: "EUR",
			Lines: []*catalogv1.QuoteRequestLine{line(sku(1), 1)}})
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	pv := q.GetPriceVersion() + 2 // K-2 and K-3
	if q := quoteC2(); q.GetLines()[0].GetUnitPrice().GetAmountMinor() != 1000 || q.GetPriceVersion() != pv {
		t.Fatalf("staged deletion applied: %v", q)
	}
	pub, err := pc.PublishPriceRules(ctx, &catalogv1.PublishPriceRulesRequest{RequestId: "pub"})
	if err != nil || !pub.GetCreated() || pub.GetPriceVersion() != pv+1 || pub.GetCustomerContractCount() != 2 {
		t.Fatalf("publish = %v, %v", pub, err)
	}
	if q := quoteC2(); q.GetLines()[0].GetUnitPrice().GetAmountMinor() != standardPrice(1) || q.GetPriceVersion() != pv+1 {
		t.Fatalf("after publishing the deletion: %v", q)
	}
	back, err := pc.RepublishPriceRules(ctx, &catalogv1.RepublishPriceRulesRequest{RequestId: "back"})
	if err != nil || back.GetPriceVersion() != pv+2 || quoteC2().GetLines()[0].GetUnitPrice().GetAmountMinor() != 1000 {
		t.Fatalf("republish = %v, %v", back, err)
	}

	// Import: a bad row is rejected with its field, the good one applied.
	imp, err := pc.ImportCustomerContracts(ctx, &catalogv1.ImportCustomerContractsRequest{RequestId: "imp", Source: "erp",
		Rows: []*catalogv1.ContractImportRow{
			{RowNumber: 1, CustomerContract: &catalogv1.CustomerContract{Name: "customerContracts/K-9", CustomerId: "C0100", CurrencyCode: "EUR", Terms: contract.GetTerms()}},
			{RowNumber: 2, CustomerContract: &catalogv1.CustomerContract{Name: "customerContracts/K-10", CustomerId: "C0101", CurrencyCode: "EURO", Terms: contract.GetTerms()}},
		}})
	if err != nil || imp.GetCreatedCount() != 1 || imp.GetRejectedCount() != 1 || imp.GetResults()[1].GetField() != "customer_contract.currency_code" ||
		imp.GetPriceVersion() != pv+3 {
		t.Fatalf("import = %v, %v", imp, err)
	}
	again, err := pc.ImportCustomerContracts(ctx, &catalogv1.ImportCustomerContractsRequest{RequestId: "imp", Source: "erp",
		Rows: []*catalogv1.ContractImportRow{
			{RowNumber: 1, CustomerContract: &catalogv1.CustomerContract{Name: "customerContracts/K-9", CustomerId: "C0100", CurrencyCode: "EUR", Terms: contract.GetTerms()}},
			{RowNumber: 2, CustomerContract: &catalogv1.CustomerContract{Name: "customerContracts/K-10", CustomerId: "C0101", CurrencyCode: "EURO", Terms: contract.GetTerms()}},
		}})
	if err != nil || again.GetPriceVersion() != imp.GetPriceVersion() || again.GetCreatedCount() != 1 {
		t.Fatalf("replayed import = %v, %v", again, err)
	}

	// Reservations: WELCOME allows one use per customer.
	res, err := pc.ReservePromotions(ctx, &catalogv1.ReservePromotionsRequest{ReservationId: "order-1", CustomerId: "C0002", Promotions: []string{"promotions/WELCOME"}})
	if err != nil || res.GetState() != catalogv1.ReservePromotionsResponse_STATE_RESERVED {
		t.Fatalf("reserve = %v, %v", res, err)
	}
	_, err = pc.ReservePromotions(ctx, &catalogv1.ReservePromotionsRequest{ReservationId: "order-2", CustomerId: "C0002", Promotions: []string{"promotions/WELCOME"}})
	if status.Code(err) != codes.FailedPrecondition || !hasReason(err, "ERROR_REASON_PROMOTION_CODE_INVALID") {
		t.Fatalf("second use of a once-per-customer coupon: %v", err)
	}
	if r, err := pc.ReleasePromotionReservation(ctx, &catalogv1.ReleasePromotionReservationRequest{ReservationId: "order-1"}); err != nil ||
		r.GetState() != catalogv1.ReservePromotionsResponse_STATE_RELEASED {
		t.Fatalf("release = %v, %v", r, err)
	}
	if _, err := pc.ReservePromotions(ctx, &catalogv1.ReservePromotionsRequest{ReservationId: "order-2", CustomerId: "C0002", Promotions: []string{"promotions/WELCOME"}}); err != nil {
		t.Fatalf("reserve after release: %v", err)
	}
	if r, err := pc.RedeemPromotionReservation(ctx, &catalogv1.RedeemPromotionReservationRequest{ReservationId: "order-2"}); err != nil ||
		r.GetState() != catalogv1.ReservePromotionsResponse_STATE_COMMITTED {
		t.Fatalf("redeem = %v, %v", r, err)
	}
}
