// Package wmsclient is the fulfillment service's adapter to the WMS
// (transload.wms.v1 WmsAdapterService): every call gets the contract's
// deadline, and errors are mapped to the domain's dependency errors.
package wmsclient

import (
	"context"
	"time"

	"google.golang.org/grpc"

	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/services/fulfillment/internal/depcall"
)

// Deadlines from the wms.v1 contract.
const (
	CreateTimeout = 10 * time.Second
	ListTimeout   = 5 * time.Second
)

// IdempotentMethods are the WMS methods grpcclient may retry.
var IdempotentMethods = []string{
	wmsv1.WmsAdapterService_CreateShipmentRequest_FullMethodName,
	wmsv1.WmsAdapterService_ListShipmentEvents_FullMethodName,
	wmsv1.WmsAdapterService_GetShipmentRequest_FullMethodName,
	wmsv1.WmsAdapterService_CancelShipmentRequest_FullMethodName,
}

// Client calls the WMS adapter.
type Client struct {
	c wmsv1.WmsAdapterServiceClient
}

// New returns a client over conn.
func New(conn grpc.ClientConnInterface) *Client {
	return &Client{c: wmsv1.NewWmsAdapterServiceClient(conn)}
}

// CreateShipmentRequest creates the WMS outbound order, idempotently on
// the request id. A REJECTED outcome is an OK response, not an error.
func (c *Client) CreateShipmentRequest(ctx context.Context, req *wmsv1.CreateShipmentRequestRequest) (*wmsv1.CreateShipmentRequestResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, CreateTimeout)
	defer cancel()
	res, err := c.c.CreateShipmentRequest(ctx, req)
	return res, depcall.Classify("wms", err)
}

// ListShipmentEvents reads one page of the shipment event feed.
func (c *Client) ListShipmentEvents(ctx context.Context, cursor string, pageSize int32) (*wmsv1.ListShipmentEventsResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, ListTimeout)
	defer cancel()
	res, err := c.c.ListShipmentEvents(ctx, &wmsv1.ListShipmentEventsRequest{Cursor: cursor, PageSize: pageSize})
	return res, depcall.Classify("wms", err)
}

// CancelShipmentRequest cancels the WMS outbound order of a fulfilment
// request (idempotent by state).
func (c *Client) CancelShipmentRequest(ctx context.Context, id, reason string) error {
	ctx, cancel := context.WithTimeout(ctx, CreateTimeout)
	defer cancel()
	if len(reason) > 200 {
		reason = reason[:200]
	}
	_, err := c.c.CancelShipmentRequest(ctx, &wmsv1.CancelShipmentRequestRequest{Name: "shipmentRequests/" + id, Reason: reason})
	return depcall.Classify("wms", err)
}
