// Package orderclient is the fulfillment service's adapter to the order
// service: it reports shipment progress, with a deadline, mapping errors to
// the domain's dependency errors.
package orderclient

import (
	"context"
	"time"

	"google.golang.org/grpc"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/services/fulfillment/internal/depcall"
)

// Timeout bounds one RecordShipmentProgress call.
const Timeout = 5 * time.Second

// IdempotentMethods are the order methods grpcclient may retry
// (RecordShipmentProgress is idempotent on its event id).
var IdempotentMethods = []string{orderv1.OrderService_RecordShipmentProgress_FullMethodName}

// Client calls the order service.
type Client struct {
	c orderv1.OrderServiceClient
}

// New returns a client over conn.
func New(conn grpc.ClientConnInterface) *Client {
	return &Client{c: orderv1.NewOrderServiceClient(conn)}
}

// RecordShipmentProgress reports that a shipment shipped or was delivered.
func (c *Client) RecordShipmentProgress(ctx context.Context, req *orderv1.RecordShipmentProgressRequest) error {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	_, err := c.c.RecordShipmentProgress(ctx, req)
	return depcall.Classify("order", err)
}
