package pricing

import (
	"fmt"
	"math/bits"
	"strings"
	"time"

	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
)

// LossReason says why a considered rule did not set the price.
type LossReason int

// Loss reasons of candidates (empty for the winner and applied steps).
const (
	LostNone LossReason = iota
	LostNotEffective
	LostLowerPriority
	LostNotCombinable
	LostLimitReached
	LostHigherPrice
	LostNotApplicable
)

// String names the reason.
func (r LossReason) String() string {
	switch r {
	case LostNotEffective:
		return "not effective"
	case LostLowerPriority:
		return "lower priority"
	case LostNotCombinable:
		return "not combinable"
	case LostLimitReached:
		return "limit reached"
	case LostHigherPrice:
		return "higher price"
	case LostNotApplicable:
		return "not applicable"
	case LostNone:
	}
	return ""
}

// CodeIssueReason says why an entered promotion code did not apply.
type CodeIssueReason int

// Code issue reasons.
const (
	CodeUnknown       CodeIssueReason = iota + 1 // no promotion has the code
	CodeNotEffective                             // outside its window
	CodeExhausted                                // usage limit reached
	CodeNotApplicable                            // channel, currency or no qualifying line
)

// String names the reason.
func (r CodeIssueReason) String() string {
	switch r {
	case CodeUnknown:
		return "unknown code"
	case CodeNotEffective:
		return "code not effective"
	case CodeExhausted:
		return "code usage limit reached"
	case CodeNotApplicable:
		return "code does not apply to this quote"
	}
	return ""
}

// CodeIssue is an entered code that did not apply: a quote-level issue,
// not a failed line or request.
type CodeIssue struct {
	Code   string          `json:"code"`
	Reason CodeIssueReason `json:"r"`
}

// lineState is one line on its way through the pipeline.
type lineState struct {
	line    QuoteLine
	product catalog.Product
	base    int64 // step 1: list or quantity break price
	// undiscounted is the highest price before discounts (base, or the
	// marked-up price): the floor never raises a price above it.
	undiscounted int64
	contractWon  bool
	rule         *ChannelRule // winning channel rule, if any
	cost         int64
	hasCost      bool
	promoApplied bool
}

func (st *lineState) add(c Candidate) { st.line.Candidates = append(st.line.Candidates, c) }

// set makes rule the winner at price v: the previous winner becomes an
// applied step.
func (st *lineState) set(v int64, c Candidate) {
	for i := range st.line.Candidates {
		if st.line.Candidates[i].Outcome == OutcomeWon {
			st.line.Candidates[i].Outcome = OutcomeApplied
		}
	}
	c.Outcome, c.HasPrice, c.UnitMinor = OutcomeWon, true, v
	st.line.UnitMinor, st.line.Winning = v, c.Rule
	st.add(c)
}

func lost(kind RuleKind, name, why string, reason LossReason, price int64, hasPrice bool) Candidate {
	o := OutcomeNotApplicable
	if hasPrice {
		o = OutcomeBeaten
	}
	return Candidate{Rule: Rule{Kind: kind, Name: name, Explanation: why}, HasPrice: hasPrice, UnitMinor: price, Outcome: o, Lost: reason}
}

// excludedBy returns the effective channel rule that takes p out of the
// channel's assortment.
func excludedBy(rules []ChannelRule, p catalog.Product, t time.Time) (ChannelRule, bool) {
	for _, r := range rules {
		if r.Window.At(t) && (contains(r.ExcludedSKUs, p.SKU) || anyCategory(p.Category, r.ExcludedCategories) ||
			(p.Brand != "" && contains(r.ExcludedBrands, p.Brand))) {
			return r, true
		}
	}
	return ChannelRule{}, false
}

func (r ChannelRule) covers(p catalog.Product) bool {
	if len(r.SKUs) == 0 && len(r.Categories) == 0 && len(r.Brands) == 0 {
		return true
	}
	return contains(r.SKUs, p.SKU) || anyCategory(p.Category, r.Categories) || (p.Brand != "" && contains(r.Brands, p.Brand))
}

// termFor returns the most specific term of c for the line: a SKU term
// over a category term, a deeper category over its ancestors, then the
// largest MinQuantity not above the quantity.
func (c Contract) termFor(p catalog.Product, qty int64) (ContractTerm, bool) {
	best, found, bestSpec := ContractTerm{}, false, -1
	for _, t := range c.Terms {
		spec := 0
		switch {
		case t.SKU != "":
			if t.SKU != p.SKU {
				continue
			}
			spec = 1 << 20
		case t.Category != "" && inCategory(p.Category, t.Category):
			spec = categoryDepth(t.Category)
		default:
			continue
		}
		if t.MinQuantity > qty {
			continue
		}
		if !found || spec > bestSpec || spec == bestSpec && t.MinQuantity > best.MinQuantity {
			best, found, bestSpec = t, true, spec
		}
	}
	return best, found
}

// contractPrice is the unit price a term gives for list price list.
func (t ContractTerm) price(list int64) (int64, bool) {
	v := t.UnitMinor
	if !t.Fixed {
		v = max(list-bpsOf(list, int64(t.DiscountBps)), 0)
	}
	if v > list && !t.AllowAboveList {
		return list, true
	}
	return v, false
}

// stepContract (step 2) finds the customer's winning contract term; it
// returns its price and candidate (the price is applied in step 3).
func stepContract(st *lineState, req QuoteRequest, in quoteInput, t time.Time) (price int64, win *Candidate, forced bool) {
	for _, c := range in.rules.contracts(req.CustomerID, req.CustomerGroup) {
		switch {
		case c.Currency != req.Currency:
			st.add(lost(RuleCustomerContract, c.Name(), fmt.Sprintf("Contract %s is in %s, the quote in %s", c.ID, c.Currency, req.Currency), LostNotApplicable, 0, false))
			continue
		case !c.Window.At(t):
			st.add(lost(RuleCustomerContract, c.Name(), fmt.Sprintf("Contract %s is not effective at %s", c.ID, t.UTC().Format(time.RFC3339)), LostNotEffective, 0, false))
			continue
		}
		term, ok := c.termFor(st.product, st.line.Quantity)
		if !ok {
			continue // a contract without a term for the product is not a candidate
		}
		v, capped := term.price(st.line.ListMinor)
		if win != nil {
			st.add(lost(RuleCustomerContract, c.Name(), fmt.Sprintf("Contract %s: %s, lower priority than %s", c.ID,
				FormatMoney(v, req.Currency), win.Rule.Name), LostLowerPriority, v, true))
			continue
		}
		what := fmt.Sprintf("%.2f %% off list %s", float64(term.DiscountBps)/100, FormatMoney(st.line.ListMinor, req.Currency))
		if term.Fixed {
			what = "fixed price " + FormatMoney(term.UnitMinor, req.Currency)
		}
		if capped {
			what += ", capped at list"
		}
		scope := "SKU " + term.SKU
		if term.SKU == "" {
			scope = "category " + term.Category
		}
		if term.AllowAboveList {
			what += " (the term allows prices above list)"
		}
		win, price, forced = &Candidate{Rule: Rule{Kind: RuleCustomerContract, Name: c.Name(),
			Explanation: fmt.Sprintf("Contract %s (%s): %s", c.ID, scope, what)}}, v, term.AllowAboveList
	}
	return price, win, forced
}

// stepChannel (step 3) adjusts the base price by the winning channel rule
// and settles it against the contract: a contract price wins unless the
// channel price is lower and the term does not force its price (a term
// allowing prices above list always wins).
func stepChannel(st *lineState, req QuoteRequest, in quoteInput, t time.Time, cPrice int64, cWin *Candidate, forced bool) {
	channelPrice := st.base
	var chCand *Candidate
	for i, r := range in.rules.channelRules(req.Channel) {
		switch {
		case !r.covers(st.product):
			continue
		case !r.Window.At(t):
			st.add(lost(RuleChannelRule, r.Name(), fmt.Sprintf("Channel rule %s is not effective at %s", r.ID, t.UTC().Format(time.RFC3339)), LostNotEffective, 0, false))
			continue
		case st.rule != nil:
			st.add(lost(RuleChannelRule, r.Name(), fmt.Sprintf("Channel rule %s: lower priority than %s", r.ID, st.rule.ID), LostLowerPriority, adjust(st.base, r.AdjustmentBps), true))
			continue
		}
		st.rule = &in.rules.channelRules(req.Channel)[i]
		channelPrice = adjust(st.base, r.AdjustmentBps)
		if r.AdjustmentBps != 0 {
			word := "markup"
			if r.AdjustmentBps < 0 {
				word = "markdown"
			}
			chCand = &Candidate{Rule: Rule{Kind: RuleChannelRule, Name: r.Name(), Explanation: fmt.Sprintf(
				"Channel %s %s %.2f %%: %s instead of %s", req.Channel, word, float64(r.AdjustmentBps)/100,
				FormatMoney(channelPrice, req.Currency), FormatMoney(st.base, req.Currency))}}
		}
	}
	st.undiscounted = max(st.base, channelPrice)
	switch {
	case cWin != nil && (cPrice <= channelPrice || forced):
		if chCand != nil {
			st.add(lost(RuleChannelRule, chCand.Rule.Name, chCand.Rule.Explanation+"; the contract price is lower or equal",
				LostHigherPrice, channelPrice, true))
		}
		st.contractWon = true
		st.set(cPrice, *cWin)
	case cWin != nil:
		c := *cWin
		st.add(lost(c.Rule.Kind, c.Rule.Name, c.Rule.Explanation+"; the channel price is lower", LostHigherPrice, cPrice, true))
		if chCand != nil {
			st.set(channelPrice, *chCand)
		}
	case chCand != nil:
		st.set(channelPrice, *chCand)
	}
}

// promoState is the applicability of a promotion to a quote, judged once.
type promoState struct {
	p      Promotion
	reason LossReason
	why    string
	code   bool   // entered as a code
	label  string // promoLabel, made once per quote instead of per line
	ref    string // p.Name(), likewise
}

// promoLabel is how explanations name promotion p in currency cur.
func promoLabel(p Promotion, cur string) string {
	s := fmt.Sprintf("Promotion %s (%s): %s", p.ID, p.DisplayName, p.describe(cur))
	if p.Code != "" {
		s += ", code " + p.Code
	}
	return s
}

// judgePromotions decides which promotions may apply to the quote and
// which entered codes are issues.
func judgePromotions(req QuoteRequest, in quoteInput, t time.Time) ([]promoState, []CodeIssue) {
	entered := map[string]bool{}
	var codes []string
	for _, c := range req.PromotionCodes {
		c = strings.ToUpper(c)
		if !entered[c] {
			entered[c] = true
			codes = append(codes, c)
		}
	}
	var out []promoState
	var issues []CodeIssue
	issue := map[string]CodeIssueReason{}
	if in.rules != nil {
		for _, p := range in.rules.promotions {
			if p.Code != "" && !entered[p.Code] {
				continue // a code promotion nobody entered is not considered
			}
			ps := promoState{p: p, code: p.Code != "", label: promoLabel(p, req.Currency), ref: p.Name()}
			switch {
			case len(p.Channels) > 0 && !contains(p.Channels, req.Channel):
				ps.reason, ps.why = LostNotApplicable, "not for channel "+req.Channel
			case (p.Kind == PromoAmount || p.Kind == PromoOrderAmount || p.Kind == PromoTieredSpend) && p.Currency != "" && p.Currency != req.Currency:
				ps.reason, ps.why = LostNotApplicable, "amounts in "+p.Currency
			case !p.Window.At(t):
				ps.reason, ps.why = LostNotEffective, "not effective at "+t.UTC().Format(time.RFC3339)
			case p.limitReached(in.usage[p.ID]):
				ps.reason, ps.why = LostLimitReached, "usage limit reached"
			}
			if ps.code && ps.reason != LostNone {
				issue[p.Code] = map[LossReason]CodeIssueReason{LostNotEffective: CodeNotEffective,
					LostLimitReached: CodeExhausted}[ps.reason]
				if issue[p.Code] == 0 {
					issue[p.Code] = CodeNotApplicable
				}
			}
			out = append(out, ps)
		}
	}
	for _, c := range codes {
		if in.rules == nil {
			issues = append(issues, CodeIssue{Code: c, Reason: CodeUnknown})
		} else if _, ok := in.rules.promoByCode[c]; !ok {
			issues = append(issues, CodeIssue{Code: c, Reason: CodeUnknown})
		} else if r := issue[c]; r != 0 {
			issues = append(issues, CodeIssue{Code: c, Reason: r})
		}
	}
	return out, issues
}

func (p Promotion) coversLine(prod catalog.Product, qty int64) bool {
	if p.MinQuantity > qty {
		return false
	}
	if len(p.SKUs) == 0 && len(p.Categories) == 0 {
		return true
	}
	return contains(p.SKUs, prod.SKU) || anyCategory(prod.Category, p.Categories)
}

// unitAfter is the unit price a line promotion gives from price v.
func (p Promotion) unitAfter(v, qty int64) int64 {
	switch p.Kind {
	case PromoPercent:
		return max(v-bpsOf(v, int64(p.DiscountBps)), 0)
	case PromoAmount:
		return max(v-p.AmountMinor, 0)
	case PromoBuyXGetY:
		group := p.BuyQuantity + p.GetQuantity
		if group <= 0 || p.GetQuantity <= 0 {
			return v
		}
		free := qty / group * p.GetQuantity
		if free == 0 {
			return v
		}
		// Paid units × price spread over all units, rounded up so the
		// extended price stays unit × quantity without giving more than
		// the free units.
		paid := qty - free
		hi, ok := mul(v, paid)
		if !ok {
			return v
		}
		return (hi + qty - 1) / qty
	case PromoOrderPercent, PromoOrderAmount, PromoTieredSpend:
	}
	return v
}

func (p Promotion) describe(cur string) string {
	switch p.Kind {
	case PromoPercent, PromoOrderPercent:
		return fmt.Sprintf("%.2f %% off", float64(p.DiscountBps)/100)
	case PromoAmount, PromoOrderAmount:
		return FormatMoney(p.AmountMinor, cur) + " off"
	case PromoBuyXGetY:
		return fmt.Sprintf("buy %d get %d free", p.BuyQuantity, p.GetQuantity)
	case PromoTieredSpend:
		return "tiered spend"
	}
	return ""
}

// stepPromotions (step 4, line level): exclusive promotions apply alone,
// best-of ones compete, stackable ones apply in priority order on top of
// the best-of result; the lowest resulting price wins.
func stepPromotions(st *lineState, req QuoteRequest, promos []promoState) {
	v := st.line.UnitMinor
	qty := st.line.Quantity
	// The label and resource name judgePromotions made once per quote.
	name := func(ps *promoState) string {
		if ps.label == "" {
			return promoLabel(ps.p, req.Currency)
		}
		return ps.label
	}
	ref := func(ps *promoState) string {
		if ps.ref == "" {
			return ps.p.Name()
		}
		return ps.ref
	}
	type opt struct {
		ps    *promoState
		price int64
	}
	var excl, best []opt
	var stack []*promoState
	for i := range promos {
		ps := &promos[i]
		p := ps.p
		if p.Kind.OrderLevel() || !p.coversLine(st.product, qty) {
			continue
		}
		if ps.reason != LostNone {
			st.add(lost(RulePromotion, ref(ps), name(ps)+": "+ps.why, ps.reason, 0, false))
			continue
		}
		switch p.Combine {
		case CombineExclusive:
			excl = append(excl, opt{ps, p.unitAfter(v, qty)})
		case CombineStackable:
			stack = append(stack, ps)
		case CombineBestOf:
			best = append(best, opt{ps, p.unitAfter(v, qty)})
		}
	}
	if len(excl)+len(best)+len(stack) == 0 {
		return
	}
	// The best-of path: the lowest best-of, then the stack.
	var bestWin *opt
	for i := range best {
		if best[i].price < v && (bestWin == nil || best[i].price < bestWin.price) {
			bestWin = &best[i]
		}
	}
	pathPrice := v
	if bestWin != nil {
		pathPrice = bestWin.price
	}
	stackPrices := make([]int64, len(stack))
	for i, ps := range stack {
		pathPrice = ps.p.unitAfter(pathPrice, qty)
		stackPrices[i] = pathPrice
	}
	var exclWin *opt
	for i := range excl {
		if excl[i].price < pathPrice && (exclWin == nil || excl[i].price < exclWin.price) {
			exclWin = &excl[i]
		}
	}
	for _, o := range excl {
		if exclWin == nil || o.ps.p.ID != exclWin.ps.p.ID {
			st.add(lost(RulePromotion, ref(o.ps), name(o.ps)+": exclusive, another combination gives a lower price", LostNotCombinable, o.price, true))
		}
	}
	if exclWin != nil {
		for _, o := range best {
			st.add(lost(RulePromotion, ref(o.ps), name(o.ps)+": not combinable with exclusive "+exclWin.ps.p.ID, LostNotCombinable, o.price, true))
		}
		for i, ps := range stack {
			st.add(lost(RulePromotion, ref(ps), name(ps)+": not combinable with exclusive "+exclWin.ps.p.ID, LostNotCombinable, stackPrices[i], true))
		}
		st.set(exclWin.price, Candidate{Rule: Rule{Kind: RulePromotion, Name: ref(exclWin.ps), Explanation: name(exclWin.ps)}})
		st.line.Promotions = append(st.line.Promotions, exclWin.ps.p.ID)
		st.promoApplied = true
		return
	}
	for _, o := range best {
		if bestWin == nil || o.ps.p.ID != bestWin.ps.p.ID {
			st.add(lost(RulePromotion, ref(o.ps), name(o.ps)+": another promotion gives a lower price", LostHigherPrice, o.price, true))
		}
	}
	if bestWin != nil {
		st.set(bestWin.price, Candidate{Rule: Rule{Kind: RulePromotion, Name: ref(bestWin.ps), Explanation: name(bestWin.ps)}})
		st.line.Promotions = append(st.line.Promotions, bestWin.ps.p.ID)
		st.promoApplied = true
	}
	for i, ps := range stack {
		if stackPrices[i] < st.line.UnitMinor {
			st.set(stackPrices[i], Candidate{Rule: Rule{Kind: RulePromotion, Name: ref(ps), Explanation: name(ps) + ", stacked"}})
			st.line.Promotions = append(st.line.Promotions, ps.p.ID)
			st.promoApplied = true
		}
	}
}

// orderDiscount is what an order-level promotion takes off subtotal s.
func (p Promotion) orderDiscount(s int64) int64 {
	switch p.Kind {
	case PromoOrderPercent:
		return bpsOf(s, int64(p.DiscountBps))
	case PromoOrderAmount:
		return min(p.AmountMinor, s)
	case PromoTieredSpend:
		var tier *SpendTier
		for i := range p.Tiers {
			if p.Tiers[i].MinSpendMinor <= s && (tier == nil || p.Tiers[i].MinSpendMinor > tier.MinSpendMinor) {
				tier = &p.Tiers[i]
			}
		}
		if tier == nil {
			return 0
		}
		if tier.DiscountBps > 0 {
			return min(bpsOf(s, int64(tier.DiscountBps)), s)
		}
		return min(tier.AmountMinor, s)
	case PromoPercent, PromoAmount, PromoBuyXGetY:
	}
	return 0
}

// stepOrderPromotions (step 4, order level) chooses the order-level
// promotions that take the most off (exclusive alone, best-of competing,
// stackable on top in priority order, each on the eligible subtotal of its
// scope) and allocates each discount to its lines in proportion to their
// extended price, rounded down to whole minor units per unit: a line never
// gets more than its share, so the applied discount may be a few minor
// units below the nominal one, never above.
func stepOrderPromotions(states []*lineState, req QuoteRequest, promos []promoState) {
	type cand struct {
		p     Promotion
		lines []*lineState
	}
	var cands []cand
	for _, ps := range promos {
		if !ps.p.Kind.OrderLevel() {
			continue
		}
		var ls []*lineState
		for _, st := range states {
			if st != nil && ps.p.coversLine(st.product, st.line.Quantity) {
				ls = append(ls, st)
			}
		}
		if len(ls) == 0 {
			continue
		}
		if ps.reason != LostNone {
			for _, st := range ls {
				st.add(lost(RulePromotion, ps.p.Name(), fmt.Sprintf("Order promotion %s (%s): %s", ps.p.ID, ps.p.DisplayName, ps.why), ps.reason, 0, false))
			}
			continue
		}
		cands = append(cands, cand{ps.p, ls})
	}
	if len(cands) == 0 {
		return
	}
	subtotal := func(ls []*lineState) int64 {
		var s int64
		for _, st := range ls {
			if e, ok := mul(st.line.UnitMinor, st.line.Quantity); ok {
				s, _ = add(s, e)
			}
		}
		return s
	}
	// Plans: each exclusive alone; the best best-of plus every stackable.
	var bestOf *cand
	var bestOfD int64
	var stack []cand
	var plans [][]cand
	for i, c := range cands {
		switch c.p.Combine {
		case CombineExclusive:
			plans = append(plans, []cand{c})
		case CombineStackable:
			stack = append(stack, c)
		case CombineBestOf:
			if d := c.p.orderDiscount(subtotal(c.lines)); bestOf == nil || d > bestOfD {
				bestOf, bestOfD = &cands[i], d
			}
		}
	}
	combo := append([]cand(nil), stack...)
	if bestOf != nil {
		combo = append([]cand{*bestOf}, stack...)
	}
	plans = append(plans, combo)
	// Simulate each plan on a copy of the unit prices; keep the one that
	// takes the most off (first such plan on a tie).
	units := func() []int64 {
		u := make([]int64, len(states))
		for i, st := range states {
			if st != nil {
				u[i] = st.line.UnitMinor
			}
		}
		return u
	}
	index := map[*lineState]int{}
	for i, st := range states {
		index[st] = i
	}
	run := func(plan []cand, u []int64, apply bool) int64 {
		var off int64
		for _, c := range plan {
			var s int64
			for _, st := range c.lines {
				e, _ := mul(u[index[st]], st.line.Quantity)
				s, _ = add(s, e)
			}
			d := c.p.orderDiscount(s)
			if d <= 0 || s <= 0 {
				continue
			}
			for _, st := range c.lines {
				i := index[st]
				ext, _ := mul(u[i], st.line.Quantity)
				share := mulDiv(d, ext, s) // the exact share, rounded down
				per := min(share/st.line.Quantity, u[i])
				if per <= 0 {
					continue
				}
				u[i] -= per
				off += per * st.line.Quantity
				if apply {
					st.set(u[i], Candidate{Rule: Rule{Kind: RulePromotion, Name: c.p.Name(), Explanation: fmt.Sprintf(
						"Order promotion %s (%s): %s on %s, %s per unit allocated to this line", c.p.ID, c.p.DisplayName,
						c.p.describe(req.Currency), FormatMoney(s, req.Currency), FormatMoney(per, req.Currency))}})
					if !contains(st.line.Promotions, c.p.ID) {
						st.line.Promotions = append(st.line.Promotions, c.p.ID)
					}
					st.promoApplied = true
				}
			}
		}
		return off
	}
	win, winOff := -1, int64(0)
	for i, plan := range plans {
		if off := run(plan, units(), false); off > winOff {
			win, winOff = i, off
		}
	}
	chosen := map[string]bool{}
	if win >= 0 {
		for _, c := range plans[win] {
			chosen[c.p.ID] = true
		}
		run(plans[win], units(), true)
	}
	for _, c := range cands {
		if chosen[c.p.ID] {
			continue
		}
		for _, st := range c.lines {
			st.add(lost(RulePromotion, c.p.Name(), fmt.Sprintf("Order promotion %s (%s): another combination takes more off", c.p.ID, c.p.DisplayName), LostNotCombinable, 0, false))
		}
	}
}

// stepRoundAndFloor (steps 5 and 6): the channel rule's rounding, then
// its floor (minimum price against list, minimum margin against cost),
// both skipped when a contract set the price: a negotiated price is exact.
// The floor never raises a price above the undiscounted price.
func stepRoundAndFloor(st *lineState, req QuoteRequest) {
	r := st.rule
	if r == nil || st.contractWon {
		return
	}
	if v := round(st.line.UnitMinor, r.Rounding); v != st.line.UnitMinor {
		mode := map[Rounding]string{Round99: ".99", Round5: "5 minor units"}[r.Rounding]
		st.set(v, Candidate{Rule: Rule{Kind: RuleChannelRule, Name: r.Name(), Explanation: fmt.Sprintf(
			"Channel %s rounds down to %s: %s", req.Channel, mode, FormatMoney(v, req.Currency))}})
	}
	var floor int64
	why := ""
	if r.MinPriceBps > 0 {
		floor, why = bpsOf(st.line.ListMinor, int64(r.MinPriceBps)), fmt.Sprintf("minimum price %.2f %% of list", float64(r.MinPriceBps)/100)
	}
	if r.MarginFloor && st.hasCost {
		if m := adjust(st.cost, r.MinMarginBps); m > floor {
			floor, why = m, fmt.Sprintf("minimum margin %.2f %% over cost %s", float64(r.MinMarginBps)/100, FormatMoney(st.cost, req.Currency))
		}
	}
	floor = min(floor, st.undiscounted)
	if st.line.UnitMinor < floor {
		st.set(floor, Candidate{Rule: Rule{Kind: RuleChannelRule, Name: r.Name(), Explanation: fmt.Sprintf(
			"Channel %s floor (%s) raises the price to %s", req.Channel, why, FormatMoney(floor, req.Currency))}})
	}
}

// mulDiv returns a × b / c rounded down, for 0 ≤ a ≤ c and b ≥ 0 (so the
// result fits: it is at most b).
func mulDiv(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, _ := bits.Div64(hi, lo, uint64(c))
	return int64(q)
}
