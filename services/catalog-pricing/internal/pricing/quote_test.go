package pricing

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func input(lists []PriceList, prices []Price, products ...catalog.Product) quoteInput {
	in := quoteInput{catalogVersion: 3, priceVersion: 7, products: map[string]catalog.Product{},
		lists: lists, prices: map[string][]Price{}, listByID: map[string]PriceList{}}
	for _, l := range lists {
		in.listByID[l.ID] = l
	}
	for _, p := range prices {
		in.prices[p.SKU] = append(in.prices[p.SKU], p)
	}
	for _, p := range products {
		in.products[p.SKU] = p
	}
	return in
}

func prod(sku string) catalog.Product {
	return catalog.Product{SKU: sku, Title: sku, BaseUnit: "EA", PackSize: 1, Status: catalog.StatusActive, Channels: []string{"web", "b2b"}}
}

func price(list, sku string, unit int64, breaks ...Break) Price {
	return Price{PriceList: list, SKU: sku, UnitMinor: unit, Currency: "EUR", Breaks: breaks}
}

func req(channel string, lines ...QuoteRequestLine) QuoteRequest {
	return QuoteRequest{Channel: channel, Currency: "EUR", Lines: lines}
}

func TestWinningPriceList(t *testing.T) {
	cases := []struct {
		name    string
		lists   []PriceList
		channel string
		want    string
	}{
		{"lower priority wins", []PriceList{{ID: "A", Priority: 5}, {ID: "B", Priority: 1}}, "web", "B"},
		{"tie: channel-specific wins", []PriceList{{ID: "A"}, {ID: "Z", Channel: "b2b"}}, "b2b", "Z"},
		{"tie: lower name wins", []PriceList{{ID: "B"}, {ID: "A"}}, "web", "A"},
		{"priority beats channel", []PriceList{{ID: "A", Priority: 0}, {ID: "Z", Channel: "b2b", Priority: 1}}, "b2b", "A"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var prices []Price
			for i := range c.lists {
				c.lists[i].Currency = "EUR"
				prices = append(prices, price(c.lists[i].ID, "S", int64(100+i)))
			}
			q, err := compute(req(c.channel, QuoteRequestLine{SKU: "S", Quantity: 1}), input(c.lists, prices, prod("S")), t0, t0, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			l := q.Lines[0]
			if l.Winning.Name != "priceLists/"+c.want+"/prices/S" || l.Candidates[0].Outcome != OutcomeWon {
				t.Fatalf("winner = %+v", l.Winning)
			}
			for _, cand := range l.Candidates[1:] {
				if cand.Outcome != OutcomeBeaten || !cand.HasPrice {
					t.Errorf("loser candidate = %+v", cand)
				}
			}
		})
	}
}

func TestQuantityBreaks(t *testing.T) {
	lists := []PriceList{{ID: "PL", Currency: "EUR", DisplayName: "Standard"}}
	prices := []Price{price("PL", "S", 1000, Break{MinQuantity: 10, UnitMinor: 900}, Break{MinQuantity: 20, UnitMinor: 800})}
	for _, c := range []struct {
		qty      int64
		unit     int64
		kind     RuleKind
		nCandids int
	}{{9, 1000, RuleListPrice, 1}, {10, 900, RuleQuantityBreak, 2}, {25, 800, RuleQuantityBreak, 2}} {
		q, err := compute(req("web", QuoteRequestLine{SKU: "S", Quantity: c.qty}), input(lists, prices, prod("S")), t0, t0, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		l := q.Lines[0]
		if l.UnitMinor != c.unit || l.Extended != c.unit*c.qty || l.ListMinor != 1000 || l.Winning.Kind != c.kind ||
			len(l.Candidates) != c.nCandids || q.ListTotal != 1000*c.qty || q.Total != c.unit*c.qty {
			t.Errorf("qty %d: line %+v, totals %d/%d", c.qty, l, q.Total, q.ListTotal)
		}
		if c.kind == RuleQuantityBreak && (l.Candidates[0].Outcome != OutcomeApplied || l.Candidates[1].Outcome != OutcomeWon) {
			t.Errorf("qty %d: candidates %+v; want list APPLIED then break WON", c.qty, l.Candidates)
		}
	}
}

func TestEffectiveWindowsAndExpiry(t *testing.T) {
	lists := []PriceList{
		{ID: "OLD", Currency: "EUR", EndTime: t0.Add(10 * time.Minute)},
		{ID: "NEW", Currency: "EUR", StartTime: t0.Add(10 * time.Minute), Priority: 0},
	}
	prices := []Price{price("OLD", "S", 1000), price("NEW", "S", 1100)}
	q, err := compute(req("web", QuoteRequestLine{SKU: "S", Quantity: 1}), input(lists, prices, prod("S")), t0, t0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	l := q.Lines[0]
	if l.UnitMinor != 1000 || l.Candidates[1].Outcome != OutcomeNotApplicable || l.Candidates[1].HasPrice {
		t.Fatalf("line = %+v", l)
	}
	if !q.ExpireTime.Equal(t0.Add(10 * time.Minute)) {
		t.Fatalf("expire_time = %v, want the window change at +10m", q.ExpireTime)
	}
	// At +10m the new list applies; nothing changes later, so the TTL caps.
	later := t0.Add(10 * time.Minute)
	q, err = compute(req("web", QuoteRequestLine{SKU: "S", Quantity: 1}), input(lists, prices, prod("S")), later, later, time.Hour)
	if err != nil || q.Lines[0].UnitMinor != 1100 || !q.ExpireTime.Equal(later.Add(time.Hour)) {
		t.Fatalf("quote at +10m = %+v, %v", q, err)
	}
	// Only an expired list: no price.
	_, err = compute(req("web", QuoteRequestLine{SKU: "S", Quantity: 1}), input(lists[:1], prices[:1], prod("S")), later, later, time.Hour)
	var le *LineError
	if !errors.As(err, &le) || le.Reason != LinePriceNotFound || le.Index != 0 {
		t.Fatalf("expired list: %v", err)
	}
}

func TestLineFailures(t *testing.T) {
	lists := []PriceList{{ID: "PL", Currency: "EUR"}}
	prices := []Price{price("PL", "S", 100), price("PL", "PACK", 100), price("PL", "HOLD", 100)}
	pack := prod("PACK")
	pack.PackSize = 6
	hold := prod("HOLD")
	hold.Status = catalog.StatusOnHold
	in := input(lists, prices, prod("S"), pack, hold, prod("NOPRICE"))
	cases := []struct {
		line   QuoteRequestLine
		reason LineReason
	}{
		{QuoteRequestLine{SKU: "MISSING", Quantity: 1}, LineProductNotFound},
		{QuoteRequestLine{SKU: "HOLD", Quantity: 1}, LineNotSellable},
		{QuoteRequestLine{SKU: "PACK", Quantity: 10}, LineNotPackMultiple},
		{QuoteRequestLine{SKU: "NOPRICE", Quantity: 1}, LinePriceNotFound},
	}
	for _, c := range cases {
		_, err := compute(req("web", QuoteRequestLine{SKU: "S", Quantity: 1}, c.line), in, t0, t0, time.Minute)
		var le *LineError
		if !errors.As(err, &le) || le.Reason != c.reason || le.Index != 1 || le.SKU != c.line.SKU {
			t.Errorf("%s: %v, want %s on line 1", c.line.SKU, err, c.reason)
		}
	}
	if q, err := compute(req("web", QuoteRequestLine{SKU: "PACK", Quantity: 12}), in, t0, t0, time.Minute); err != nil || q.Total != 1200 {
		t.Errorf("pack multiple: %+v, %v", q, err)
	}
	if _, err := compute(req("sales-app", QuoteRequestLine{SKU: "S", Quantity: 1}), in, t0, t0, time.Minute); !errors.As(err, new(*LineError)) {
		t.Errorf("channel outside the assortment: %v", err)
	}
	r := req("web", QuoteRequestLine{SKU: "MISSING", Quantity: 1}, QuoteRequestLine{SKU: "S", Quantity: 2})
	r.AllowPartial = true
	q, err := compute(r, in, t0, t0, time.Minute)
	if err != nil || q.Lines[0].Reason != LineProductNotFound || q.Lines[1].Extended != 200 || q.Total != 200 {
		t.Errorf("partial = %+v, %v", q, err)
	}
}

func TestOverflow(t *testing.T) {
	lists := []PriceList{{ID: "PL", Currency: "EUR"}}
	in := input(lists, []Price{price("PL", "S", math.MaxInt64/2)}, prod("S"))
	_, err := compute(req("web", QuoteRequestLine{SKU: "S", Quantity: 3}), in, t0, t0, time.Minute)
	var oe *OverflowError
	if !errors.As(err, &oe) || oe.Index != 0 {
		t.Fatalf("line overflow: %v", err)
	}
	_, err = compute(req("web", QuoteRequestLine{SKU: "S", Quantity: 1}, QuoteRequestLine{SKU: "S", Quantity: 2}), in, t0, t0, time.Minute)
	if !errors.As(err, &oe) || oe.Index != 1 {
		t.Fatalf("total overflow: %v", err)
	}
}

func TestCacheKey(t *testing.T) {
	base := QuoteRequest{CustomerID: "C1", Channel: "web", Currency: "EUR", Lines: []QuoteRequestLine{{SKU: "A", Quantity: 1}, {SKU: "B", Quantity: 2}},
		PromotionCodes: []string{"spring", "XMAS"}}
	k := cacheKey(base, 1, 1)
	same := base
	same.PromotionCodes = []string{"xmas", "SPRING"}
	if cacheKey(same, 1, 1) != k {
		t.Error("promotion codes are case-insensitive and unordered")
	}
	variants := map[string]func(*QuoteRequest){
		"customer": func(r *QuoteRequest) { r.CustomerID = "C2" },
		"channel":  func(r *QuoteRequest) { r.Channel = "b2b" },
		"currency": func(r *QuoteRequest) { r.Currency = "USD" },
		"quantity": func(r *QuoteRequest) { r.Lines = []QuoteRequestLine{{SKU: "A", Quantity: 1}, {SKU: "B", Quantity: 3}} },
		"order":    func(r *QuoteRequest) { r.Lines = []QuoteRequestLine{{SKU: "B", Quantity: 2}, {SKU: "A", Quantity: 1}} },
		"partial":  func(r *QuoteRequest) { r.AllowPartial = true },
		"time":     func(r *QuoteRequest) { r.PriceTime = t0 },
	}
	for name, mutate := range variants {
		r := base
		mutate(&r)
		if cacheKey(r, 1, 1) == k {
			t.Errorf("%s does not change the key", name)
		}
	}
	if cacheKey(base, 2, 1) == k || cacheKey(base, 1, 2) == k {
		t.Error("versions must change the key")
	}
}

func TestFormatMoney(t *testing.T) {
	for _, c := range []struct {
		minor int64
		cur   string
		want  string
	}{{1299, "EUR", "12.99 EUR"}, {5, "EUR", "0.05 EUR"}, {-250, "USD", "-2.50 USD"}, {1500, "JPY", "1500 JPY"}, {1234, "KWD", "1.234 KWD"}} {
		if got := FormatMoney(c.minor, c.cur); got != c.want {
			t.Errorf("FormatMoney(%d, %s) = %q, want %q", c.minor, c.cur, got, c.want)
		}
	}
	// The strconv version says exactly what the fmt one said.
	ref := func(minor int64, currency string) string {
		exp, sign := minorExponent(currency), ""
		if minor < 0 {
			sign, minor = "-", -minor
		}
		if exp == 0 {
			return fmt.Sprintf("%s%d %s", sign, minor, currency)
		}
		div := int64(1)
		for range exp {
			div *= 10
		}
		return fmt.Sprintf("%s%d.%0*d %s", sign, minor/div, exp, minor%div, currency)
	}
	for _, cur := range []string{"EUR", "JPY", "KWD"} {
		for _, m := range []int64{0, 1, 9, 10, 99, 100, 101, 999, 1000, 1001, 123456789, -1, -10, -1001, math.MaxInt64, math.MinInt64, math.MinInt64 + 1} {
			if got, want := FormatMoney(m, cur), ref(m, cur); got != want {
				t.Errorf("FormatMoney(%d, %s) = %q; the fmt version said %q", m, cur, got, want)
			}
		}
	}
}

func TestValidateBreaks(t *testing.T) {
	for _, c := range []struct {
		bs   []Break
		want int
	}{
		{nil, -1},
		{[]Break{{2, 90}, {5, 80}}, -1},
		{[]Break{{1, 90}}, 0},
		{[]Break{{5, 90}, {5, 80}}, 1},
		{[]Break{{5, 90}, {10, 95}}, 1},
		{[]Break{{5, 101}}, 0},
	} {
		if got := ValidateBreaks(100, c.bs); got != c.want {
			t.Errorf("ValidateBreaks(%v) = %d, want %d", c.bs, got, c.want)
		}
	}
}

// TestDigestsAreStable pins the etags clients hold (price lists, prices,
// quotes), the request hashes stored in the idempotency table and the
// cache key to the values computed before they moved to
// platform/fingerprint: a change here breaks etag checks and replays
// across a deploy.
func TestDigestsAreStable(t *testing.T) {
	l := PriceList{ID: "PL", DisplayName: "Std", Currency: "EUR", Channel: "web", Priority: 2, StartTime: time.Unix(100, 0)}
	p := Price{UnitMinor: 1299, Currency: "EUR", Breaks: []Break{{MinQuantity: 10, UnitMinor: 1199}}}
	imp := ImportPricesRequest{RequestID: "r", PriceList: "PL", Mode: catalog.ModeUpsert,
		Rows: []PriceRow{{RowNumber: 1, SKU: "A", UnitMinor: 5, Currency: "EUR"}}}
	q := QuoteRequest{Channel: "web", Currency: "EUR", Lines: []QuoteRequestLine{{SKU: "A", Quantity: 2}}}
	for name, c := range map[string]struct{ got, want string }{
		"price list etag": {l.ComputeEtag(), "986ddce67825c14057ee6696b2e4190f"},
		"price etag":      {p.ComputeEtag(), "618e281a472ccd0c83f771d041432532"},
		"import hash":     {hashJSON(imp), "0628b370cdaa0b50c2fcc6cd373597eb"},
		"cache key":       {cacheKey(q, 3, 4), "v3.4:ecc87498f9c759406f5b781c7e1d37fe7946c453fac960127416adcef0a67505"},
		"quote etag":      {shortHash("abc"), "ba7816bf8f01cfea414140de5dae2223"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %s, want %s", name, c.got, c.want)
		}
	}
}
