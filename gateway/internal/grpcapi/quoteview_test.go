package grpcapi

import (
	"testing"
	"time"

	"github.com/transload/transload/gateway/internal/auth"
	"github.com/transload/transload/gateway/internal/neighbours"
	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/cache"
)

// TestQuoteViewPerCaller: the callers that only read prices (availability,
// the product view's list prices) ask pricing for QUOTE_VIEW_SUMMARY; the
// storefront quote, which returns the beaten candidates as other_rules,
// asks for QUOTE_VIEW_FULL.
func TestQuoteViewPerCaller(t *testing.T) {
	t.Parallel()
	pricing := &quotePricing{}
	s, err := New(&neighbours.Clients{Pricing: pricing}, cache.NewMemoryStore(0, 0), Options{Currencies: []string{"EUR"}})
	if err != nil {
		t.Fatal(err)
	}
	lines := []*storefrontv1.RequestedLine{{Sku: "SKU-00007", Quantity: 2}}

	q := availQuery{channel: "web", customer: "C-view-1", currency: "EUR", lines: lines}
	out, _, err := s.avail.prices(t.Context(), s, q, []int{0}, time.Now())
	if err != nil || len(out) != 1 || out[0].GetUnitPrice().GetAmountMinor() != 100 {
		t.Fatalf("availability prices = %v, %v", out, err)
	}
	if v := pricing.got.GetView(); v != catalogv1.QuoteView_QUOTE_VIEW_SUMMARY {
		t.Errorf("availability asked for view %v; want SUMMARY", v)
	}

	pricing.got = nil
	prices := s.listPrices(t.Context(), "web", []*catalogv1.Product{{Sku: "SKU-00007", PackSize: 1,
		Channels: []string{"web"}, Status: catalogv1.ProductStatus_PRODUCT_STATUS_ACTIVE}})
	if pricing.got == nil || pricing.got.GetLines()[0].GetSku() != "SKU-00007" {
		t.Fatalf("list prices did not call pricing (prices %v)", prices)
	}
	if v := pricing.got.GetView(); v != catalogv1.QuoteView_QUOTE_VIEW_SUMMARY {
		t.Errorf("list prices asked for view %v; want SUMMARY", v)
	}

	pricing.got = nil
	ctx := auth.WithPrincipal(t.Context(), auth.Principal{KeyID: "key-view", Channel: "web", CustomerID: "C-view-1"})
	if _, err := s.QuotePrices(ctx, &storefrontv1.QuotePricesRequest{CurrencyCode: "EUR", Lines: lines}); err != nil {
		t.Fatal(err)
	}
	if v := pricing.got.GetView(); v != catalogv1.QuoteView_QUOTE_VIEW_FULL {
		t.Errorf("storefront quote asked for view %v; want FULL", v)
	}
}
