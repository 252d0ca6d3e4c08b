package order_test

import (
	"math"
	"testing"

	"pgregory.net/rapid"

	"github.com/transload/transload/services/order/internal/order"
)

// TestRefundProperties: for any line (paid amount, quantity) and any split
// of a returned quantity into partial returns, each partial refund is never
// negative, never above what was paid for the line, and the partial refunds
// sum to the refund of the whole quantity at once; all units of the line
// refund exactly what was paid.
func TestRefundProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		lineQty := rapid.Int64Range(1, 1_000_000).Draw(t, "lineQty")
		paid := rapid.OneOf(
			rapid.Int64Range(0, 10_000_000),
			rapid.Int64Range(math.MaxInt64/4, math.MaxInt64),
		).Draw(t, "paid")
		total := rapid.Int64Range(0, lineQty).Draw(t, "total")
		parts := rapid.SliceOfN(rapid.Int64Range(0, 1<<20), 1, 8).Draw(t, "parts")

		whole, err := order.Refund(paid, lineQty, 0, total)
		if err != nil {
			t.Fatal(err)
		}
		var refunded, sum int64
		for i, p := range parts {
			q := min(p, total-refunded)
			if i == len(parts)-1 {
				q = total - refunded
			}
			got, err := order.Refund(paid, lineQty, refunded, q)
			if err != nil {
				t.Fatal(err)
			}
			if got < 0 {
				t.Fatalf("refund of %d after %d is negative: %d", q, refunded, got)
			}
			if got > paid {
				t.Fatalf("refund of %d after %d is %d, above the paid %d", q, refunded, got, paid)
			}
			refunded += q
			sum += got
		}
		if sum != whole {
			t.Fatalf("partial refunds sum to %d, the whole refund is %d", sum, whole)
		}
		if whole > paid {
			t.Fatalf("whole refund %d above paid %d", whole, paid)
		}
		all, err := order.Refund(paid, lineQty, 0, lineQty)
		if err != nil || all != paid {
			t.Fatalf("all %d units refund %d (%v), want the paid %d", lineQty, all, err, paid)
		}
	})
}

func TestRefundExamplesAndErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		paid, lineQty, refunded, qty, want int64
	}{
		{paid: 3000, lineQty: 3, refunded: 0, qty: 1, want: 1000}, // unit price × quantity
		{paid: 1000, lineQty: 3, refunded: 0, qty: 1, want: 333},  // discounted line: pro-rata, floor
		{paid: 1000, lineQty: 3, refunded: 1, qty: 1, want: 333},
		{paid: 1000, lineQty: 3, refunded: 2, qty: 1, want: 334}, // the last unit takes the remainder
	} {
		got, err := order.Refund(tc.paid, tc.lineQty, tc.refunded, tc.qty)
		if err != nil || got != tc.want {
			t.Errorf("Refund(%d, %d, %d, %d) = %d, %v; want %d", tc.paid, tc.lineQty, tc.refunded, tc.qty, got, err, tc.want)
		}
	}
	for _, bad := range [][4]int64{{100, 0, 0, 0}, {-1, 1, 0, 1}, {100, 2, 0, 3}, {100, 2, 2, 1}, {100, 2, -1, 1}} {
		if _, err := order.Refund(bad[0], bad[1], bad[2], bad[3]); err == nil {
			t.Errorf("Refund%v: no error", bad)
		}
	}
}
