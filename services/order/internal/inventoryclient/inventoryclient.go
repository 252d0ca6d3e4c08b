// Package inventoryclient is the order service's adapter to inventory
// (inventory.v1 InventoryService): reserve at placement, release on
// rejection, cancellation or abandoned placement.
package inventoryclient

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/order/internal/order"
	"github.com/transload/transload/services/order/internal/orderpb"
)

// Target names inventory in dependency errors.
const Target = "inventory"

// Client implements order.Inventory.
type Client struct {
	c inventoryv1.InventoryServiceClient
}

var _ order.Inventory = (*Client)(nil)

// New returns a client on conn.
func New(conn grpc.ClientConnInterface) *Client {
	return &Client{c: inventoryv1.NewInventoryServiceClient(conn)}
}

func reservationID(name string) string { return strings.TrimPrefix(name, "reservations/") }

func fromProto(r *inventoryv1.Reservation) order.Reservation {
	out := order.Reservation{ID: reservationID(r.GetName())}
	for _, l := range r.GetLines() {
		rl := order.ReservedLine{SKU: l.GetSku()}
		for _, a := range l.GetAllocations() {
			rl.Allocations = append(rl.Allocations, order.Allocation{WarehouseID: a.GetWarehouseCode(), Allocated: a.GetQuantity()})
		}
		out.Lines = append(out.Lines, rl)
	}
	return out
}

// Reserve implements order.Inventory: priority allocation, split across
// warehouses allowed, nothing reserved unless every line is covered.
func (c *Client) Reserve(ctx context.Context, r order.ReserveRequest) (order.Reservation, error) {
	req := &inventoryv1.ReserveStockRequest{
		RequestId: r.RequestID, ReferenceId: r.ReferenceID, Channel: r.Channel,
		AllocationStrategy: inventoryv1.AllocationStrategy_ALLOCATION_STRATEGY_PRIORITY,
		AllowSplit:         true,
		BackorderPolicy:    inventoryv1.BackorderPolicy_BACKORDER_POLICY_REJECT,
	}
	for _, l := range r.Lines {
		req.Lines = append(req.Lines, &inventoryv1.ReserveStockLine{Sku: l.SKU, Quantity: l.Quantity})
	}
	res, err := c.c.ReserveStock(ctx, req)
	if err == nil {
		return fromProto(res.GetReservation()), nil
	}
	if d := orderpb.DependencyError(Target, err); d != nil {
		return order.Reservation{}, d
	}
	md := apierr.Info(err).GetMetadata()
	requested := func(sku string) int64 {
		for _, l := range r.Lines {
			if l.SKU == sku {
				return l.Quantity
			}
		}
		return 0
	}
	switch {
	case apierr.HasReason(err, inventoryv1.ErrorReason_ERROR_REASON_INSUFFICIENT_STOCK):
		req, _ := strconv.ParseInt(md["requested"], 10, 64)
		avail, _ := strconv.ParseInt(md["available"], 10, 64)
		if req == 0 {
			req = requested(md["sku"])
		}
		return order.Reservation{}, &order.OutOfStockError{SKU: md["sku"], Requested: req, Available: avail}
	case apierr.HasReason(err, inventoryv1.ErrorReason_ERROR_REASON_UNKNOWN_SKU):
		return order.Reservation{}, &order.OutOfStockError{SKU: md["sku"], Requested: requested(md["sku"])}
	case apierr.HasReason(err, inventoryv1.ErrorReason_ERROR_REASON_NO_WAREHOUSE_FOR_CHANNEL) && len(r.Lines) > 0:
		return order.Reservation{}, &order.OutOfStockError{SKU: r.Lines[0].SKU, Requested: r.Lines[0].Quantity}
	case apierr.HasReason(err, inventoryv1.ErrorReason_ERROR_REASON_RESERVATION_EXISTS_FOR_REFERENCE) && md["reservation"] != "":
		// The order already holds a reservation (made under another
		// request id); use it rather than reserving twice.
		name := md["reservation"]
		if !strings.HasPrefix(name, "reservations/") {
			name = "reservations/" + name
		}
		got, gerr := c.c.GetReservation(ctx, &inventoryv1.GetReservationRequest{Name: name})
		if gerr != nil {
			if d := orderpb.DependencyError(Target, gerr); d != nil {
				return order.Reservation{}, d
			}
			return order.Reservation{}, fmt.Errorf("inventory GetReservation %s: %w", name, gerr)
		}
		return fromProto(got), nil
	}
	return order.Reservation{}, fmt.Errorf("inventory ReserveStock: %s: %w", apierr.ReasonOf(err), err)
}

// Release implements order.Inventory. A reservation that is gone or
// already committed counts as done (nothing left to give back).
func (c *Client) Release(ctx context.Context, id, requestID, reason string) error {
	_, err := c.c.ReleaseReservation(ctx, &inventoryv1.ReleaseReservationRequest{
		Name: "reservations/" + id, RequestId: requestID, Reason: reason,
	})
	if err == nil {
		return nil
	}
	if d := orderpb.DependencyError(Target, err); d != nil {
		return d
	}
	if status.Code(err) == codes.NotFound || apierr.HasReason(err, inventoryv1.ErrorReason_ERROR_REASON_RESERVATION_STATE_CONFLICT) {
		return nil
	}
	return fmt.Errorf("inventory ReleaseReservation %s: %w", id, err)
}

// OpenReservations implements order.Inventory.
func (c *Client) OpenReservations(ctx context.Context, referenceID string) ([]string, error) {
	var ids []string
	token := ""
	for {
		res, err := c.c.ListReservations(ctx, &inventoryv1.ListReservationsRequest{
			PageSize: 100, PageToken: token, Filter: `reference_id = ` + aip.Quote(referenceID),
		})
		if err != nil {
			if d := orderpb.DependencyError(Target, err); d != nil {
				return nil, d
			}
			return nil, fmt.Errorf("inventory ListReservations: %w", err)
		}
		for _, r := range res.GetReservations() {
			switch r.GetState() {
			case inventoryv1.Reservation_STATE_HELD, inventoryv1.Reservation_STATE_CONFIRMED:
				ids = append(ids, reservationID(r.GetName()))
			case inventoryv1.Reservation_STATE_UNSPECIFIED, inventoryv1.Reservation_STATE_RELEASED,
				inventoryv1.Reservation_STATE_COMMITTED, inventoryv1.Reservation_STATE_EXPIRED:
				// Nothing left to release.
			}
		}
		token = res.GetNextPageToken()
		if token == "" {
			return ids, nil
		}
	}
}
