package orderevents_test

import (
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"math"
	"testing"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/orderevents"
)

// An OrderConfirmedEvent whose allocations add up to more than a line's
// quantity (here wrapping int64) is dead-lettered at once (a permanent
// error) with nothing created, instead of making a warehouse ship more
// than was ordered.
func TestOverAllocatedOrderIsPermanentAndCreatesNothing(t *testing.T) {
	t.Parallel()
	bound := false
	bind := func(*sql.Tx) fulfillment.Tx { bound = true; return nil }
	h := orderevents.Handler(bind, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, orderevents.NewRoutes(nil))
	order := &orderv1.Order{OrderId: "O-1", Lines: []*orderv1.OrderLine{
		{LineId: "1", Sku: "SKU-1", Quantity: 2, Allocations: []*orderv1.LineAllocation{
			{WarehouseId: "WH-HAM", AllocatedQuantity: 2},
			{WarehouseId: "WH-MUC", AllocatedQuantity: math.MaxInt64},
			{WarehouseId: "WH-BER", AllocatedQuantity: math.MaxInt64},
		}},
	}}
	err := h(t.Context(), nil, events.Event{ID: "ev-1", Payload: &orderv1.OrderConfirmedEvent{Order: order}})
	if !events.IsPermanent(err) || !errors.Is(err, fulfillment.ErrInvalidArgument) {
		t.Fatalf("err = %v, want a permanent invalid-argument error", err)
	}
	if bound {
		t.Errorf("the handler used the transaction for an order it refused")
	}
}
