package erpclient

import (
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/services/catalog-pricing/internal/erpsync"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// mapRules maps the pricing rules of one export chunk into out. ERP rules
// the engine cannot represent are counted in out.RulesSkipped.
func mapRules(ch *erpv1.PriceExportChunk, out *erpsync.PriceExport) {
	for _, c := range ch.GetContracts() {
		if k, ok := contract(c); ok {
			out.Contracts = append(out.Contracts, k)
		} else {
			out.RulesSkipped++
		}
	}
	for _, r := range ch.GetChannelRules() {
		if r.GetBasePriceListId() != "" {
			out.RulesSkipped++
			continue
		}
		rule := pricing.ChannelRule{ID: r.GetRuleId(), Channel: r.GetChannel(), AdjustmentBps: r.GetAdjustmentBasisPoints(),
			SKUs: r.GetSkus(), Window: window(r.GetEffectiveStartTime(), r.GetEffectiveEndTime())}
		for _, c := range r.GetCategories() {
			rule.Categories = append(rule.Categories, Category(c))
		}
		if r.GetRoundingIncrementMinor() == 5 {
			rule.Rounding = pricing.Round5 // Transload rounds down, never up
		}
		out.ChannelRules = append(out.ChannelRules, rule)
	}
	for _, p := range ch.GetPromotions() {
		if promo, ok := promotion(p); ok {
			out.Promotions = append(out.Promotions, promo)
		} else {
			out.RulesSkipped++
		}
	}
}

func window(start, end *timestamppb.Timestamp) pricing.Window {
	var w pricing.Window
	if start != nil {
		w.Start = start.AsTime().UTC()
	}
	if end != nil {
		w.End = end.AsTime().UTC()
	}
	return w
}

// contract maps an ERP contract: one term per SKU price; contracted
// quantity tiers become further terms with their min_quantity. Contracts
// carry no currency in the ERP: fixed prices name theirs, discounts are
// taken to be in EUR (the only currency the ERP sells in).
func contract(c *erpv1.CustomerContract) (pricing.Contract, bool) {
	out := pricing.Contract{ID: c.GetContractId(), CustomerID: c.GetCustomerId(), Currency: "EUR",
		Window: window(c.GetEffectiveStartTime(), c.GetEffectiveEndTime())}
	for _, p := range c.GetPrices() {
		switch pr := p.GetPrice().(type) {
		case *erpv1.ContractPrice_UnitPrice:
			out.Currency = pr.UnitPrice.GetCurrencyCode()
			out.Terms = append(out.Terms, pricing.ContractTerm{SKU: p.GetSku(), Fixed: true, UnitMinor: pr.UnitPrice.GetAmountMinor()})
			for _, b := range p.GetQuantityBreaks() {
				out.Terms = append(out.Terms, pricing.ContractTerm{SKU: p.GetSku(), Fixed: true, UnitMinor: b.GetUnitPrice().GetAmountMinor(),
					MinQuantity: b.GetMinQuantity()})
			}
		case *erpv1.ContractPrice_DiscountBasisPoints:
			out.Terms = append(out.Terms, pricing.ContractTerm{SKU: p.GetSku(), DiscountBps: pr.DiscountBasisPoints})
		default:
			return out, false
		}
	}
	return out, len(out.Terms) > 0
}

// promotion maps an ERP promotion. The ERP's highest priority wins, the
// engine's lowest: priorities are mirrored. Customer-restricted promotions
// and fixed promotional prices have no engine equivalent.
func promotion(p *erpv1.Promotion) (pricing.Promotion, bool) {
	out := pricing.Promotion{ID: p.GetPromotionId(), DisplayName: p.GetDisplayName(), Code: strings.ToUpper(p.GetCode()),
		Channels: p.GetChannels(), SKUs: p.GetSkus(), MinQuantity: p.GetMinQuantity(),
		Priority: max(0, 1000000-p.GetPriority()), Window: window(p.GetEffectiveStartTime(), p.GetEffectiveEndTime()),
		PerCustomerLimit: p.GetPerCustomerLimit(), TotalLimit: p.GetTotalLimit(), Combine: pricing.CombineBestOf}
	if out.DisplayName == "" {
		out.DisplayName = out.ID
	}
	if p.GetContractStackable() {
		out.Combine = pricing.CombineStackable
	}
	for _, c := range p.GetCategories() {
		out.Categories = append(out.Categories, Category(c))
	}
	if len(p.GetCustomerIds()) > 0 {
		return out, false
	}
	switch b := p.GetBenefit().(type) {
	case *erpv1.Promotion_DiscountBasisPoints:
		out.Kind, out.DiscountBps = pricing.PromoPercent, b.DiscountBasisPoints
	case *erpv1.Promotion_AmountOff:
		out.Kind, out.AmountMinor, out.Currency = pricing.PromoAmount, b.AmountOff.GetAmountMinor(), b.AmountOff.GetCurrencyCode()
	default:
		return out, false
	}
	return out, true
}
