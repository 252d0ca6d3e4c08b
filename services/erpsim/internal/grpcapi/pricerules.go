package grpcapi

import (
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/services/erpsim/internal/erp"
)

// The simulated ERP's pricing rules, exported by StreamPriceExport when
// asked (include_contracts, include_promotions, include_channel_rules).
// Contracts are the ERP's own (seeded with the demo contract of customer
// C0002, changed through POST /control/prices, erp/contracts.go);
// promotions and channel rules are fixed demo data, so a newcomer's quote
// shows every kind of rule: the b2b channel has a rule, and the coupon
// WELCOME10 is active.
const (
	// DemoContractCustomer has the demo contract.
	DemoContractCustomer = erp.DemoContractCustomer
	// DemoContractSKUs is how many SKUs the demo contract covers.
	DemoContractSKUs = erp.DemoContractSKUs
	// DemoCoupon is the active coupon: 10 % off, once per customer.
	DemoCoupon = "WELCOME10"
)

// contractToProto is an ERP contract in erp.v1 terms: fixed prices in the
// ERP's currency.
func contractToProto(c erp.Contract) *erpv1.CustomerContract {
	out := &erpv1.CustomerContract{ContractId: c.ID, CustomerId: c.CustomerID, DisplayName: c.DisplayName,
		EffectiveStartTime: ts(c.Start), EffectiveEndTime: ts(c.End)}
	for _, p := range c.Prices {
		cp := &erpv1.ContractPrice{Sku: p.SKU, Unit: p.UoM}
		if p.DiscountBps > 0 {
			cp.Price = &erpv1.ContractPrice_DiscountBasisPoints{DiscountBasisPoints: p.DiscountBps}
		} else {
			cp.Price = &erpv1.ContractPrice_UnitPrice{UnitPrice: money(p.UnitPriceMinor, erp.Currency)}
		}
		out.Prices = append(out.Prices, cp)
	}
	return out
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

// appendPriceRules adds the rules the request asks for to chunk (the
// ERP's contracts, the demo promotions and channel rules) and returns how
// many records it added.
func appendPriceRules(req *erpv1.StreamPriceExportRequest, contracts []erp.Contract, chunk *erpv1.PriceExportChunk) int64 {
	if req.GetIncludeContracts() {
		for _, c := range contracts {
			chunk.Contracts = append(chunk.Contracts, contractToProto(c))
		}
	}
	if req.GetIncludePromotions() {
		chunk.Promotions = demoPromotions()
	}
	if req.GetIncludeChannelRules() {
		chunk.ChannelRules = demoChannelRules()
	}
	return int64(len(chunk.Contracts) + len(chunk.Promotions) + len(chunk.ChannelRules))
}
