package erpclient

import (
	"testing"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/services/catalog-pricing/internal/erpsync"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// TestMapRules: ERP contracts, channel rules and promotions become domain
// rules; the ones the engine cannot represent are counted as skipped.
func TestMapRules(t *testing.T) {
	eur := func(m int64) *commonv1.Money { return &commonv1.Money{AmountMinor: m, CurrencyCode: "EUR"} }
	ch := &erpv1.PriceExportChunk{
		Contracts: []*erpv1.CustomerContract{{ContractId: "K", CustomerId: "C0002", Prices: []*erpv1.ContractPrice{
			{Sku: "A", Price: &erpv1.ContractPrice_UnitPrice{UnitPrice: eur(800)}, QuantityBreaks: []*erpv1.QuantityBreak{{MinQuantity: 10, UnitPrice: eur(700)}}},
			{Sku: "B", Price: &erpv1.ContractPrice_DiscountBasisPoints{DiscountBasisPoints: 1500}},
		}}},
		ChannelRules: []*erpv1.ChannelPriceRule{
			{RuleId: "R", Channel: "b2b", AdjustmentBasisPoints: -200, RoundingIncrementMinor: 5, Categories: []string{"Tools > Drills"}},
			{RuleId: "X", Channel: "b2b", BasePriceListId: "PL-OTHER"},
		},
		Promotions: []*erpv1.Promotion{
			{PromotionId: "W", Code: "welcome10", Benefit: &erpv1.Promotion_DiscountBasisPoints{DiscountBasisPoints: 1000}, ContractStackable: true, PerCustomerLimit: 1, Priority: 5},
			{PromotionId: "VIP", CustomerIds: []string{"C1"}, Benefit: &erpv1.Promotion_DiscountBasisPoints{DiscountBasisPoints: 1000}},
			{PromotionId: "FIX", Benefit: &erpv1.Promotion_FixedUnitPrice{FixedUnitPrice: eur(1)}},
		},
	}
	var out erpsync.PriceExport
	mapRules(ch, &out)
	if out.RulesSkipped != 3 || len(out.Contracts) != 1 || len(out.ChannelRules) != 1 || len(out.Promotions) != 1 {
		t.Fatalf("mapped %+v", out)
	}
	k := out.Contracts[0]
	if len(k.Terms) != 3 || k.Terms[1].MinQuantity != 10 || k.Terms[1].UnitMinor != 700 || k.Terms[2].DiscountBps != 1500 || k.Currency != "EUR" {
		t.Errorf("contract = %+v", k)
	}
	if r := out.ChannelRules[0]; r.Rounding != pricing.Round5 || r.Categories[0] != "tools/drills" || r.AdjustmentBps != -200 {
		t.Errorf("channel rule = %+v", r)
	}
	if p := out.Promotions[0]; p.Code != "WELCOME10" || p.Combine != pricing.CombineStackable || p.PerCustomerLimit != 1 || p.Priority != 999995 {
		t.Errorf("promotion = %+v", p)
	}
}
