package grpcapi

import (
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/services/erpsim/internal/erp"
)

// The simulated ERP's pricing rules, exported by StreamPriceExport when
// asked (include_contracts, include_promotions, include_channel_rules).
// They are fixed demo data, so a newcomer's quote shows every kind of
// rule: customer C0002 has a contract on part of the catalog, the b2b
// channel has a rule, and the coupon WELCOME10 is active.
const (
	// DemoContractCustomer has the demo contract.
	DemoContractCustomer = "C0002"
	// DemoContractSKUs is how many SKUs (SKU-00001...) the contract covers:
	// the first half at a fixed price of 80 % of list, the rest 15 % off.
	DemoContractSKUs = 10
	// DemoCoupon is the active coupon: 10 % off, once per customer.
	DemoCoupon = "WELCOME10"
)

// demoContracts is the contract of DemoContractCustomer.
func demoContracts() []*erpv1.CustomerContract {
	c := &erpv1.CustomerContract{ContractId: "CTR-" + DemoContractCustomer, CustomerId: DemoContractCustomer,
		DisplayName: "Framework agreement 2026", EffectiveStartTime: ts(erp.SeedTime)}
	for n := 1; n <= DemoContractSKUs; n++ {
		p := &erpv1.ContractPrice{Sku: erp.SKU(n), Unit: "EA"}
		if n <= DemoContractSKUs/2 {
			p.Price = &erpv1.ContractPrice_UnitPrice{UnitPrice: money(erp.StandardPriceMinor(n)*8/10, "EUR")}
		} else {
			p.Price = &erpv1.ContractPrice_DiscountBasisPoints{DiscountBasisPoints: 1500}
		}
		c.Prices = append(c.Prices, p)
	}
	return []*erpv1.CustomerContract{c}
}

// demoPromotions is the WELCOME10 coupon.
func demoPromotions() []*erpv1.Promotion {
	return []*erpv1.Promotion{{PromotionId: "WELCOME", DisplayName: "Welcome 10 % off", EffectiveStartTime: ts(erp.SeedTime),
		Benefit: &erpv1.Promotion_DiscountBasisPoints{DiscountBasisPoints: 1000}, ContractStackable: true,
		Code: DemoCoupon, PerCustomerLimit: 1}}
}

// demoChannelRules is the b2b rule: 2 % markdown.
func demoChannelRules() []*erpv1.ChannelPriceRule {
	return []*erpv1.ChannelPriceRule{{RuleId: "B2B-NET", Channel: "b2b", AdjustmentBasisPoints: -200, EffectiveStartTime: ts(erp.SeedTime)}}
}

// appendPriceRules adds the demo rules the request asks for to chunk and
// returns how many records it added.
func appendPriceRules(req *erpv1.StreamPriceExportRequest, chunk *erpv1.PriceExportChunk) int64 {
	if req.GetIncludeContracts() {
		chunk.Contracts = demoContracts()
	}
	if req.GetIncludePromotions() {
		chunk.Promotions = demoPromotions()
	}
	if req.GetIncludeChannelRules() {
		chunk.ChannelRules = demoChannelRules()
	}
	return int64(len(chunk.Contracts) + len(chunk.Promotions) + len(chunk.ChannelRules))
}
