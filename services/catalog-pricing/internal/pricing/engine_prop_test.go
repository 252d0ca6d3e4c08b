package pricing

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
)

// world is a random catalog, price list, rule set and request.
type world struct {
	in        quoteInput
	req       QuoteRequest
	contracts []Contract
	rules     []ChannelRule
	promos    []Promotion
}

var (
	propSKUs       = []string{"A", "B", "C", "D"}
	propCategories = []string{"tools", "tools/power", "tools/hand", "supplies"}
	propBrands     = []string{"acme", "bosk", ""}
)

func drawWindow(t *rapid.T, label string) Window {
	switch rapid.IntRange(0, 3).Draw(t, label) {
	case 1:
		return Window{End: t0} // over
	case 2:
		return Window{Start: t0.Add(time.Hour)} // not yet
	}
	return Window{}
}

func drawContracts(t *rapid.T, allowAbove bool) []Contract {
	n := rapid.IntRange(0, 3).Draw(t, "contracts")
	cs := make([]Contract, n)
	for i := range cs {
		terms := make([]ContractTerm, rapid.IntRange(1, 4).Draw(t, "terms"))
		for j := range terms {
			tm := ContractTerm{MinQuantity: rapid.Int64Range(0, 20).Draw(t, "minq")}
			if rapid.Bool().Draw(t, "skuTerm") {
				tm.SKU = rapid.SampledFrom(propSKUs).Draw(t, "termSKU")
			} else {
				tm.Category = rapid.SampledFrom(propCategories).Draw(t, "termCat")
			}
			if rapid.Bool().Draw(t, "fixed") {
				tm.Fixed, tm.UnitMinor = true, rapid.Int64Range(0, 200000).Draw(t, "fixedPrice")
				tm.AllowAboveList = allowAbove && rapid.Bool().Draw(t, "above")
			} else {
				tm.DiscountBps = rapid.Int32Range(1, 10000).Draw(t, "discount")
			}
			terms[j] = tm
		}
		cs[i] = Contract{ID: fmt.Sprintf("K%d", i), CustomerID: rapid.SampledFrom([]string{"C1", "C2"}).Draw(t, "customer"),
			Currency: rapid.SampledFrom([]string{"EUR", "EUR", "USD"}).Draw(t, "contractCur"),
			Priority: rapid.Int32Range(0, 3).Draw(t, "contractPrio"), Window: drawWindow(t, "contractWindow"), Terms: terms}
	}
	return cs
}

func drawRules(t *rapid.T) []ChannelRule {
	rs := make([]ChannelRule, rapid.IntRange(0, 3).Draw(t, "rules"))
	for i := range rs {
		r := ChannelRule{ID: fmt.Sprintf("R%d", i), Channel: rapid.SampledFrom([]string{"web", "b2b"}).Draw(t, "ruleChannel"),
			AdjustmentBps: rapid.Int32Range(-10000, 20000).Draw(t, "adj"), Rounding: Rounding(rapid.IntRange(0, 2).Draw(t, "round")),
			MinPriceBps: rapid.Int32Range(0, 12000).Draw(t, "minPrice"), MarginFloor: rapid.Bool().Draw(t, "marginFloor"),
			MinMarginBps: rapid.Int32Range(0, 5000).Draw(t, "margin"), Priority: rapid.Int32Range(0, 3).Draw(t, "rulePrio"),
			Window: drawWindow(t, "ruleWindow")}
		switch rapid.IntRange(0, 3).Draw(t, "ruleScope") {
		case 1:
			r.SKUs = []string{rapid.SampledFrom(propSKUs).Draw(t, "ruleSKU")}
		case 2:
			r.Categories = []string{rapid.SampledFrom(propCategories).Draw(t, "ruleCat")}
		case 3:
			r.Brands = []string{rapid.SampledFrom(propBrands[:2]).Draw(t, "ruleBrand")}
		}
		if rapid.IntRange(0, 5).Draw(t, "exclude") == 0 {
			r.ExcludedSKUs = []string{rapid.SampledFrom(propSKUs).Draw(t, "excluded")}
		}
		rs[i] = r
	}
	return rs
}

// drawPromos draws promotions of the given kinds and combinabilities.
func drawPromos(t *rapid.T, kinds []PromoKind, combine []Combinability, maxN int) []Promotion {
	ps := make([]Promotion, rapid.IntRange(0, maxN).Draw(t, "promos"))
	for i := range ps {
		p := Promotion{ID: fmt.Sprintf("P%d", i), DisplayName: "p", Kind: rapid.SampledFrom(kinds).Draw(t, "kind"),
			DiscountBps: rapid.Int32Range(1, 10000).Draw(t, "bps"), AmountMinor: rapid.Int64Range(1, 50000).Draw(t, "amount"),
			Currency: "EUR", BuyQuantity: rapid.Int64Range(1, 5).Draw(t, "buy"), GetQuantity: rapid.Int64Range(1, 3).Draw(t, "get"),
			Combine: rapid.SampledFrom(combine).Draw(t, "combine"), Priority: rapid.Int32Range(0, 3).Draw(t, "promoPrio"),
			MinQuantity: rapid.Int64Range(0, 5).Draw(t, "promoMinQ"), Window: drawWindow(t, "promoWindow"),
			TotalLimit: rapid.Int64Range(0, 2).Draw(t, "limit")}
		if p.Kind == PromoTieredSpend {
			p.Tiers = []SpendTier{{MinSpendMinor: rapid.Int64Range(0, 100000).Draw(t, "tier1"), AmountMinor: p.AmountMinor},
				{MinSpendMinor: rapid.Int64Range(100001, 1000000).Draw(t, "tier2"), DiscountBps: p.DiscountBps}}
		}
		if rapid.Bool().Draw(t, "scoped") {
			p.Categories = []string{rapid.SampledFrom(propCategories).Draw(t, "promoCat")}
		}
		if rapid.IntRange(0, 3).Draw(t, "coded") == 0 {
			p.Code = fmt.Sprintf("CODE%d", i)
		}
		ps[i] = p
	}
	return ps
}

func drawWorld(t *rapid.T, contracts []Contract, rules []ChannelRule, promos []Promotion) world {
	var products []catalog.Product
	var prices []Price
	for _, sku := range propSKUs {
		p := catProd(sku, rapid.SampledFrom(propCategories).Draw(t, "category"), rapid.SampledFrom(propBrands).Draw(t, "brand"))
		products = append(products, p)
		unit := rapid.Int64Range(0, 100000).Draw(t, "unit")
		pr := price("PL", sku, unit)
		if rapid.Bool().Draw(t, "break") && unit > 0 {
			pr.Breaks = []Break{{MinQuantity: rapid.Int64Range(2, 20).Draw(t, "breakQty"), UnitMinor: rapid.Int64Range(0, unit).Draw(t, "breakPrice")}}
		}
		if rapid.Bool().Draw(t, "hasCost") {
			pr.CostMinor, pr.HasCost = rapid.Int64Range(0, 150000).Draw(t, "cost"), true
		}
		prices = append(prices, pr)
	}
	lines := make([]QuoteRequestLine, rapid.IntRange(1, 6).Draw(t, "lines"))
	for i := range lines {
		lines[i] = QuoteRequestLine{SKU: rapid.SampledFrom(propSKUs).Draw(t, "sku"), Quantity: rapid.Int64Range(1, 50).Draw(t, "qty")}
	}
	r := req(rapid.SampledFrom([]string{"web", "b2b"}).Draw(t, "channel"), lines...)
	r.CustomerID = rapid.SampledFrom([]string{"", "C1", "C2"}).Draw(t, "quoteCustomer")
	r.AllowPartial = true
	for _, p := range promos {
		if p.Code != "" && rapid.Bool().Draw(t, "enter") {
			r.PromotionCodes = append(r.PromotionCodes, p.Code)
		}
	}
	if rapid.Bool().Draw(t, "bogusCode") {
		r.PromotionCodes = append(r.PromotionCodes, "BOGUS")
	}
	usage := map[string]Usage{}
	for _, p := range promos {
		usage[p.ID] = Usage{Total: rapid.Int64Range(0, 2).Draw(t, "used")}
	}
	in := ruled(input(eurList, prices, products...), NewRuleSet(contracts, rules, promos), usage)
	return world{in: in, req: r, contracts: contracts, rules: rules, promos: promos}
}

var allKinds = []PromoKind{PromoPercent, PromoAmount, PromoBuyXGetY, PromoOrderPercent, PromoOrderAmount, PromoTieredSpend}
var allCombine = []Combinability{CombineBestOf, CombineExclusive, CombineStackable}

func (w world) quote(t *rapid.T) Quote {
	q, err := compute(w.req, w.in, t0, t0, time.Hour)
	if err != nil {
		t.Fatalf("quote: %v", err)
	}
	return q
}

// TestPropQuoteInvariants: for random catalogs, rules of every kind and
// requests, the quote is deterministic (also when the rules come in
// another order), no price is negative, extended = unit × quantity
// exactly, and the totals add up.
func TestPropQuoteInvariants(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := drawWorld(t, drawContracts(t, true), drawRules(t), drawPromos(t, allKinds, allCombine, 5))
		q := w.quote(t)
		if q2 := w.quote(t); !reflect.DeepEqual(q, q2) {
			t.Fatalf("not deterministic:\n%+v\n%+v", q, q2)
		}
		shuffled := w
		shuffled.in.rules = NewRuleSet(rapid.Permutation(w.contracts).Draw(t, "pc"), rapid.Permutation(w.rules).Draw(t, "pr"),
			rapid.Permutation(w.promos).Draw(t, "pp"))
		if q3 := shuffled.quote(t); !reflect.DeepEqual(q, q3) {
			t.Fatalf("depends on rule order:\n%+v\n%+v", q, q3)
		}
		var total, listTotal int64
		for _, l := range q.Lines {
			if l.Reason != LineOK {
				continue
			}
			if l.UnitMinor < 0 || l.Extended < 0 {
				t.Fatalf("negative price: %+v", l)
			}
			if l.Extended != l.UnitMinor*l.Quantity {
				t.Fatalf("extended %d != %d × %d", l.Extended, l.UnitMinor, l.Quantity)
			}
			total += l.Extended
			listTotal += l.ListMinor * l.Quantity
			won := 0
			for _, c := range l.Candidates {
				if c.Outcome == OutcomeWon {
					won++
					if c.Rule != l.Winning || c.UnitMinor != l.UnitMinor {
						t.Fatalf("winning candidate %+v vs line %+v", c, l)
					}
				}
				if (c.Outcome == OutcomeBeaten || c.Outcome == OutcomeNotApplicable) && c.Lost == LostNone {
					t.Fatalf("losing candidate without a reason: %+v", c)
				}
			}
			if won != 1 {
				t.Fatalf("%d winners: %+v", won, l.Candidates)
			}
		}
		if total != q.Total || listTotal != q.ListTotal {
			t.Fatalf("totals %d/%d, lines add up to %d/%d", q.Total, q.ListTotal, total, listTotal)
		}
	})
}

// TestPropContractNeverAboveList: when a contract term prices a line (won
// or beaten by a lower channel price) and no term allows prices above
// list, the line is never above its list price, whatever channel rules
// and promotions do.
func TestPropContractNeverAboveList(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := drawWorld(t, drawContracts(t, false), drawRules(t), drawPromos(t, allKinds, allCombine, 3))
		for _, l := range w.quote(t).Lines {
			if l.Reason != LineOK {
				continue
			}
			for _, c := range l.Candidates {
				if c.Rule.Kind == RuleCustomerContract && c.HasPrice && l.UnitMinor > l.ListMinor {
					t.Fatalf("contract line above list %d: %+v", l.ListMinor, l)
				}
			}
		}
	})
}

// TestPropNonCombinablePromotions: when no promotion stacks, the price of
// every line with all promotions equals the lowest price any single
// promotion gives (or the price without promotions): adding a
// non-combinable promotion never lowers a price below the best single one.
func TestPropNonCombinablePromotions(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		lineKinds := []PromoKind{PromoPercent, PromoAmount, PromoBuyXGetY}
		promos := drawPromos(t, lineKinds, []Combinability{CombineBestOf, CombineExclusive}, 5)
		w := drawWorld(t, drawContracts(t, true), drawRules(t), promos)
		q := w.quote(t)
		with := func(ps []Promotion) Quote {
			w2 := w
			w2.in.rules = NewRuleSet(w.contracts, w.rules, ps)
			return w2.quote(t)
		}
		best := with(nil)
		for _, p := range promos {
			single := with([]Promotion{p})
			for i := range best.Lines {
				if single.Lines[i].UnitMinor < best.Lines[i].UnitMinor {
					best.Lines[i].UnitMinor = single.Lines[i].UnitMinor
				}
			}
		}
		for i, l := range q.Lines {
			if l.UnitMinor != best.Lines[i].UnitMinor {
				t.Fatalf("line %d: %d with all promotions, best single %d: %+v", i, l.UnitMinor, best.Lines[i].UnitMinor, l)
			}
		}
	})
}

// TestPropOrderPromotionNeverOverAllocates: order-level promotions never
// take more off than their nominal discount.
func TestPropOrderPromotionNeverOverAllocates(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		promos := drawPromos(t, []PromoKind{PromoOrderPercent, PromoOrderAmount, PromoTieredSpend}, allCombine[:1], 1)
		w := drawWorld(t, nil, nil, promos)
		q := w.quote(t)
		base := w
		base.in.rules = NewRuleSet(nil, nil, nil)
		b := base.quote(t)
		if len(promos) == 0 {
			return
		}
		var nominal int64
		p := promos[0]
		var s int64
		for _, l := range b.Lines {
			if l.Reason == LineOK {
				if prod := w.in.products[l.SKU]; p.coversLine(prod, l.Quantity) {
					s += l.Extended
				}
			}
		}
		nominal = p.orderDiscount(s)
		if off := b.Total - q.Total; off < 0 || off > nominal {
			t.Fatalf("order promotion took %d off, nominal %d", off, nominal)
		}
	})
}
