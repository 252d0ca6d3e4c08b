// Package orderclient is the fulfillment service's adapter to the order
// service: it reports shipment progress. The connection carries the
// deadline (FULFILLMENT_ORDER_TIMEOUT) and the breaker; errors are mapped to
// the domain's dependency errors.
package orderclient

import (
	"context"

	"google.golang.org/grpc"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/fulfillmentpb"
)

// Dependency names the order service in dependency errors.
const Dependency = "order"

// IdempotentMethods are the order methods grpcclient may retry
// (RecordShipmentProgress is idempotent on its event id).
// (RecordReturnReceipt on its event id).
var IdempotentMethods = []string{
	orderv1.OrderService_RecordShipmentProgress_FullMethodName,
	orderv1.OrderService_RecordReturnReceipt_FullMethodName,
}

// Client implements fulfillment.Orders.
type Client struct {
	c orderv1.OrderServiceClient
}

var _ fulfillment.Orders = (*Client)(nil)

// New returns a client over conn.
func New(conn grpc.ClientConnInterface) *Client {
	return &Client{c: orderv1.NewOrderServiceClient(conn)}
}

// RecordShipmentProgress implements fulfillment.Orders.
func (c *Client) RecordShipmentProgress(ctx context.Context, p fulfillment.Progress) error {
	_, err := c.c.RecordShipmentProgress(ctx, fulfillmentpb.ProgressToProto(p))
	return fulfillmentpb.DependencyError(Dependency, err)
}

// RecordReturnReceipt implements fulfillment.Orders.
func (c *Client) RecordReturnReceipt(ctx context.Context, r fulfillment.ReceiptReport) error {
	_, err := c.c.RecordReturnReceipt(ctx, fulfillmentpb.ReceiptReportToProto(r))
	return fulfillmentpb.DependencyError(Dependency, err)
}
