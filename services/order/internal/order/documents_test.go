package order

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestMoneyArithmetic(t *testing.T) {
	if v, err := MulMinor(3, 1999); err != nil || v != 5997 {
		t.Errorf("MulMinor(3, 1999) = %d, %v", v, err)
	}
	if _, err := MulMinor(math.MaxInt64/2+1, 2); !errors.Is(err, ErrAmountOverflow) {
		t.Errorf("MulMinor overflow: err = %v", err)
	}
	if _, err := MulMinor(-1, 2); err == nil {
		t.Error("MulMinor accepted a negative quantity")
	}
	if _, err := AddMinor(math.MaxInt64, 1); !errors.Is(err, ErrAmountOverflow) {
		t.Errorf("AddMinor overflow: err = %v", err)
	}
	if v, err := AddMinor(-5, 3); err != nil || v != -2 {
		t.Errorf("AddMinor(-5, 3) = %d, %v", v, err)
	}
	for _, tc := range []struct{ total, part, whole, want int64 }{
		{1000, 1, 3, 333},
		{1000, 3, 3, 1000},
		{0, 1, 2, 0},
		{math.MaxInt64, math.MaxInt64 - 1, math.MaxInt64, math.MaxInt64 - 1}, // no intermediate overflow
	} {
		if got, err := ProRataMinor(tc.total, tc.part, tc.whole); err != nil || got != tc.want {
			t.Errorf("ProRataMinor(%d, %d, %d) = %d, %v, want %d", tc.total, tc.part, tc.whole, got, err, tc.want)
		}
	}
	if _, err := ProRataMinor(10, 3, 2); err == nil {
		t.Error("ProRataMinor accepted part > whole")
	}
}

func TestInvoiceLineAndValidate(t *testing.T) {
	o := &Order{ID: "O1", CustomerID: "C1", Currency: "EUR", SubtotalMinor: 5000, TaxMinor: 950,
		Lines: []Line{{ID: "1", SKU: "A", Quantity: 5, UnitPriceMinor: 1000, ExtendedMinor: 5000}}}
	l, err := NewInvoiceLine(o, o.Lines[0], 2)
	if err != nil {
		t.Fatal(err)
	}
	if l.AmountMinor != 2000 || l.TaxMinor != 380 || l.SourceLineID != "1" || l.Quantity != 2 {
		t.Errorf("invoice line = %+v, want amount 2000 tax 380", l)
	}
	d := Document{ID: InvoiceID("O1", "S1"), Kind: DocumentInvoice, OrderID: "O1", CustomerID: "C1", SourceID: "S1", Currency: "EUR", Lines: []DocumentLine{l}}
	if d.ID != "O1:S1" {
		t.Errorf("InvoiceID = %q", d.ID)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if net, tax, err := d.TotalMinor(); err != nil || net != 2000 || tax != 380 {
		t.Errorf("TotalMinor = %d %d %v", net, tax, err)
	}
	long := InvoiceID(strings.Repeat("o", 40), strings.Repeat("s", 40))
	if len(long) > 64 || long != InvoiceID(strings.Repeat("o", 40), strings.Repeat("s", 40)) {
		t.Errorf("long InvoiceID %q: not a stable id within 64 characters", long)
	}
	for name, mut := range map[string]func(*Document){
		"no id":          func(d *Document) { d.ID = "" },
		"kind":           func(d *Document) { d.Kind = "receipt" },
		"currency":       func(d *Document) { d.Currency = "EURO" },
		"no lines":       func(d *Document) { d.Lines = nil },
		"zero quantity":  func(d *Document) { d.Lines[0].Quantity = 0 },
		"negative":       func(d *Document) { d.Lines[0].AmountMinor = -1 },
		"duplicate line": func(d *Document) { d.Lines = append(d.Lines, d.Lines[0]) },
		"overflow": func(d *Document) {
			d.Lines = append(d.Lines, DocumentLine{SourceLineID: "2", Quantity: 1, AmountMinor: math.MaxInt64})
		},
	} {
		c := d
		c.Lines = append([]DocumentLine(nil), d.Lines...)
		mut(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
	}
}
