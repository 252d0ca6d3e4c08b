package grpcapi

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/transload/transload/gateway/internal/auth"
	"github.com/transload/transload/gateway/internal/neighbours"
	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/cache"
)

// quotePricing is a PricingServiceClient that records the quote request
// and answers one priced line per requested line plus fixed code issues.
type quotePricing struct {
	catalogv1.PricingServiceClient
	got    *catalogv1.QuotePricesRequest
	issues []*catalogv1.PromotionCodeIssue
}

func (p *quotePricing) QuotePrices(_ context.Context, req *catalogv1.QuotePricesRequest, _ ...grpc.CallOption) (*catalogv1.QuotePricesResponse, error) {
	p.got = req
	resp := &catalogv1.QuotePricesResponse{PromotionCodeIssues: p.issues, CatalogVersion: 3}
	for i, l := range req.GetLines() {
		m := &commonv1.Money{AmountMinor: 100 * l.GetQuantity(), CurrencyCode: req.GetCurrencyCode()}
		resp.Lines = append(resp.Lines, &catalogv1.QuoteLine{LineIndex: int32(i), Sku: l.GetSku(), Quantity: l.GetQuantity(),
			UnitPrice: &commonv1.Money{AmountMinor: 100, CurrencyCode: req.GetCurrencyCode()}, ExtendedPrice: m, ListPrice: m})
		resp.Total = &commonv1.Money{AmountMinor: resp.GetTotal().GetAmountMinor() + m.GetAmountMinor(), CurrencyCode: req.GetCurrencyCode()}
	}
	return resp, nil
}

// TestQuotePricesPromotionCodes: the storefront quote passes the entered
// codes to pricing (normalised) and returns pricing's code issues; without
// codes none are sent and none come back.
func TestQuotePricesPromotionCodes(t *testing.T) {
	pricing := &quotePricing{issues: []*catalogv1.PromotionCodeIssue{
		{Code: "GONE", Reason: catalogv1.PromotionCodeIssue_REASON_EXHAUSTED, Message: "limit reached"},
		{Code: "NOPE", Reason: catalogv1.PromotionCodeIssue_REASON_UNKNOWN},
	}}
	s, err := New(&neighbours.Clients{Pricing: pricing}, cache.NewMemoryStore(0, 0), Options{Currencies: []string{"EUR"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := auth.WithPrincipal(t.Context(), auth.Principal{KeyID: "key-test", Channel: "web", CustomerID: "C0001"})
	req := &storefrontv1.QuotePricesRequest{CurrencyCode: "EUR", PromotionCodes: []string{"welcome10", "gone", "NOPE", "Welcome10"},
		Lines: []*storefrontv1.RequestedLine{{Sku: "SKU-00001", Quantity: 2}}}
	resp, err := s.QuotePrices(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"GONE", "NOPE", "WELCOME10"}, pricing.got.GetPromotionCodes()); diff != "" {
		t.Errorf("codes sent to pricing (-want +got):\n%s", diff)
	}
	want := []*storefrontv1.PromotionCodeIssue{
		{Code: "GONE", Reason: storefrontv1.PromotionCodeIssue_REASON_EXHAUSTED},
		{Code: "NOPE", Reason: storefrontv1.PromotionCodeIssue_REASON_UNKNOWN},
	}
	if diff := cmp.Diff(want, resp.GetPromotionCodeIssues(), protocmp.Transform()); diff != "" {
		t.Errorf("code issues (-want +got):\n%s", diff)
	}
	if got := resp.GetSubtotal().GetAmountMinor(); got != 200 {
		t.Errorf("subtotal = %d; want 200", got)
	}

	pricing.issues = nil
	req.PromotionCodes = nil
	resp, err = s.QuotePrices(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if pricing.got.GetPromotionCodes() != nil || resp.GetPromotionCodeIssues() != nil {
		t.Errorf("without codes: sent %v, issues %v; want none", pricing.got.GetPromotionCodes(), resp.GetPromotionCodeIssues())
	}
}
