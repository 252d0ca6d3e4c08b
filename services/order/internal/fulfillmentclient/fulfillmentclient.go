// Package fulfillmentclient is the order service's adapter to the
// fulfillment service (fulfillment.v1 FulfillmentService.CancelFulfillment),
// used when a confirmed order is cancelled.
package fulfillmentclient

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	"github.com/transload/transload/services/order/internal/order"
	"github.com/transload/transload/services/order/internal/orderpb"
)

// Target names fulfillment in dependency errors.
const Target = "fulfillment"

// Client implements order.Fulfillment.
type Client struct {
	c fulfillmentv1.FulfillmentServiceClient
}

var _ order.Fulfillment = (*Client)(nil)

// New returns a client on conn.
func New(conn grpc.ClientConnInterface) *Client {
	return &Client{c: fulfillmentv1.NewFulfillmentServiceClient(conn)}
}

// CancelFulfillment implements order.Fulfillment.
func (c *Client) CancelFulfillment(ctx context.Context, orderID, requestID, reason string) error {
	_, err := c.c.CancelFulfillment(ctx, &fulfillmentv1.CancelFulfillmentRequest{
		Parent: "orders/" + orderID, RequestId: requestID, Reason: reason,
	})
	if err == nil {
		return nil
	}
	if d := orderpb.DependencyError(Target, err); d != nil {
		return d
	}
	if status.Code(err) == codes.FailedPrecondition {
		return &order.NotCancellableError{OrderID: orderID, State: order.StateConfirmed}
	}
	return fmt.Errorf("fulfillment CancelFulfillment %s: %w", orderID, err)
}
