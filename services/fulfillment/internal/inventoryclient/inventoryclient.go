// Package inventoryclient is the fulfillment service's adapter to the
// inventory service: it commits reservations for shipped shipments. The
// connection carries the deadline (FULFILLMENT_INVENTORY_TIMEOUT) and the
// breaker; errors are mapped to the domain's dependency errors.
package inventoryclient

import (
	"context"

	"google.golang.org/grpc"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/fulfillmentpb"
)

// Dependency names inventory in dependency errors.
const Dependency = "inventory"

// IdempotentMethods are the inventory methods grpcclient may retry
// (CommitReservation carries a request id and is idempotent per shipment).
var IdempotentMethods = []string{inventoryv1.InventoryService_CommitReservation_FullMethodName}

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
