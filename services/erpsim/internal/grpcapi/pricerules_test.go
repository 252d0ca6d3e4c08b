package grpcapi

import (
	"testing"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/services/erpsim/internal/erp"
)

// TestPriceRulesOnlyWhenAsked: the demo contract, coupon and channel rule
// are exported only with their include flags, and counted in the header.
func TestPriceRulesOnlyWhenAsked(t *testing.T) {
	var none erpv1.PriceExportChunk
	if n := appendPriceRules(&erpv1.StreamPriceExportRequest{}, erp.DemoContracts(), &none); n != 0 || len(none.GetContracts()) != 0 {
		t.Fatalf("rules without include flags: %d", n)
	}
	var all erpv1.PriceExportChunk
	n := appendPriceRules(&erpv1.StreamPriceExportRequest{IncludeContracts: true, IncludePromotions: true, IncludeChannelRules: true}, erp.DemoContracts(), &all)
	if n != 3 || all.GetContracts()[0].GetCustomerId() != DemoContractCustomer || len(all.GetContracts()[0].GetPrices()) != DemoContractSKUs ||
		all.GetPromotions()[0].GetCode() != DemoCoupon || all.GetChannelRules()[0].GetChannel() != "b2b" {
		t.Fatalf("rules = %v (%d)", &all, n)
	}
	fixed, discount := all.GetContracts()[0].GetPrices()[0], all.GetContracts()[0].GetPrices()[DemoContractSKUs-1]
	if fixed.GetUnitPrice().GetAmountMinor() != erp.StandardPriceMinor(1)*8/10 || fixed.GetUnitPrice().GetCurrencyCode() != erp.Currency ||
		discount.GetDiscountBasisPoints() != 1500 || all.GetContracts()[0].GetEffectiveEndTime() != nil {
		t.Errorf("demo contract prices = %v, %v", fixed, discount)
	}
}
