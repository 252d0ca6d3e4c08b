package grpcapi

import (
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// Conversions of customer contracts, channel rules and promotions between
// catalog.v1 and the pricing domain. Shapes protovalidate cannot reject
// (a code with an automatic trigger, tiers in two currencies) come back as
// *pricing.InvalidRuleError.

func windowFromProto(start, end *timestamppb.Timestamp) pricing.Window {
	var w pricing.Window
	if start != nil {
		w.Start = start.AsTime().UTC()
	}
	if end != nil {
		w.End = end.AsTime().UTC()
	}
	return w
}

func tsOrNil(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func contractFromProto(c *catalogv1.CustomerContract) pricing.Contract {
	out := pricing.Contract{ID: strings.TrimPrefix(c.GetName(), "customerContracts/"), CustomerID: c.GetCustomerId(),
		CustomerGroup: c.GetCustomerGroup(), Currency: c.GetCurrencyCode(), Priority: c.GetPriority(),
		Window: windowFromProto(c.GetStartTime(), c.GetEndTime())}
	for _, t := range c.GetTerms() {
		term := pricing.ContractTerm{SKU: t.GetSku(), Category: t.GetCategory(), MinQuantity: t.GetMinQuantity(),
			AllowAboveList: t.GetAllowAboveList(), DiscountBps: t.GetDiscountBps()}
		if t.GetUnitPrice() != nil {
			term.Fixed, term.UnitMinor = true, t.GetUnitPrice().GetAmountMinor()
		}
		out.Terms = append(out.Terms, term)
	}
	return out
}

func contractToProto(c pricing.Contract) *catalogv1.CustomerContract {
	out := &catalogv1.CustomerContract{Name: c.Name(), CustomerId: c.CustomerID, CustomerGroup: c.CustomerGroup,
		CurrencyCode: c.Currency, Priority: c.Priority, StartTime: tsOrNil(c.Window.Start), EndTime: tsOrNil(c.Window.End),
		Etag: c.Etag, CreateTime: tsOrNil(c.CreateTime), UpdateTime: tsOrNil(c.UpdateTime)}
	if out.CustomerId == "" {
		out.CustomerId = "*"
	}
	for _, t := range c.Terms {
		term := &catalogv1.ContractTerm{MinQuantity: t.MinQuantity, AllowAboveList: t.AllowAboveList}
		if t.SKU != "" {
			term.Scope = &catalogv1.ContractTerm_Sku{Sku: t.SKU}
		} else {
			term.Scope = &catalogv1.ContractTerm_Category{Category: t.Category}
		}
		if t.Fixed {
			term.Pricing = &catalogv1.ContractTerm_UnitPrice{UnitPrice: money(t.UnitMinor, c.Currency)}
		} else {
			term.Pricing = &catalogv1.ContractTerm_DiscountBps{DiscountBps: t.DiscountBps}
		}
		out.Terms = append(out.Terms, term)
	}
	return out
}

var roundings = map[pricing.Rounding]catalogv1.ChannelRule_Rounding{
	pricing.RoundNone: catalogv1.ChannelRule_ROUNDING_UNSPECIFIED,
	pricing.Round99:   catalogv1.ChannelRule_ROUNDING_NINETY_NINE,
	pricing.Round5:    catalogv1.ChannelRule_ROUNDING_FIVE_MINOR,
}

func channelRuleFromProto(r *catalogv1.ChannelRule) pricing.ChannelRule {
	out := pricing.ChannelRule{ID: strings.TrimPrefix(r.GetName(), "channelRules/"), Channel: r.GetChannel(),
		SKUs: r.GetSkus(), Categories: r.GetCategories(), Brands: r.GetBrands(), AdjustmentBps: r.GetAdjustmentBps(),
		MinPriceBps: r.GetMinPriceBps(), ExcludedSKUs: r.GetExcludedSkus(), ExcludedCategories: r.GetExcludedCategories(),
		ExcludedBrands: r.GetExcludedBrands(), Priority: r.GetPriority(), Window: windowFromProto(r.GetStartTime(), r.GetEndTime())}
	for d, p := range roundings {
		if p == r.GetRounding() {
			out.Rounding = d
		}
	}
	if r.MinMarginBps != nil {
		out.MarginFloor, out.MinMarginBps = true, r.GetMinMarginBps()
	}
	return out
}

func channelRuleToProto(r pricing.ChannelRule) *catalogv1.ChannelRule {
	out := &catalogv1.ChannelRule{Name: r.Name(), Channel: r.Channel, Categories: r.Categories, AdjustmentBps: r.AdjustmentBps,
		MinPriceBps: r.MinPriceBps, Priority: r.Priority, StartTime: tsOrNil(r.Window.Start), EndTime: tsOrNil(r.Window.End),
		Etag: r.Etag, UpdateTime: tsOrNil(r.UpdateTime), Skus: r.SKUs, Brands: r.Brands, Rounding: roundings[r.Rounding],
		ExcludedSkus: r.ExcludedSKUs, ExcludedCategories: r.ExcludedCategories, ExcludedBrands: r.ExcludedBrands}
	if r.MarginFloor {
		m := r.MinMarginBps
		out.MinMarginBps = &m
	}
	return out
}

var combinabilities = map[pricing.Combinability]catalogv1.Promotion_Combinability{
	pricing.CombineBestOf:    catalogv1.Promotion_COMBINABILITY_BEST_OF,
	pricing.CombineExclusive: catalogv1.Promotion_COMBINABILITY_EXCLUSIVE,
	pricing.CombineStackable: catalogv1.Promotion_COMBINABILITY_STACKABLE,
}

func promotionFromProto(p *catalogv1.Promotion) (pricing.Promotion, error) {
	out := pricing.Promotion{ID: strings.TrimPrefix(p.GetName(), "promotions/"), DisplayName: p.GetDisplayName(),
		Code: strings.ToUpper(p.GetCode()), Channels: p.GetChannels(), SKUs: p.GetSkus(), Categories: p.GetCategories(),
		MinQuantity: p.GetMinQuantity(), Priority: p.GetPriority(), Window: windowFromProto(p.GetStartTime(), p.GetEndTime()),
		PerCustomerLimit: p.GetPerCustomerLimit(), TotalLimit: p.GetTotalLimit(), Combine: pricing.CombineBestOf}
	switch {
	case p.GetTrigger() == catalogv1.Promotion_TRIGGER_CODE && out.Code == "":
		return out, &pricing.InvalidRuleError{Field: "code", Message: "a CODE promotion needs a code"}
	case p.GetTrigger() == catalogv1.Promotion_TRIGGER_AUTOMATIC && out.Code != "":
		return out, &pricing.InvalidRuleError{Field: "code", Message: "an AUTOMATIC promotion has no code"}
	}
	if p.GetStackable() {
		out.Combine = pricing.CombineStackable
	}
	for d, c := range combinabilities {
		if c == p.GetCombinability() {
			out.Combine = d
		}
	}
	order := p.GetLevel() == catalogv1.Promotion_LEVEL_ORDER
	switch d := p.GetDiscount().(type) {
	case *catalogv1.Promotion_DiscountBps:
		out.Kind, out.DiscountBps = pricing.PromoPercent, d.DiscountBps
		if order {
			out.Kind = pricing.PromoOrderPercent
		}
	case *catalogv1.Promotion_UnitDiscount:
		out.Kind, out.AmountMinor, out.Currency = pricing.PromoAmount, d.UnitDiscount.GetAmountMinor(), d.UnitDiscount.GetCurrencyCode()
		if order {
			out.Kind = pricing.PromoOrderAmount
		}
	case *catalogv1.Promotion_BuyXGetY:
		out.Kind, out.BuyQuantity, out.GetQuantity = pricing.PromoBuyXGetY, d.BuyXGetY.GetBuyQuantity(), d.BuyXGetY.GetGetQuantity()
	case *catalogv1.Promotion_SpendTiers:
		out.Kind = pricing.PromoTieredSpend
		for i, t := range d.SpendTiers.GetTiers() {
			cur := t.GetMinSpend().GetCurrencyCode()
			if a := t.GetAmountOff(); a != nil && a.GetCurrencyCode() != cur {
				return out, &pricing.InvalidRuleError{Field: "spend_tiers.tiers[" + strconv.Itoa(i) + "].amount_off", Message: "must be in the currency of min_spend"}
			}
			if out.Currency != "" && cur != out.Currency {
				return out, &pricing.InvalidRuleError{Field: "spend_tiers.tiers[" + strconv.Itoa(i) + "].min_spend", Message: "all tiers must share one currency"}
			}
			out.Currency = cur
			out.Tiers = append(out.Tiers, pricing.SpendTier{MinSpendMinor: t.GetMinSpend().GetAmountMinor(),
				DiscountBps: t.GetDiscountBps(), AmountMinor: t.GetAmountOff().GetAmountMinor()})
		}
	}
	return out, nil
}

func promotionToProto(p pricing.Promotion, redemptions int64) *catalogv1.Promotion {
	out := &catalogv1.Promotion{Name: p.Name(), DisplayName: p.DisplayName, Code: p.Code, Channels: p.Channels, Skus: p.SKUs,
		Categories: p.Categories, MinQuantity: p.MinQuantity, Stackable: p.Combine == pricing.CombineStackable, Priority: p.Priority,
		StartTime: tsOrNil(p.Window.Start), EndTime: tsOrNil(p.Window.End), Etag: p.Etag, UpdateTime: tsOrNil(p.UpdateTime),
		Combinability: combinabilities[p.Combine], PerCustomerLimit: p.PerCustomerLimit, TotalLimit: p.TotalLimit,
		RedemptionCount: redemptions, Trigger: catalogv1.Promotion_TRIGGER_AUTOMATIC}
	if p.Code != "" {
		out.Trigger = catalogv1.Promotion_TRIGGER_CODE
	}
	switch p.Kind {
	case pricing.PromoPercent, pricing.PromoOrderPercent:
		out.Discount = &catalogv1.Promotion_DiscountBps{DiscountBps: p.DiscountBps}
	case pricing.PromoAmount, pricing.PromoOrderAmount:
		out.Discount = &catalogv1.Promotion_UnitDiscount{UnitDiscount: money(p.AmountMinor, p.Currency)}
	case pricing.PromoBuyXGetY:
		out.Discount = &catalogv1.Promotion_BuyXGetY{BuyXGetY: &catalogv1.BuyXGetY{BuyQuantity: p.BuyQuantity, GetQuantity: p.GetQuantity}}
	case pricing.PromoTieredSpend:
		st := &catalogv1.SpendTiers{}
		for _, t := range p.Tiers {
			tier := &catalogv1.SpendTier{MinSpend: money(t.MinSpendMinor, p.Currency)}
			if t.DiscountBps > 0 {
				tier.Discount = &catalogv1.SpendTier_DiscountBps{DiscountBps: t.DiscountBps}
			} else {
				tier.Discount = &catalogv1.SpendTier_AmountOff{AmountOff: money(t.AmountMinor, p.Currency)}
			}
			st.Tiers = append(st.Tiers, tier)
		}
		out.Discount = &catalogv1.Promotion_SpendTiers{SpendTiers: st}
	}
	if p.Kind == pricing.PromoOrderPercent || p.Kind == pricing.PromoOrderAmount {
		out.Level = catalogv1.Promotion_LEVEL_ORDER
	}
	return out
}

var lossReasons = map[pricing.LossReason]catalogv1.PriceCandidate_LossReason{
	pricing.LostNotEffective:  catalogv1.PriceCandidate_LOSS_REASON_NOT_EFFECTIVE,
	pricing.LostLowerPriority: catalogv1.PriceCandidate_LOSS_REASON_LOWER_PRIORITY,
	pricing.LostNotCombinable: catalogv1.PriceCandidate_LOSS_REASON_NOT_COMBINABLE,
	pricing.LostLimitReached:  catalogv1.PriceCandidate_LOSS_REASON_LIMIT_REACHED,
	pricing.LostHigherPrice:   catalogv1.PriceCandidate_LOSS_REASON_HIGHER_PRICE,
	pricing.LostNotApplicable: catalogv1.PriceCandidate_LOSS_REASON_NOT_APPLICABLE,
}

var codeIssues = map[pricing.CodeIssueReason]catalogv1.PromotionCodeIssue_Reason{
	pricing.CodeUnknown:       catalogv1.PromotionCodeIssue_REASON_UNKNOWN,
	pricing.CodeNotEffective:  catalogv1.PromotionCodeIssue_REASON_NOT_EFFECTIVE,
	pricing.CodeExhausted:     catalogv1.PromotionCodeIssue_REASON_EXHAUSTED,
	pricing.CodeNotApplicable: catalogv1.PromotionCodeIssue_REASON_NOT_APPLICABLE,
}
