// Package inventoryclient is the fulfillment service's adapter to the
// inventory service: it commits reservations for shipped shipments. The
// connection carries the deadline (FULFILLMENT_INVENTORY_TIMEOUT) and the
// breaker; errors are mapped to the domain's dependency errors.
package inventoryclient

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/fulfillmentpb"
)

// Dependency names inventory in dependency errors.
const Dependency = "inventory"

// IdempotentMethods are the inventory methods grpcclient may retry
// (CommitReservation carries a request id and is idempotent per shipment).
// ApplyStockEvents is idempotent on its event ids.
var IdempotentMethods = []string{
	inventoryv1.InventoryService_CommitReservation_FullMethodName,
	inventoryv1.InventoryService_ApplyStockEvents_FullMethodName,
}

// Client implements fulfillment.Inventory.
type Client struct {
	c inventoryv1.InventoryServiceClient
}

var _ fulfillment.Inventory = (*Client)(nil)

// New returns a client over conn.
func New(conn grpc.ClientConnInterface) *Client {
	return &Client{c: inventoryv1.NewInventoryServiceClient(conn)}
}

// CommitReservation implements fulfillment.Inventory.
func (c *Client) CommitReservation(ctx context.Context, commit fulfillment.Commit) error {
	_, err := c.c.CommitReservation(ctx, fulfillmentpb.CommitToProto(commit))
	return fulfillmentpb.DependencyError(Dependency, err)
}

// Restock implements fulfillment.Inventory: an event inventory REJECTED
// (unknown warehouse, malformed, stale) is a refusal, parked by the effect
// runner; APPLIED, DUPLICATE and OUT_OF_ORDER_BUFFERED (applied once the
// earlier sequence arrives) are done.
func (c *Client) Restock(ctx context.Context, r fulfillment.Restock) error {
	res, err := c.c.ApplyStockEvents(ctx, fulfillmentpb.RestockToProto(r))
	if err != nil {
		return fulfillmentpb.DependencyError(Dependency, err)
	}
	for _, ev := range res.GetResults() {
		if ev.GetOutcome() == inventoryv1.StockEventResult_OUTCOME_REJECTED {
			return &fulfillment.DependencyError{Dependency: Dependency, Rejected: true, Reason: ev.GetReason().String(),
				Err: fmt.Errorf("restock event %s rejected: %s", ev.GetEventId(), ev.GetMessage())}
		}
	}
	return nil
}
