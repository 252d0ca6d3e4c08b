package orderevents_test

import (
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"testing"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/orderevents"
)

func TestRoutesServeTheListedWarehousesOrAll(t *testing.T) {
	t.Parallel()
	listed := orderevents.NewRoutes([]string{"WH-HAM", "WH-MUC"})
	for _, tc := range []struct {
		routes    orderevents.Routes
		warehouse string
		want      bool
	}{
		{listed, "WH-HAM", true},
		{listed, "WH-MUC", true},
		{listed, "WH-NEW", false},
		{orderevents.NewRoutes(nil), "WH-NEW", true},
		{orderevents.Routes{}, "anything", true},
	} {
		if got := tc.routes.Serves(tc.warehouse); got != tc.want {
			t.Errorf("Serves(%q) = %v, want %v", tc.warehouse, got, tc.want)
		}
	}
}

// An order allocated to a warehouse without a WMS route is dead-lettered
// at once (a permanent error) and nothing is created, not even for the
// warehouses that are routed.
func TestUnroutedWarehouseIsPermanentAndCreatesNothing(t *testing.T) {
	t.Parallel()
	bound := false
	bind := func(*sql.Tx) fulfillment.Tx { bound = true; return nil }
	h := orderevents.Handler(bind, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil,
		orderevents.NewRoutes([]string{"WH-HAM"}))
	order := &orderv1.Order{OrderId: "O-1", Lines: []*orderv1.OrderLine{
		{LineId: "1", Sku: "SKU-1", Quantity: 1, Allocations: []*orderv1.LineAllocation{{WarehouseId: "WH-HAM", AllocatedQuantity: 1}}},
		{LineId: "2", Sku: "SKU-2", Quantity: 2, Allocations: []*orderv1.LineAllocation{{WarehouseId: "WH-NEW", AllocatedQuantity: 2}}},
	}}
	err := h(t.Context(), nil, events.Event{ID: "ev-1", Payload: &orderv1.OrderConfirmedEvent{Order: order}})
	if !events.IsPermanent(err) || !errors.Is(err, fulfillment.ErrInvalidArgument) {
		t.Fatalf("err = %v, want a permanent invalid-argument error", err)
	}
	if bound {
		t.Errorf("the handler used the transaction for an order it refused")
	}
}
