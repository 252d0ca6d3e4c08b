package pricing

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
)

// ruled is input() with a rule set and usage.
func ruled(in quoteInput, rs *RuleSet, usage map[string]Usage) quoteInput {
	in.rules, in.usage = rs, usage
	return in
}

func catProd(sku, category, brand string) catalog.Product {
	p := prod(sku)
	p.Category, p.Brand = category, brand
	return p
}

func quote1(t *testing.T, r QuoteRequest, in quoteInput) Quote {
	t.Helper()
	q, err := compute(r, in, t0, t0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range q.Lines {
		if l.Extended != l.UnitMinor*l.Quantity {
			t.Fatalf("line %d: extended %d != %d × %d", l.Index, l.Extended, l.UnitMinor, l.Quantity)
		}
	}
	return q
}

func candidate(l QuoteLine, name string) (Candidate, bool) {
	for _, c := range l.Candidates {
		if c.Rule.Name == name {
			return c, true
		}
	}
	return Candidate{}, false
}

var (
	eurList = []PriceList{{ID: "PL", Currency: "EUR", DisplayName: "Standard"}}
	items   = []catalog.Product{catProd("DRILL", "tools/power", "acme"), catProd("SAW", "tools/hand", "bosk"), catProd("GLUE", "supplies", "acme")}
	prices3 = []Price{price("PL", "DRILL", 10000), price("PL", "SAW", 2000), price("PL", "GLUE", 599)}
)

func TestContracts(t *testing.T) {
	cust := func(lines ...QuoteRequestLine) QuoteRequest {
		r := req("b2b", lines...)
		r.CustomerID = "C0002"
		return r
	}
	contracts := []Contract{
		{ID: "K1", CustomerID: "C0002", Currency: "EUR", Priority: 1, Terms: []ContractTerm{
			{Category: "tools", DiscountBps: 1000},
			{Category: "tools/power", DiscountBps: 1500},
			{SKU: "DRILL", Fixed: true, UnitMinor: 8000, MinQuantity: 10},
			{SKU: "GLUE", Fixed: true, UnitMinor: 700}, // above list 5.99: capped
		}},
		{ID: "K2", CustomerID: "C0002", Currency: "EUR", Priority: 2, Terms: []ContractTerm{{SKU: "SAW", Fixed: true, UnitMinor: 1000}}},
		{ID: "KOLD", CustomerID: "C0002", Currency: "EUR", Window: Window{End: t0}, Terms: []ContractTerm{{SKU: "SAW", Fixed: true, UnitMinor: 1}}},
		{ID: "KUSD", CustomerID: "C0002", Currency: "USD", Terms: []ContractTerm{{SKU: "SAW", Fixed: true, UnitMinor: 1}}},
		{ID: "KX", CustomerID: "C0009", Currency: "EUR", Terms: []ContractTerm{{SKU: "SAW", Fixed: true, UnitMinor: 1}}},
	}
	in := ruled(input(eurList, prices3, items...), NewRuleSet(contracts, nil, nil), nil)
	q := quote1(t, cust(QuoteRequestLine{SKU: "DRILL", Quantity: 1}, QuoteRequestLine{SKU: "DRILL", Quantity: 10},
		QuoteRequestLine{SKU: "SAW", Quantity: 1}, QuoteRequestLine{SKU: "GLUE", Quantity: 1}), in)
	want := []struct {
		unit   int64
		winner string
	}{{8500, "customerContracts/K1"}, {8000, "customerContracts/K1"}, {1800, "customerContracts/K1"}, {599, "customerContracts/K1"}}
	for i, w := range want {
		l := q.Lines[i]
		if l.UnitMinor != w.unit || l.Winning.Name != w.winner || l.Winning.Kind != RuleCustomerContract {
			t.Errorf("line %d: %d by %s (%s); want %d by %s", i, l.UnitMinor, l.Winning.Name, l.Winning.Explanation, w.unit, w.winner)
		}
	}
	saw := q.Lines[2]
	for name, lost := range map[string]LossReason{"customerContracts/K2": LostLowerPriority, "customerContracts/KOLD": LostNotEffective, "customerContracts/KUSD": LostNotApplicable} {
		if c, ok := candidate(saw, name); !ok || c.Lost != lost || c.Outcome == OutcomeWon {
			t.Errorf("saw: candidate %s = %+v, %v; want lost %v", name, c, ok, lost)
		}
	}
	if _, ok := candidate(saw, "customerContracts/KX"); ok {
		t.Error("another customer's contract was considered")
	}
	if !strings.Contains(q.Lines[3].Winning.Explanation, "capped at list") {
		t.Errorf("glue explanation %q", q.Lines[3].Winning.Explanation)
	}
	// A term that allows it prices above list; anonymous quotes see list.
	contracts[0].Terms[3].AllowAboveList = true
	in.rules = NewRuleSet(contracts, nil, nil)
	if q := quote1(t, cust(QuoteRequestLine{SKU: "GLUE", Quantity: 1}), in); q.Lines[0].UnitMinor != 700 {
		t.Errorf("allow above list: %d", q.Lines[0].UnitMinor)
	}
	if q := quote1(t, req("b2b", QuoteRequestLine{SKU: "DRILL", Quantity: 1}), in); q.Lines[0].UnitMinor != 10000 || q.Lines[0].Winning.Kind != RuleListPrice {
		t.Errorf("anonymous: %+v", q.Lines[0])
	}
	// A group contract applies after the customer's own. Discounts round
	// half up (2.995 off → 2.99 left).
	grp := []Contract{{ID: "G", CustomerGroup: "dealers", Currency: "EUR", Terms: []ContractTerm{{Category: "supplies", DiscountBps: 5000}}}}
	in.rules = NewRuleSet(grp, nil, nil)
	r := req("b2b", QuoteRequestLine{SKU: "GLUE", Quantity: 1})
	r.CustomerID, r.CustomerGroup = "C0100", "dealers"
	if q := quote1(t, r, in); q.Lines[0].UnitMinor != 299 || q.Lines[0].Winning.Name != "customerContracts/G" {
		t.Errorf("group contract: %+v", q.Lines[0])
	}
}

func TestChannelRules(t *testing.T) {
	rules := []ChannelRule{
		{ID: "WEB-UP", Channel: "web", Brands: []string{"acme"}, AdjustmentBps: 1000, Rounding: Round99, Priority: 1},
		{ID: "WEB-ALL", Channel: "web", AdjustmentBps: -2000, Rounding: Round5, Priority: 2, MinPriceBps: 9000},
		{ID: "WEB-X", Channel: "web", Priority: 9, ExcludedCategories: []string{"tools/hand"}},
		{ID: "B2B", Channel: "b2b", AdjustmentBps: -5000, MarginFloor: true, MinMarginBps: 2000},
	}
	ps := append([]Price(nil), prices3...)
	ps[0].CostMinor, ps[0].HasCost = 6000, true
	in := ruled(input(eurList, ps, items...), NewRuleSet(nil, rules, nil), nil)
	q := quote1(t, req("web", QuoteRequestLine{SKU: "DRILL", Quantity: 1}, QuoteRequestLine{SKU: "GLUE", Quantity: 3}), in)
	// DRILL (acme): +10 % = 110.00 → .99 rounding → 109.99.
	if l := q.Lines[0]; l.UnitMinor != 10999 || l.Winning.Name != "channelRules/WEB-UP" {
		t.Errorf("drill web: %+v", l)
	}
	if c, ok := candidate(q.Lines[0], "channelRules/WEB-ALL"); !ok || c.Lost != LostLowerPriority {
		t.Errorf("drill web: lower rule %+v", c)
	}
	// GLUE (acme) 5.99 +10 % = 6.59 → 5.99.
	if l := q.Lines[1]; l.UnitMinor != 599 {
		t.Errorf("glue web: %+v", l)
	}
	// SAW is excluded from web by WEB-X.
	_, err := compute(req("web", QuoteRequestLine{SKU: "SAW", Quantity: 1}), in, t0, t0, time.Hour)
	var le *LineError
	if !errors.As(err, &le) || le.Reason != LineNotSellable || le.ExcludedBy != "channelRules/WEB-X" {
		t.Fatalf("excluded saw: %v", err)
	}
	// b2b: -50 % of 100.00 = 50.00, floored at cost 60.00 + 20 % = 72.00.
	q = quote1(t, req("b2b", QuoteRequestLine{SKU: "DRILL", Quantity: 2}, QuoteRequestLine{SKU: "SAW", Quantity: 1}), in)
	if l := q.Lines[0]; l.UnitMinor != 7200 || l.Winning.Kind != RuleChannelRule || !strings.Contains(l.Winning.Explanation, "margin") {
		t.Errorf("drill b2b floor: %+v", l)
	}
	// SAW has no cost: no margin floor.
	if l := q.Lines[1]; l.UnitMinor != 1000 {
		t.Errorf("saw b2b: %+v", l)
	}
	// The floor never raises above the undiscounted price.
	rules[3].MinMarginBps = 100000
	in.rules = NewRuleSet(nil, rules, nil)
	if q := quote1(t, req("b2b", QuoteRequestLine{SKU: "DRILL", Quantity: 1}), in); q.Lines[0].UnitMinor != 10000 {
		t.Errorf("floor above list: %+v", q.Lines[0])
	}
	// A channel markdown lower than the contract wins over it.
	contracts := []Contract{{ID: "K", CustomerID: "C1", Currency: "EUR", Terms: []ContractTerm{{SKU: "SAW", Fixed: true, UnitMinor: 1500}}}}
	in.rules = NewRuleSet(contracts, rules[3:], nil)
	r := req("b2b", QuoteRequestLine{SKU: "SAW", Quantity: 1})
	r.CustomerID = "C1"
	q = quote1(t, r, in)
	if l := q.Lines[0]; l.UnitMinor != 1000 || l.Winning.Name != "channelRules/B2B" {
		t.Errorf("markdown vs contract: %+v", l)
	}
	if c, _ := candidate(q.Lines[0], "customerContracts/K"); c.Lost != LostHigherPrice || c.UnitMinor != 1500 {
		t.Errorf("contract candidate: %+v", c)
	}
}

func TestPromotions(t *testing.T) {
	start := Window{Start: t0.Add(-time.Hour)}
	promos := []Promotion{
		{ID: "P10", DisplayName: "10 off tools", Categories: []string{"tools"}, Kind: PromoPercent, DiscountBps: 1000, Window: start},
		{ID: "P20", DisplayName: "20 off drill", SKUs: []string{"DRILL"}, Kind: PromoPercent, DiscountBps: 2000, Window: start},
		{ID: "STACK", DisplayName: "1 EUR off", Kind: PromoAmount, AmountMinor: 100, Currency: "EUR", Combine: CombineStackable, Window: start, SKUs: []string{"DRILL", "SAW"}},
		{ID: "B2G1", DisplayName: "glue 2+1", SKUs: []string{"GLUE"}, Kind: PromoBuyXGetY, BuyQuantity: 2, GetQuantity: 1, Window: start},
		{ID: "WELCOME", DisplayName: "Welcome", Code: "WELCOME10", Kind: PromoOrderPercent, DiscountBps: 1000, Window: start, PerCustomerLimit: 1},
		{ID: "LATER", DisplayName: "Later", Code: "LATER", Kind: PromoPercent, DiscountBps: 5000, Window: Window{Start: t0.Add(time.Hour)}},
	}
	in := ruled(input(eurList, prices3, items...), NewRuleSet(nil, nil, promos), nil)
	lines := []QuoteRequestLine{{SKU: "DRILL", Quantity: 1}, {SKU: "SAW", Quantity: 2}, {SKU: "GLUE", Quantity: 7}}
	q := quote1(t, req("web", lines...), in)
	// DRILL: best-of P20 (80.00) beats P10 (90.00), then 1 EUR stacked.
	if l := q.Lines[0]; l.UnitMinor != 7900 || l.Winning.Name != "promotions/STACK" {
		t.Errorf("drill: %+v", l)
	}
	if c, _ := candidate(q.Lines[0], "promotions/P10"); c.Lost != LostHigherPrice || c.UnitMinor != 9000 {
		t.Errorf("drill P10: %+v", c)
	}
	// SAW: 10 % off 20.00 = 18.00, minus 1 = 17.00.
	if l := q.Lines[1]; l.UnitMinor != 1700 {
		t.Errorf("saw: %+v", l)
	}
	// GLUE ×7, buy 2 get 1: 2 free, 5 × 5.99 = 29.95 over 7 units → 4.28 (rounded up).
	if l := q.Lines[2]; l.UnitMinor != 428 || l.Winning.Name != "promotions/B2G1" {
		t.Errorf("glue: %+v", l)
	}
	if len(q.CodeIssues) != 0 || strings.Join(q.Promotions, ",") != "P20,STACK,P10,B2G1" {
		t.Errorf("issues %v, promotions %v", q.CodeIssues, q.Promotions)
	}
	// The code: 10 % of the order allocated to lines; unknown and
	// not-yet-effective codes are issues, not failures.
	r := req("web", lines...)
	r.CustomerID, r.PromotionCodes = "C1", []string{"welcome10", "NOPE", "LATER"}
	q2 := quote1(t, r, in)
	if q2.Total >= q.Total || q.Total-q2.Total > q.Total/10 || q.Total-q2.Total < q.Total/10-int64(len(lines))*7 {
		t.Errorf("order promotion: total %d → %d", q.Total, q2.Total)
	}
	for _, l := range q2.Lines {
		if _, ok := candidate(l, "promotions/WELCOME"); !ok {
			t.Errorf("line %d: no WELCOME candidate", l.Index)
		}
	}
	wantIssues := map[string]CodeIssueReason{"NOPE": CodeUnknown, "LATER": CodeNotEffective}
	if len(q2.CodeIssues) != 2 {
		t.Errorf("issues %v", q2.CodeIssues)
	}
	for _, is := range q2.CodeIssues {
		if wantIssues[is.Code] != is.Reason {
			t.Errorf("issue %+v", is)
		}
	}
	// Used once by this customer: exhausted.
	in.usage = map[string]Usage{"WELCOME": {Total: 5, Customer: 1}}
	q3 := quote1(t, r, in)
	if q3.Total != q.Total || !hasIssue(q3.CodeIssues, "WELCOME10") || q3.CodeIssues[0].Reason != CodeExhausted {
		t.Errorf("exhausted: total %d, issues %v", q3.Total, q3.CodeIssues)
	}
	if c, _ := candidate(q3.Lines[0], "promotions/WELCOME"); c.Lost != LostLimitReached {
		t.Errorf("exhausted candidate %+v", c)
	}
}

func TestExclusiveAndTieredPromotions(t *testing.T) {
	start := Window{Start: t0.Add(-time.Hour)}
	promos := []Promotion{
		{ID: "EX", DisplayName: "exclusive 30", Kind: PromoPercent, DiscountBps: 3000, Combine: CombineExclusive, Window: start},
		{ID: "B", DisplayName: "best 20", Kind: PromoPercent, DiscountBps: 2000, Window: start},
		{ID: "S", DisplayName: "stack 5", Kind: PromoPercent, DiscountBps: 500, Combine: CombineStackable, Window: start},
		{ID: "TIER", DisplayName: "spend", Kind: PromoTieredSpend, Currency: "EUR", Window: start,
			Tiers: []SpendTier{{MinSpendMinor: 10000, AmountMinor: 500}, {MinSpendMinor: 50000, DiscountBps: 1000}}},
	}
	in := ruled(input(eurList, prices3, items...), NewRuleSet(nil, nil, promos), nil)
	// SAW 20.00: best 20 % → 16.00, stack 5 % → 15.20; exclusive 30 % → 14.00 wins.
	q := quote1(t, req("web", QuoteRequestLine{SKU: "SAW", Quantity: 1}), in)
	if l := q.Lines[0]; l.UnitMinor != 1400 || l.Winning.Name != "promotions/EX" {
		t.Errorf("saw: %+v", l)
	}
	for _, n := range []string{"promotions/B", "promotions/S"} {
		if c, _ := candidate(q.Lines[0], n); c.Lost != LostNotCombinable {
			t.Errorf("%s: %+v", n, c)
		}
	}
	// Subtotal 14.00 < 100.00: no tier reached, so TIER takes nothing off.
	if q.Total != 1400 {
		t.Errorf("total %d", q.Total)
	}
	// 10 drills at 70.00 = 700.00 ≥ 500.00: 10 % off the order.
	q = quote1(t, req("web", QuoteRequestLine{SKU: "DRILL", Quantity: 10}), in)
	if l := q.Lines[0]; l.UnitMinor != 6300 || l.Winning.Name != "promotions/TIER" {
		t.Errorf("tiered: %+v", l)
	}
}
