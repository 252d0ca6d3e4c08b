package grpcapi

import (
	"math"
	"testing"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
)

func TestAddMinor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b, want int64
		ok         bool
	}{
		{2000, 380, 2380, true},
		{2000, 0, 2000, true},
		{2000, -380, 1620, true},
		{math.MaxInt64 - 1, 1, math.MaxInt64, true},
		{math.MaxInt64, 1, 0, false},
		{1, math.MaxInt64, 0, false},
		{math.MaxInt64, math.MaxInt64, 0, false},
		{math.MinInt64 + 1, -1, math.MinInt64, true},
		{math.MinInt64, -1, 0, false},
		{-2, math.MinInt64, 0, false},
	} {
		got, ok := addMinor(tc.a, tc.b)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("addMinor(%d, %d) = %d, %v; want %d, %v", tc.a, tc.b, got, ok, tc.want, tc.ok)
		}
	}
}

// An ERP tax that would overflow the total when added to the subtotal is
// bad upstream data: the storefront shows the order without the tax and
// with the subtotal as its total, never a wrapped (negative) total.
func TestOrderToProtoRefusesAWrappedTotal(t *testing.T) {
	t.Parallel()
	eur := func(n int64) *commonv1.Money { return &commonv1.Money{AmountMinor: n, CurrencyCode: "EUR"} }
	for _, tc := range []struct {
		name          string
		subtotal, tax int64
	}{
		{"tax overflows", math.MaxInt64 - 10, 11},
		{"max tax", 2000, math.MaxInt64},
		{"both max", math.MaxInt64, math.MaxInt64},
		{"negative tax underflows", math.MinInt64 + 5, -6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := &orderv1.Order{
				Name: "orders/O-1", OrderId: "O-1", CurrencyCode: "EUR", State: orderv1.Order_STATE_CONFIRMED,
				ErpOrderReference: "SO-9",
				Totals:            &orderv1.OrderTotals{Subtotal: eur(tc.subtotal), Tax: eur(tc.tax)},
			}
			got := orderToProto(o, nil)
			if got.GetTax() != nil {
				t.Errorf("tax %v shown although subtotal + tax overflows", got.GetTax())
			}
			if got.GetTotal().GetAmountMinor() != tc.subtotal || got.GetTotal().GetCurrencyCode() != "EUR" {
				t.Errorf("total %v, want the subtotal %d", got.GetTotal(), tc.subtotal)
			}
		})
	}
}
