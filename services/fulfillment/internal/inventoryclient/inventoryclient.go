// Package inventoryclient is the fulfillment service's adapter to the
// inventory service: it commits reservations for shipped shipments, with a
// deadline, mapping errors to the domain's dependency errors.
package inventoryclient

import (
	"context"
	"time"

	"google.golang.org/grpc"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/services/fulfillment/internal/depcall"
)

// Timeout bounds one CommitReservation call.
const Timeout = 5 * time.Second

// IdempotentMethods are the inventory methods grpcclient may retry
// (CommitReservation carries a request id and is idempotent per shipment).
var IdempotentMethods = []string{inventoryv1.InventoryService_CommitReservation_FullMethodName}

// Client calls the inventory service.
type Client struct {
	c inventoryv1.InventoryServiceClient
}

// New returns a client over conn.
func New(conn grpc.ClientConnInterface) *Client {
	return &Client{c: inventoryv1.NewInventoryServiceClient(conn)}
}

// CommitReservation commits a shipment's quantities.
func (c *Client) CommitReservation(ctx context.Context, req *inventoryv1.CommitReservationRequest) error {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	_, err := c.c.CommitReservation(ctx, req)
	return depcall.Classify("inventory", err)
}
