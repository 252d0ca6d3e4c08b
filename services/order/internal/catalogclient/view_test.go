package catalogclient_test

import (
	"context"
	"sync"
	"testing"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/services/order/internal/catalogclient"
	"github.com/transload/transload/services/order/internal/order"
)

// viewPricing records the view of each QuotePrices request and answers
// with a summary-shaped quote (prices, the winning rule, promotions, no
// candidates).
type viewPricing struct {
	catalogv1.UnimplementedPricingServiceServer
	mu    sync.Mutex
	views []catalogv1.QuoteView
}

func (p *viewPricing) QuotePrices(_ context.Context, r *catalogv1.QuotePricesRequest) (*catalogv1.QuotePricesResponse, error) {
	p.mu.Lock()
	p.views = append(p.views, r.GetView())
	p.mu.Unlock()
	res := &catalogv1.QuotePricesResponse{Etag: "q-1", AppliedPromotions: []string{"promotions/spring"}}
	for i, l := range r.GetLines() {
		res.Lines = append(res.Lines, &catalogv1.QuoteLine{LineIndex: int32(i), Sku: l.GetSku(), Quantity: l.GetQuantity(),
			UnitPrice:     &commonv1.Money{AmountMinor: 250, CurrencyCode: r.GetCurrencyCode()},
			ExtendedPrice: &commonv1.Money{AmountMinor: 250 * l.GetQuantity(), CurrencyCode: r.GetCurrencyCode()},
			WinningRule:   &catalogv1.PriceRule{Kind: catalogv1.RuleKind_RULE_KIND_LIST_PRICE, Rule: "priceLists/web-eur/prices/" + l.GetSku()}})
	}
	return res, nil
}

// TestQuoteAsksForSummaryView: order placement's repricing asks
// catalog-pricing for QUOTE_VIEW_SUMMARY (it never reads the losing
// candidates) and still gets everything it keeps from a summary answer:
// prices, the winning rule's id, the etag and the applied promotions.
func TestQuoteAsksForSummaryView(t *testing.T) {
	t.Parallel()
	fake := &viewPricing{}
	q, err := catalogclient.New(servePricing(t, fake)).Quote(t.Context(), order.QuoteRequest{Currency: "EUR",
		Lines: []order.QuoteLine{{SKU: "A", Quantity: 2}, {SKU: "B", Quantity: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	fake.mu.Lock()
	views := append([]catalogv1.QuoteView(nil), fake.views...)
	fake.mu.Unlock()
	if len(views) != 1 || views[0] != catalogv1.QuoteView_QUOTE_VIEW_SUMMARY {
		t.Fatalf("views sent = %v, want one QUOTE_VIEW_SUMMARY", views)
	}
	if q.QuoteID != "q-1" || len(q.Promotions) != 1 || q.Promotions[0] != "promotions/spring" || len(q.Lines) != 2 {
		t.Fatalf("quote = %+v", q)
	}
	if l := q.Lines[1]; l.UnitPriceMinor != 250 || l.ExtendedMinor != 750 || l.RuleID != "priceLists/web-eur/prices/B" {
		t.Fatalf("line 1 = %+v", l)
	}
}
