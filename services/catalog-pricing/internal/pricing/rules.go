package pricing

import (
	"sort"
	"strings"
	"time"
)

// Window is an effective window [Start, End); zero times are unbounded.
type Window struct {
	Start time.Time `json:"s"`
	End   time.Time `json:"e"`
}

// At reports whether t is inside the window.
func (w Window) At(t time.Time) bool {
	return (w.Start.IsZero() || !t.Before(w.Start)) && (w.End.IsZero() || t.Before(w.End))
}

// Valid reports whether End is after Start when both are set.
func (w Window) Valid() bool { return w.Start.IsZero() || w.End.IsZero() || w.End.After(w.Start) }

// Contract is a customer contract: negotiated prices of one customer (or
// of every customer of CustomerGroup when CustomerID is empty) in one
// currency.
type Contract struct {
	ID            string         `json:"id"`
	CustomerID    string         `json:"customer"`
	CustomerGroup string         `json:"group,omitempty"`
	Currency      string         `json:"cur"`
	Priority      int32          `json:"prio"`
	Window        Window         `json:"w"`
	Terms         []ContractTerm `json:"terms"`
	Etag          string         `json:"-"`
	CreateTime    time.Time      `json:"-"`
	UpdateTime    time.Time      `json:"-"`
}

// Name is "customerContracts/{id}".
func (c Contract) Name() string { return "customerContracts/" + c.ID }

// ContractTerm is one negotiated price, scoped to a SKU or a category
// (with everything below it): a fixed unit price (Fixed) or DiscountBps
// off the list price, from MinQuantity units on. A term never prices above
// the list price unless AllowAboveList is set.
type ContractTerm struct {
	SKU            string `json:"sku,omitempty"`
	Category       string `json:"cat,omitempty"`
	Fixed          bool   `json:"fixed,omitempty"`
	UnitMinor      int64  `json:"unit,omitempty"`
	DiscountBps    int32  `json:"bps,omitempty"`
	MinQuantity    int64  `json:"minq,omitempty"`
	AllowAboveList bool   `json:"above,omitempty"`
}

// Rounding is how a channel rounds the prices it sets. Both modes round
// down, so rounding never raises a price the pipeline computed.
type Rounding int

// Rounding modes.
const (
	RoundNone Rounding = iota
	// Round99 takes the largest amount ending in 99 minor units not above
	// the price (12.34 → 11.99); prices below 0.99 stay.
	Round99
	// Round5 takes the largest multiple of 5 minor units not above the
	// price (12.34 → 12.30).
	Round5
)

// ChannelRule adjusts the prices of one channel for the products in its
// scope (SKUs, categories, brands; all empty = every product) and excludes
// products from the channel's assortment.
type ChannelRule struct {
	ID         string   `json:"id"`
	Channel    string   `json:"ch"`
	SKUs       []string `json:"skus,omitempty"`
	Categories []string `json:"cats,omitempty"`
	Brands     []string `json:"brands,omitempty"`
	// AdjustmentBps is a markup (>0) or markdown (<0) of the base price.
	AdjustmentBps int32    `json:"adj,omitempty"`
	Rounding      Rounding `json:"round,omitempty"`
	// MinPriceBps floors non-contract prices at list × MinPriceBps/10000.
	MinPriceBps int32 `json:"minp,omitempty"`
	// MarginFloor floors non-contract prices at cost × (10000 +
	// MinMarginBps)/10000 when the price entry has a cost price.
	MarginFloor  bool  `json:"mf,omitempty"`
	MinMarginBps int32 `json:"minm,omitempty"`
	// Excluded* take products out of the channel's assortment (the line
	// is not sellable), whatever the rule's scope.
	ExcludedSKUs       []string  `json:"xskus,omitempty"`
	ExcludedCategories []string  `json:"xcats,omitempty"`
	ExcludedBrands     []string  `json:"xbrands,omitempty"`
	Priority           int32     `json:"prio"`
	Window             Window    `json:"w"`
	Etag               string    `json:"-"`
	UpdateTime         time.Time `json:"-"`
}

// Name is "channelRules/{id}".
func (r ChannelRule) Name() string { return "channelRules/" + r.ID }

// PromoKind is what a promotion takes off.
type PromoKind int

// Promotion kinds. The first three price lines, the last three the order.
const (
	PromoPercent      PromoKind = iota // DiscountBps off each unit
	PromoAmount                        // AmountMinor off each unit
	PromoBuyXGetY                      // of every Buy+Get units, Get are free
	PromoOrderPercent                  // DiscountBps off the eligible subtotal
	PromoOrderAmount                   // AmountMinor off the eligible subtotal
	PromoTieredSpend                   // the highest tier reached by the eligible subtotal
)

// OrderLevel reports whether the kind discounts the order rather than a line.
func (k PromoKind) OrderLevel() bool { return k >= PromoOrderPercent }

// Combinability says how a promotion combines with the others of its
// level (line or order).
type Combinability int

// Combinability modes.
const (
	// CombineBestOf: competes with the other best-of promotions; the
	// lowest price wins; stackable ones still apply on top.
	CombineBestOf Combinability = iota
	// CombineExclusive: applies alone or not at all.
	CombineExclusive
	// CombineStackable: applied on top of the best-of winner, in priority
	// order.
	CombineStackable
)

// SpendTier is one tier of a tiered-spend promotion: from MinSpendMinor of
// eligible subtotal, DiscountBps or AmountMinor off.
type SpendTier struct {
	MinSpendMinor int64 `json:"min"`
	DiscountBps   int32 `json:"bps,omitempty"`
	AmountMinor   int64 `json:"amt,omitempty"`
}

// Promotion is a discount, automatic or by code, in an effective window.
type Promotion struct {
	ID          string `json:"id"`
	DisplayName string `json:"dn"`
	// Code is empty for automatic promotions; codes are upper case.
	Code        string        `json:"code,omitempty"`
	Channels    []string      `json:"chs,omitempty"`
	SKUs        []string      `json:"skus,omitempty"`
	Categories  []string      `json:"cats,omitempty"`
	MinQuantity int64         `json:"minq,omitempty"`
	Kind        PromoKind     `json:"kind"`
	DiscountBps int32         `json:"bps,omitempty"`
	AmountMinor int64         `json:"amt,omitempty"`
	Currency    string        `json:"cur,omitempty"` // for amounts
	BuyQuantity int64         `json:"buy,omitempty"`
	GetQuantity int64         `json:"get,omitempty"`
	Tiers       []SpendTier   `json:"tiers,omitempty"`
	Combine     Combinability `json:"comb"`
	Priority    int32         `json:"prio"`
	Window      Window        `json:"w"`
	// PerCustomerLimit and TotalLimit cap redemptions (0: unlimited).
	PerCustomerLimit int64     `json:"plim,omitempty"`
	TotalLimit       int64     `json:"tlim,omitempty"`
	Etag             string    `json:"-"`
	UpdateTime       time.Time `json:"-"`
}

// Name is "promotions/{id}".
func (p Promotion) Name() string { return "promotions/" + p.ID }

// Usage is how often a promotion was redeemed: in total and by the
// quoting customer.
type Usage struct {
	Total    int64
	Customer int64
}

// limitReached reports whether p cannot be redeemed once more.
func (p Promotion) limitReached(u Usage) bool {
	return (p.TotalLimit > 0 && u.Total >= p.TotalLimit) || (p.PerCustomerLimit > 0 && u.Customer >= p.PerCustomerLimit)
}

// RuleSet is the contracts, channel rules and promotions of one price
// version, indexed for quoting. It is immutable once built, so one value
// is shared by every quote at that version.
type RuleSet struct {
	contractsByCustomer map[string][]Contract
	contractsByGroup    map[string][]Contract
	rulesByChannel      map[string][]ChannelRule
	promotions          []Promotion
	promoByCode         map[string]Promotion
}

// NewRuleSet indexes the rules; each group is sorted by precedence
// (priority, then id).
func NewRuleSet(contracts []Contract, rules []ChannelRule, promos []Promotion) *RuleSet {
	rs := &RuleSet{contractsByCustomer: map[string][]Contract{}, contractsByGroup: map[string][]Contract{},
		rulesByChannel: map[string][]ChannelRule{}, promoByCode: map[string]Promotion{}}
	for _, c := range contracts {
		if c.CustomerID != "" {
			rs.contractsByCustomer[c.CustomerID] = append(rs.contractsByCustomer[c.CustomerID], c)
		} else if c.CustomerGroup != "" {
			rs.contractsByGroup[c.CustomerGroup] = append(rs.contractsByGroup[c.CustomerGroup], c)
		}
	}
	for _, m := range []map[string][]Contract{rs.contractsByCustomer, rs.contractsByGroup} {
		for _, cs := range m {
			sort.Slice(cs, func(a, b int) bool { return precedes(cs[a].Priority, cs[b].Priority, cs[a].ID, cs[b].ID) })
		}
	}
	for _, r := range rules {
		rs.rulesByChannel[r.Channel] = append(rs.rulesByChannel[r.Channel], r)
	}
	for _, rl := range rs.rulesByChannel {
		sort.Slice(rl, func(a, b int) bool { return precedes(rl[a].Priority, rl[b].Priority, rl[a].ID, rl[b].ID) })
	}
	rs.promotions = append([]Promotion(nil), promos...)
	sort.Slice(rs.promotions, func(a, b int) bool {
		pa, pb := rs.promotions[a], rs.promotions[b]
		return precedes(pa.Priority, pb.Priority, pa.ID, pb.ID)
	})
	for _, p := range rs.promotions {
		if p.Code != "" {
			if _, dup := rs.promoByCode[p.Code]; !dup {
				rs.promoByCode[p.Code] = p
			}
		}
	}
	return rs
}

func precedes(pa, pb int32, ia, ib string) bool {
	if pa != pb {
		return pa < pb
	}
	return ia < ib
}

// contracts returns the contracts of a customer, then of its group.
func (rs *RuleSet) contracts(customer, group string) []Contract {
	if rs == nil || customer == "" && group == "" {
		return nil
	}
	own := rs.contractsByCustomer[customer]
	if group == "" || len(rs.contractsByGroup[group]) == 0 {
		return own
	}
	return append(append([]Contract(nil), own...), rs.contractsByGroup[group]...)
}

func (rs *RuleSet) byCode(code string) (Promotion, bool) {
	if rs == nil {
		return Promotion{}, false
	}
	p, ok := rs.promoByCode[code]
	return p, ok
}

func (rs *RuleSet) channelRules(ch string) []ChannelRule {
	if rs == nil {
		return nil
	}
	return rs.rulesByChannel[ch]
}

// inCategory reports whether category path cat is c or below it.
func inCategory(cat, c string) bool {
	return cat == c || strings.HasPrefix(cat, c+"/")
}

// categoryDepth is the number of path segments of c.
func categoryDepth(c string) int { return strings.Count(c, "/") + 1 }

func anyCategory(cat string, cs []string) bool {
	for _, c := range cs {
		if inCategory(cat, c) {
			return true
		}
	}
	return false
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// bpsOf returns v × bps / 10000 rounded half up, saturating instead of
// overflowing (callers clamp); v and bps are non-negative.
func bpsOf(v int64, bps int64) int64 {
	if v == 0 || bps == 0 {
		return 0
	}
	hi, lo := v/10000, v%10000
	return hi*bps + (lo*bps+5000)/10000
}

// adjust returns v × (10000 + bps) / 10000 rounded half up, at least 0.
func adjust(v int64, bps int32) int64 {
	if bps >= 0 {
		return v + bpsOf(v, int64(bps))
	}
	return max(v-bpsOf(v, int64(-bps)), 0)
}

// round applies a rounding mode (both modes round down).
func round(v int64, r Rounding) int64 {
	switch r {
	case Round99:
		if v < 99 {
			return v
		}
		if v%100 >= 99 {
			return v
		}
		return v - v%100 - 1
	case Round5:
		return v - v%5
	case RoundNone:
	}
	return v
}
