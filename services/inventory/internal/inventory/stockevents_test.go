package inventory

import (
	"math"
	"strings"
	"testing"
)

// TestValidateStockEventBoundsTheQuantity: a quantity beyond
// ±MaxStockQuantity is refused for every kind (a hostile or corrupt feed
// cannot make on-hand wrap), the bound itself is accepted.
func TestValidateStockEventBoundsTheQuantity(t *testing.T) {
	t.Parallel()
	for _, e := range []StockEvent{
		{Kind: KindReceipt, Quantity: MaxStockQuantity + 1},
		{Kind: KindReceipt, Quantity: math.MaxInt64},
		{Kind: KindTransferIn, Quantity: 1 << 62},
		{Kind: KindShipment, Quantity: MaxStockQuantity + 1},
		{Kind: KindAdjustment, Quantity: math.MinInt64},
		{Kind: KindAdjustment, Quantity: -MaxStockQuantity - 1},
		{Kind: KindSetOnHand, Quantity: math.MaxInt64},
	} {
		if msg := ValidateStockEvent(e); !strings.Contains(msg, "beyond") {
			t.Errorf("kind %d quantity %d: %q, want refused as beyond the bound", e.Kind, e.Quantity, msg)
		}
	}
	for _, e := range []StockEvent{
		{Kind: KindReceipt, Quantity: MaxStockQuantity},
		{Kind: KindAdjustment, Quantity: -MaxStockQuantity},
		{Kind: KindSetOnHand, Quantity: MaxStockQuantity},
	} {
		if msg := ValidateStockEvent(e); msg != "" {
			t.Errorf("kind %d quantity %d refused: %s", e.Kind, e.Quantity, msg)
		}
	}
}

// TestImpliedOnHandDoesNotWrap: with a validated quantity, on-hand plus a
// receipt never wraps negative (it saturates), and a decrement from any
// non-negative on-hand is exact.
func TestImpliedOnHandDoesNotWrap(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		e      StockEvent
		onHand int64
		want   int64
	}{
		{StockEvent{Kind: KindReceipt, Quantity: MaxStockQuantity}, math.MaxInt64 - 1, math.MaxInt64},
		{StockEvent{Kind: KindAdjustment, Quantity: MaxStockQuantity}, math.MaxInt64 - MaxStockQuantity, math.MaxInt64},
		{StockEvent{Kind: KindReturnRestock, Quantity: 5}, 10, 15},
		{StockEvent{Kind: KindShipment, Quantity: MaxStockQuantity}, 0, -MaxStockQuantity},
		{StockEvent{Kind: KindAdjustment, Quantity: -MaxStockQuantity}, 3, 3 - MaxStockQuantity},
		{StockEvent{Kind: KindTransferOut, Quantity: 4}, math.MaxInt64, math.MaxInt64 - 4},
	} {
		if got := ImpliedOnHand(tc.e, tc.onHand); got != tc.want {
			t.Errorf("ImpliedOnHand(kind %d, %d, on-hand %d) = %d, want %d", tc.e.Kind, tc.e.Quantity, tc.onHand, got, tc.want)
		}
	}
}
