package order

import (
	"encoding/binary"
	"math/big"
	"testing"
)

// int64s decodes b as big-endian int64s (a trailing partial word dropped).
func int64s(b []byte) []int64 {
	var out []int64
	for len(b) >= 8 {
		out = append(out, int64(binary.BigEndian.Uint64(b)))
		b = b[8:]
	}
	return out
}

// FuzzAllocate feeds allocate hostile but well-typed reservations: any
// amounts (negative, huge, many that wrap around), duplicate lines of the
// SKU, an unknown SKU. Whatever it accepts must be what an order may store:
// positive allocations adding up exactly to the line's quantity.
func FuzzAllocate(f *testing.F) {
	f.Add(int64(5), []byte{0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 2}, false, false)
	f.Add(int64(1), []byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0, 0, 0, 0, 0, 0, 0, 3}, false, false)
	f.Add(int64(4), []byte{0, 0, 0, 0, 0, 0, 0, 2}, true, false)
	f.Add(int64(2), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 0, 0, 0, 0, 4}, false, true)
	f.Fuzz(func(t *testing.T, quantity int64, amounts []byte, duplicate, foreign bool) {
		if quantity <= 0 {
			return // the contract's quantities are positive
		}
		rl := ReservedLine{SKU: "A"}
		for i, a := range int64s(amounts) {
			rl.Allocations = append(rl.Allocations, Allocation{WarehouseID: "WH-" + string(rune('A'+i%26)), Allocated: a})
		}
		res := Reservation{ID: "r", Lines: []ReservedLine{rl}}
		if duplicate {
			res.Lines = append(res.Lines, rl)
		}
		if foreign {
			res.Lines = append(res.Lines, ReservedLine{SKU: "B", Allocations: []Allocation{{WarehouseID: "WH-X", Allocated: quantity}}})
		}
		lines := []Line{{SKU: "A", Quantity: quantity}}
		if err := allocate(lines, res); err != nil {
			return
		}
		sum := new(big.Int)
		for _, a := range lines[0].Allocations {
			if a.Allocated <= 0 || a.Allocated > quantity {
				t.Fatalf("accepted allocation %d for a quantity of %d", a.Allocated, quantity)
			}
			sum.Add(sum, big.NewInt(a.Allocated))
		}
		if sum.Cmp(big.NewInt(quantity)) != 0 {
			t.Fatalf("accepted allocations adding up to %s for a quantity of %d", sum, quantity)
		}
	})
}

// FuzzPricedLines feeds pricedLines hostile quotes (any amounts, negative
// or huge). Whatever it accepts has non-negative amounts and the exact sum
// as its subtotal; it never panics.
func FuzzPricedLines(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 1, 0})
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 0, 0, 0, 0, 2})
	f.Add([]byte{0x80, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, amounts []byte) {
		var p CreateParams
		var q Quote
		for i, a := range int64s(amounts) {
			p.Lines = append(p.Lines, QuoteLine{SKU: string(rune('A' + i%26)), Quantity: 1})
			q.Lines = append(q.Lines, PricedLine{UnitPriceMinor: a, ExtendedMinor: a})
		}
		lines, subtotal, err := pricedLines(p, q)
		if err != nil {
			return
		}
		sum := new(big.Int)
		for _, l := range lines {
			if l.ExtendedMinor < 0 || l.UnitPriceMinor < 0 {
				t.Fatalf("accepted a negative amount: %+v", l)
			}
			sum.Add(sum, big.NewInt(l.ExtendedMinor))
		}
		if !sum.IsInt64() || sum.Int64() != subtotal {
			t.Fatalf("subtotal %d, exact sum %s", subtotal, sum)
		}
	})
}
