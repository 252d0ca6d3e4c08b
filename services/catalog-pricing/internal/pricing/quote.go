package pricing

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/transload/transload/platform/fingerprint"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
)

// RuleKind is the kind of pricing rule that produced a price.
type RuleKind int

// Rule kinds (catalog.v1 RuleKind).
const (
	RuleUnspecified RuleKind = iota
	RuleListPrice
	RuleQuantityBreak
	RuleCustomerContract
	RuleChannelRule
	RulePromotion
)

// Outcome is what the engine did with a candidate.
type Outcome int

// Candidate outcomes (catalog.v1 PriceCandidate.Outcome).
const (
	OutcomeUnspecified Outcome = iota
	OutcomeWon
	OutcomeApplied
	OutcomeBeaten
	OutcomeNotApplicable
)

// Rule identifies a rule and explains it for people.
type Rule struct {
	Kind        RuleKind `json:"k"`
	Name        string   `json:"n"`
	Explanation string   `json:"e"`
}

// Candidate is one rule considered for a line. UnitMinor is meaningful only
// when HasPrice is true (not for NOT_APPLICABLE candidates).
type Candidate struct {
	Rule      Rule    `json:"r"`
	HasPrice  bool    `json:"h"`
	UnitMinor int64   `json:"u"`
	Outcome   Outcome `json:"o"`
	// Lost says why a BEATEN or NOT_APPLICABLE candidate did not win.
	Lost LossReason `json:"lr,omitempty"`
}

// LineReason says why a line could not be priced.
type LineReason int

// Line failure reasons (catalog.v1 ErrorReason values used per line).
const (
	LineOK LineReason = iota
	LineProductNotFound
	LineNotSellable
	LineNotPackMultiple
	LinePriceNotFound
)

// QuoteRequestLine is one line to price.
type QuoteRequestLine struct {
	SKU      string `json:"s"`
	Quantity int64  `json:"q"`
}

// QuoteRequest is the input of Quote.
type QuoteRequest struct {
	CustomerID string
	// CustomerGroup, when set, also applies the group's contracts after
	// the customer's own.
	CustomerGroup  string
	Channel        string
	Currency       string
	Lines          []QuoteRequestLine
	PriceTime      time.Time // zero: now
	PromotionCodes []string
	AllowPartial   bool
}

// QuoteLine is one priced line. For a line that failed (AllowPartial) only
// Index, SKU, Quantity and Reason are set.
type QuoteLine struct {
	Index      int         `json:"i"`
	SKU        string      `json:"s"`
	Quantity   int64       `json:"q"`
	UnitMinor  int64       `json:"u"`
	Extended   int64       `json:"x"`
	ListMinor  int64       `json:"l"`
	Winning    Rule        `json:"w"`
	Candidates []Candidate `json:"c,omitempty"`
	Reason     LineReason  `json:"r,omitempty"`
	// Promotions are the ids of the promotions that lowered the line.
	Promotions []string `json:"pr,omitempty"`
}

// Quote is a priced set of lines; all amounts are minor units of Currency.
type Quote struct {
	Lines          []QuoteLine `json:"lines"`
	Currency       string      `json:"cur"`
	ListTotal      int64       `json:"lt"`
	Total          int64       `json:"t"`
	PriceVersion   int64       `json:"pv"`
	CatalogVersion int64       `json:"cv"`
	Etag           string      `json:"etag"`
	PriceTime      time.Time   `json:"pt"`
	ExpireTime     time.Time   `json:"et"`
	// Promotions are the ids of every promotion applied to a line, in
	// first-use order: what an order placed at this quote redeems.
	Promotions []string `json:"pr,omitempty"`
	// CodeIssues are the entered codes that did not apply and why.
	CodeIssues []CodeIssue `json:"ci,omitempty"`
}

// LineError fails a whole quote (without AllowPartial) because line Index
// cannot be priced.
type LineError struct {
	Index    int
	SKU      string
	Reason   LineReason
	Channel  string
	Status   string
	Quantity int64
	PackSize int64
	Currency string
	// ExcludedBy is the channel rule that excludes the SKU from the
	// channel's assortment (LineNotSellable), if that is why.
	ExcludedBy string
	// CatalogVersion is the version the SKU was looked up in.
	CatalogVersion int64
	PriceTime      time.Time
}

// Error describes the LineError.
func (e *LineError) Error() string {
	return fmt.Sprintf("line %d (%s): %s", e.Index, e.SKU, e.Reason)
}

// String names the reason.
func (r LineReason) String() string {
	switch r {
	case LineProductNotFound:
		return "product not found"
	case LineNotSellable:
		return "product not sellable in channel"
	case LineNotPackMultiple:
		return "quantity not a multiple of the pack size"
	case LinePriceNotFound:
		return "no price"
	case LineOK:
	}
	return "ok"
}

// CurrencyMismatchError: no price list in the requested currency exists,
// while lists in other currencies do.
type CurrencyMismatchError struct {
	Requested string
	Available []string
}

// Error describes the CurrencyMismatchError.
func (e *CurrencyMismatchError) Error() string {
	return fmt.Sprintf("no prices in %s; prices exist in %s", e.Requested, strings.Join(e.Available, ", "))
}

// OverflowError: a line's or the quote's amount does not fit 64 bits.
type OverflowError struct{ Index int }

// Error describes the OverflowError.
func (e *OverflowError) Error() string { return fmt.Sprintf("line %d: amount overflows", e.Index) }

// quoteInput is what the engine needs besides the request: the catalog
// products and the candidate price lists and entries.
type quoteInput struct {
	catalogVersion int64
	priceVersion   int64
	products       map[string]catalog.Product
	lists          []PriceList          // lists in the currency for the channel or all channels
	prices         map[string][]Price   // by SKU, entries of lists
	listByID       map[string]PriceList // lists by id
	rules          *RuleSet             // contracts, channel rules, promotions (nil: none)
	usage          map[string]Usage     // redemptions by promotion id
}

// compute prices req at priceTime; now is the server clock for expire_time.
// Per line it runs the pipeline base → contract → channel rule → line
// promotions; then order promotions over all lines; then rounding and the
// floor per line (see engine.go).
func compute(req QuoteRequest, in quoteInput, priceTime, now time.Time, ttl time.Duration) (Quote, error) {
	q := Quote{
		Currency: req.Currency, PriceVersion: in.priceVersion, CatalogVersion: in.catalogVersion,
		PriceTime: priceTime, ExpireTime: now.Add(ttl),
	}
	// Window boundaries after the pricing time of any list or rule that
	// could price a line bound the quote's validity.
	bound := func(ts ...time.Time) {
		for _, b := range ts {
			if !b.IsZero() && b.After(priceTime) && b.Before(q.ExpireTime) {
				q.ExpireTime = b
			}
		}
	}
	for _, l := range in.lists {
		bound(l.StartTime, l.EndTime)
	}
	for _, c := range in.rules.contracts(req.CustomerID, req.CustomerGroup) {
		bound(c.Window.Start, c.Window.End)
	}
	for _, r := range in.rules.channelRules(req.Channel) {
		bound(r.Window.Start, r.Window.End)
	}
	promos, issues := judgePromotions(req, in, priceTime)
	for _, ps := range promos {
		bound(ps.p.Window.Start, ps.p.Window.End)
	}
	q.CodeIssues = issues
	states := make([]*lineState, len(req.Lines))
	q.Lines = make([]QuoteLine, 0, len(req.Lines))
	var failed []QuoteLine
	for i, rl := range req.Lines {
		st, lerr := priceLine(req, in, i, rl, priceTime)
		if lerr != nil {
			if !req.AllowPartial {
				return Quote{}, lerr
			}
			failed = append(failed, QuoteLine{Index: i, SKU: rl.SKU, Quantity: rl.Quantity, Reason: lerr.Reason})
			continue
		}
		stepPromotions(st, req, promos)
		states[i] = st
	}
	stepOrderPromotions(states, req, promos)
	applied := map[string]bool{}
	for i, st := range states {
		if st == nil {
			q.Lines = append(q.Lines, failed[0])
			failed = failed[1:]
			continue
		}
		stepRoundAndFloor(st, req)
		line := st.line
		ext, ok := mul(line.UnitMinor, line.Quantity)
		lt, ok2 := mul(line.ListMinor, line.Quantity)
		if !ok || !ok2 {
			return Quote{}, &OverflowError{Index: i}
		}
		line.Extended = ext
		if q.Total, ok = add(q.Total, ext); !ok {
			return Quote{}, &OverflowError{Index: i}
		}
		if q.ListTotal, ok = add(q.ListTotal, lt); !ok {
			return Quote{}, &OverflowError{Index: i}
		}
		for _, id := range line.Promotions {
			if !applied[id] {
				applied[id] = true
				q.Promotions = append(q.Promotions, id)
			}
		}
		q.Lines = append(q.Lines, line)
	}
	// An entered code that is valid but lowered no line does not apply.
	for _, c := range uniqueUpper(req.PromotionCodes) {
		if p, ok := in.rules.byCode(c); ok && !applied[p.ID] && !hasIssue(q.CodeIssues, c) {
			q.CodeIssues = append(q.CodeIssues, CodeIssue{Code: c, Reason: CodeNotApplicable})
		}
	}
	return q, nil
}

func hasIssue(is []CodeIssue, code string) bool {
	for _, i := range is {
		if i.Code == code {
			return true
		}
	}
	return false
}

// uniqueUpper returns the codes upper-cased, without repeats, in order.
func uniqueUpper(codes []string) []string {
	out := make([]string, 0, len(codes))
	for _, c := range codes {
		c = strings.ToUpper(c)
		if !contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

func mul(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	if a < 0 || b < 0 || a > math.MaxInt64/b {
		return 0, false
	}
	return a * b, true
}

func add(a, b int64) (int64, bool) {
	if b > 0 && a > math.MaxInt64-b {
		return 0, false
	}
	return a + b, true
}

// priceLine checks sellability (status, channel, assortment exclusions of
// channel rules, pack size), takes the base price of the winning price
// list (step 1, with quantity breaks), then runs the contract (2) and
// channel rule (3) steps.
func priceLine(req QuoteRequest, in quoteInput, i int, rl QuoteRequestLine, t time.Time) (*lineState, *LineError) {
	lerr := func(r LineReason) *LineError {
		return &LineError{Index: i, SKU: rl.SKU, Reason: r, Channel: req.Channel, Quantity: rl.Quantity,
			Currency: req.Currency, CatalogVersion: in.catalogVersion, PriceTime: t}
	}
	p, ok := in.products[rl.SKU]
	if !ok {
		return nil, lerr(LineProductNotFound)
	}
	if !p.SellableIn(req.Channel) {
		e := lerr(LineNotSellable)
		e.Status = p.Status.String()
		return nil, e
	}
	if r, excluded := excludedBy(in.rules.channelRules(req.Channel), p, t); excluded {
		e := lerr(LineNotSellable)
		e.Status, e.ExcludedBy = p.Status.String(), r.Name()
		return nil, e
	}
	pack := max(p.PackSize, 1)
	if rl.Quantity%pack != 0 {
		e := lerr(LineNotPackMultiple)
		e.PackSize = pack
		return nil, e
	}

	// Step 2: every entry of a list in the currency for the channel (or all
	// channels) is a candidate; effective ones compete on priority, then
	// channel-specific before all-channel, then name.
	entries := in.prices[rl.SKU]
	var effective, inactive []Price
	for _, e := range entries {
		if in.listByID[e.PriceList].EffectiveAt(t) {
			effective = append(effective, e)
		} else {
			inactive = append(inactive, e)
		}
	}
	if len(effective) == 0 {
		return nil, lerr(LinePriceNotFound)
	}
	sort.SliceStable(effective, func(a, b int) bool {
		la, lb := in.listByID[effective[a].PriceList], in.listByID[effective[b].PriceList]
		if la.Priority != lb.Priority {
			return la.Priority < lb.Priority
		}
		if (la.Channel != "") != (lb.Channel != "") {
			return la.Channel != ""
		}
		return la.ID < lb.ID
	})
	win := effective[0]
	wl := in.listByID[win.PriceList]
	line := QuoteLine{Index: i, SKU: rl.SKU, Quantity: rl.Quantity, ListMinor: win.UnitMinor, UnitMinor: win.UnitMinor}
	// Room for the lists, a break and (with rules) a few rule steps, so the
	// candidates are not copied as they grow.
	room := len(effective) + 1
	if in.rules != nil {
		room += 6
	}
	line.Candidates = make([]Candidate, 0, room)
	listRule := Rule{
		Kind: RuleListPrice, Name: win.Name(),
		Explanation: fmt.Sprintf("List price %s per %s from price list %s (%s)",
			FormatMoney(win.UnitMinor, req.Currency), p.BaseUnit, wl.ID, wl.DisplayName),
	}
	winning := Candidate{Rule: listRule, HasPrice: true, UnitMinor: win.UnitMinor, Outcome: OutcomeWon}
	line.Winning = listRule
	if br, ok := win.BreakFor(rl.Quantity); ok {
		winning.Outcome = OutcomeApplied
		brRule := Rule{
			Kind: RuleQuantityBreak, Name: win.Name(),
			Explanation: fmt.Sprintf("Quantity break from %d %s: %s instead of list %s", br.MinQuantity, p.BaseUnit,
				FormatMoney(br.UnitMinor, req.Currency), FormatMoney(win.UnitMinor, req.Currency)),
		}
		line.UnitMinor, line.Winning = br.UnitMinor, brRule
		line.Candidates = append(line.Candidates, winning, Candidate{Rule: brRule, HasPrice: true, UnitMinor: br.UnitMinor, Outcome: OutcomeWon})
	} else {
		line.Candidates = append(line.Candidates, winning)
	}
	for _, e := range effective[1:] {
		l := in.listByID[e.PriceList]
		line.Candidates = append(line.Candidates, Candidate{
			Rule: Rule{Kind: RuleListPrice, Name: e.Name(), Explanation: fmt.Sprintf(
				"List price %s from price list %s (%s), beaten by %s (priority %d vs %d)",
				FormatMoney(e.UnitMinor, req.Currency), l.ID, l.DisplayName, wl.ID, wl.Priority, l.Priority)},
			HasPrice: true, UnitMinor: e.UnitMinor, Outcome: OutcomeBeaten, Lost: LostLowerPriority,
		})
	}
	for _, e := range inactive {
		l := in.listByID[e.PriceList]
		line.Candidates = append(line.Candidates, Candidate{
			Rule: Rule{Kind: RuleListPrice, Name: e.Name(), Explanation: fmt.Sprintf(
				"Price list %s (%s) is not effective at %s", l.ID, l.DisplayName, t.UTC().Format(time.RFC3339))},
			Outcome: OutcomeNotApplicable, Lost: LostNotEffective,
		})
	}
	st := &lineState{line: line, product: p, base: line.UnitMinor, cost: win.CostMinor, hasCost: win.HasCost}
	cPrice, cWin, forced := stepContract(st, req, in, t)
	stepChannel(st, req, in, t, cPrice, cWin, forced)
	return st, nil
}

// cacheKey identifies a quote: both versions, the customer, channel,
// currency, the line set and everything else that changes the answer. A
// publish or price change yields a new key, so no delete is needed.
//
// The key is "v{cv}.{pv}:" and the SHA-256 (hex) of
// "cv={cv}|pv={pv}|cust={customer}|ch={channel}|cur={currency}"
// ["|grp={group}"]["|t={price time, RFC 3339}"]"|codes={sorted upper-case
// codes, comma-separated}|partial={bool}" and "|{sku}*{quantity}" per
// line: the shared quote cache holds quotes of every replica and release
// under it, so it never changes (TestQuoteFingerprintsAreStable). It is
// built in one pooled buffer with two allocations, since every quote,
// memoized or not, builds it (it was ~40 allocations per 20-line quote).
func cacheKey(req QuoteRequest, catalogVersion, priceVersion int64) string {
	bp := keyBufs.Get().(*[]byte)
	b := (*bp)[:0]
	b = append(b, "cv="...)
	b = strconv.AppendInt(b, catalogVersion, 10)
	b = append(b, "|pv="...)
	b = strconv.AppendInt(b, priceVersion, 10)
	b = append(b, "|cust="...)
	b = append(b, req.CustomerID...)
	b = append(b, "|ch="...)
	b = append(b, req.Channel...)
	b = append(b, "|cur="...)
	b = append(b, req.Currency...)
	if req.CustomerGroup != "" { // only when set, so older keys stay as they were
		b = append(b, "|grp="...)
		b = append(b, req.CustomerGroup...)
	}
	if !req.PriceTime.IsZero() {
		b = append(b, "|t="...)
		b = req.PriceTime.UTC().AppendFormat(b, time.RFC3339Nano)
	}
	b = append(b, "|codes="...)
	switch len(req.PromotionCodes) {
	case 0:
	case 1:
		b = append(b, strings.ToUpper(req.PromotionCodes[0])...)
	default:
		codes := make([]string, len(req.PromotionCodes))
		for i, c := range req.PromotionCodes {
			codes[i] = strings.ToUpper(c)
		}
		sort.Strings(codes)
		for i, c := range codes {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, c...)
		}
	}
	b = append(b, "|partial="...)
	b = strconv.AppendBool(b, req.AllowPartial)
	for _, l := range req.Lines {
		b = append(b, '|')
		b = append(b, l.SKU...)
		b = append(b, '*')
		b = strconv.AppendInt(b, l.Quantity, 10)
	}
	sum := sha256.Sum256(b)
	*bp = b
	keyBufs.Put(bp)
	var k strings.Builder
	k.Grow(2*20 + 3 + 2*sha256.Size)
	k.WriteByte('v')
	var n [20]byte
	k.Write(strconv.AppendInt(n[:0], catalogVersion, 10))
	k.WriteByte('.')
	k.Write(strconv.AppendInt(n[:0], priceVersion, 10))
	k.WriteByte(':')
	var h [2 * sha256.Size]byte
	hex.Encode(h[:], sum[:])
	k.Write(h[:])
	return k.String()
}

// keyBufs are cacheKey's buffers.
var keyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// shortHash is the first 128 bits of the fingerprint of s: the etags and
// request hashes pricing hands out and stores have always been 32 hex
// digits.
func shortHash(s string) string { return fingerprint.Bytes([]byte(s))[:32] }
