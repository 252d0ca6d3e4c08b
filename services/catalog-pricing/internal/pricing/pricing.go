// Package pricing is the pricing domain of the catalog-pricing service:
// price lists and their entries (list prices with quantity breaks), the
// global price version, customer contracts, channel rules and promotions,
// and the quote engine that prices lines through one deterministic pipeline
// (base → contract → channel rule → promotion → rounding → floor, see
// engine.go and the service README) and explains which rule won and why
// every other one lost.
package pricing

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
)

// Sentinel errors of the pricing domain; grpcapi/errors.go maps them.
var (
	// ErrPriceListNotFound: the price list does not exist.
	ErrPriceListNotFound = errors.New("price list not found")
	// ErrPriceNotFound: the SKU has no entry in the price list.
	ErrPriceNotFound = errors.New("price not found")
	// ErrCatalogNotPublished: no catalog version exists yet, so nothing can
	// be quoted.
	ErrCatalogNotPublished = errors.New("no published catalog version")
	// ErrIdempotencyKeyReused: a request id was reused with another
	// payload. It is catalog.ErrIdempotencyKeyReused: both domains keep
	// their idempotency records alike (catalog.Replay).
	ErrIdempotencyKeyReused = catalog.ErrIdempotencyKeyReused
	// ErrInvalidEffectiveWindow: end_time is not after start_time.
	ErrInvalidEffectiveWindow = errors.New("invalid effective window")
)

// PriceList is a set of list prices in one currency, optionally for one
// channel, effective in [StartTime, EndTime) (zero times are unbounded).
type PriceList struct {
	ID          string
	DisplayName string
	Currency    string
	Channel     string
	Priority    int32
	StartTime   time.Time
	EndTime     time.Time
	PriceCount  int64
	Etag        string
	CreateTime  time.Time
	UpdateTime  time.Time
}

// Name returns the resource name "priceLists/{id}".
func (l PriceList) Name() string { return "priceLists/" + l.ID }

// EffectiveAt reports whether t is inside the list's window.
func (l PriceList) EffectiveAt(t time.Time) bool {
	return (l.StartTime.IsZero() || !t.Before(l.StartTime)) && (l.EndTime.IsZero() || t.Before(l.EndTime))
}

// AppliesTo reports whether the list may price quotes in currency and
// channel (ignoring its window).
func (l PriceList) AppliesTo(currency, channel string) bool {
	return l.Currency == currency && (l.Channel == "" || l.Channel == channel)
}

// ComputeEtag is the checksum of the list's updatable fields.
func (l PriceList) ComputeEtag() string {
	return shortHash(fmt.Sprintf("%s|%s|%s|%d|%s|%s", l.DisplayName, l.Currency, l.Channel, l.Priority,
		fmtTime(l.StartTime), fmtTime(l.EndTime)))
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Break is a quantity break: from MinQuantity units on, UnitMinor applies.
type Break struct {
	MinQuantity int64 `json:"q"`
	UnitMinor   int64 `json:"p"`
}

// Price is the entry of one SKU in a price list; amounts are in the list's
// currency.
type Price struct {
	PriceList string
	SKU       string
	UnitMinor int64
	Currency  string
	Breaks    []Break
	// CostMinor is the cost price of one unit when HasCost; channel rules
	// with a margin floor keep prices above it.
	CostMinor  int64
	HasCost    bool
	Etag       string
	UpdateTime time.Time
}

// Name returns "priceLists/{list}/prices/{sku}".
func (p Price) Name() string { return "priceLists/" + p.PriceList + "/prices/" + p.SKU }

// ComputeEtag is the checksum of the entry's content.
func (p Price) ComputeEtag() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d|%s", p.UnitMinor, p.Currency)
	for _, br := range p.Breaks {
		fmt.Fprintf(&b, "|%d:%d", br.MinQuantity, br.UnitMinor)
	}
	if p.HasCost {
		fmt.Fprintf(&b, "|cost=%d", p.CostMinor)
	}
	return shortHash(b.String())
}

// BreakFor returns the break with the largest MinQuantity not above qty.
func (p Price) BreakFor(qty int64) (Break, bool) {
	var best Break
	found := false
	for _, br := range p.Breaks {
		if br.MinQuantity <= qty && (!found || br.MinQuantity > best.MinQuantity) {
			best, found = br, true
		}
	}
	return best, found
}

// ValidateBreaks checks that breaks are strictly increasing from 2 on with
// non-increasing prices not above the unit price; it returns the offending
// index or -1.
func ValidateBreaks(unit int64, bs []Break) int {
	prevQty, prevPrice := int64(1), unit
	for i, b := range bs {
		if b.MinQuantity <= prevQty || b.UnitMinor < 0 || b.UnitMinor > prevPrice {
			return i
		}
		prevQty, prevPrice = b.MinQuantity, b.UnitMinor
	}
	return -1
}

// minorExponent is the number of decimals of a currency's minor unit.
func minorExponent(currency string) int {
	switch currency {
	case "JPY", "KRW", "CLP", "ISK", "VND", "HUF":
		return 0
	case "BHD", "KWD", "OMR", "JOD", "TND":
		return 3
	}
	return 2
}

// FormatMoney renders minor units for people, e.g. 1299 EUR → "12.99 EUR".
func FormatMoney(minor int64, currency string) string {
	// strconv instead of fmt: every explanation of every quote line formats
	// money, and fmt.Sprintf was a tenth of a computed quote's CPU.
	exp := minorExponent(currency)
	b := make([]byte, 0, 24+len(currency))
	if minor < 0 {
		b, minor = append(b, '-'), -minor
	}
	if exp == 0 {
		b = strconv.AppendInt(b, minor, 10)
	} else {
		div := int64(1)
		for range exp {
			div *= 10
		}
		b = append(strconv.AppendInt(b, minor/div, 10), '.')
		var frac [24]byte
		f := strconv.AppendInt(frac[:0], minor%div, 10)
		for range exp - len(f) {
			b = append(b, '0')
		}
		b = append(b, f...)
	}
	return string(append(append(b, ' '), currency...))
}
