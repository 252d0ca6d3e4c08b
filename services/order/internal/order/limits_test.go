package order

import (
	"errors"
	"math"
	"testing"
)

// TestPricedLinesRefuseOverflow (issue #14): line amounts whose sum does not
// fit in int64 are refused as AMOUNT_OVERFLOW for the line where the sum
// overflows, before any wrapped total exists; a negative amount from
// pricing is a broken quote; amounts up to the limit are summed exactly.
func TestPricedLinesRefuseOverflow(t *testing.T) {
	t.Parallel()
	p := CreateParams{Lines: []QuoteLine{{SKU: "A", Quantity: 1}, {SKU: "B", Quantity: 2}, {SKU: "C", Quantity: 3}}}
	quote := func(amounts ...int64) Quote {
		q := Quote{QuoteID: "q"}
		for _, a := range amounts {
			q.Lines = append(q.Lines, PricedLine{UnitPriceMinor: a, ExtendedMinor: a})
		}
		return q
	}
	lines, sub, err := pricedLines(p, quote(math.MaxInt64-2, 1, 1))
	if err != nil || sub != math.MaxInt64 || len(lines) != 3 {
		t.Fatalf("sum up to MaxInt64 = %d, %d lines, %v; want exact", sub, len(lines), err)
	}
	_, _, err = pricedLines(p, quote(math.MaxInt64-2, 1, 2))
	var iq *InvalidQuantityError
	if !errors.As(err, &iq) || iq.Reason != ReasonAmountOverflow || iq.LineIndex != 2 || iq.SKU != "C" {
		t.Fatalf("overflowing sum: err = %#v, want AMOUNT_OVERFLOW on line 2 (C)", err)
	}
	f, ok := FailureFromError(err)
	var replayed *InvalidQuantityError
	if !ok || !errors.As(f.Err(), &replayed) || replayed.Reason != ReasonAmountOverflow {
		t.Errorf("the overflow's stored failure does not keep its reason: %+v", f)
	}
	_, _, err = pricedLines(p, quote(1, -5, 1))
	if err == nil || errors.As(err, &iq) {
		t.Errorf("negative amount: err = %v, want an internal error", err)
	}
}
