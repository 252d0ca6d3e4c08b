// Package wmsclient is the fulfillment service's adapter to the WMS
// (transload.wms.v1 WmsAdapterService). The connection carries the
// deadline (FULFILLMENT_WMS_TIMEOUT) and the breaker; errors are mapped to
// the domain's dependency errors, with the wms.v1 reasons the service acts
// on turned into domain errors.
package wmsclient

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc"

	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/fulfillmentpb"
)

// Dependency names the WMS in dependency errors.
const Dependency = "wms"

// IdempotentMethods are the WMS methods grpcclient may retry.
var IdempotentMethods = []string{
	wmsv1.WmsAdapterService_CreateShipmentRequest_FullMethodName,
	wmsv1.WmsAdapterService_ListShipmentEvents_FullMethodName,
	wmsv1.WmsAdapterService_GetShipmentRequest_FullMethodName,
	wmsv1.WmsAdapterService_CancelShipmentRequest_FullMethodName,
	wmsv1.WmsAdapterService_RegisterExpectedReturn_FullMethodName,
	wmsv1.WmsAdapterService_CancelExpectedReturn_FullMethodName,
	wmsv1.WmsAdapterService_ListReturnEvents_FullMethodName,
}

// Client calls the WMS adapter.
type Client struct {
	c wmsv1.WmsAdapterServiceClient
}

var _ fulfillment.WMS = (*Client)(nil)

// New returns a client over conn.
func New(conn grpc.ClientConnInterface) *Client {
	return &Client{c: wmsv1.NewWmsAdapterServiceClient(conn)}
}

// reasons maps the wms.v1 refusals the service acts on to domain errors.
var reasons = map[string]error{
	wmsv1.ErrorReason_ERROR_REASON_CURSOR_EXPIRED.String():             fulfillment.ErrCursorRefused,
	wmsv1.ErrorReason_ERROR_REASON_INVALID_CURSOR.String():             fulfillment.ErrCursorRefused,
	wmsv1.ErrorReason_ERROR_REASON_SHIPMENT_REQUEST_NOT_FOUND.String(): fulfillment.ErrUnknownAtWMS,
	wmsv1.ErrorReason_ERROR_REASON_ALREADY_SHIPPED.String():            fulfillment.ErrTooLateToCancel,
	wmsv1.ErrorReason_ERROR_REASON_CANCELLATION_TOO_LATE.String():      fulfillment.ErrTooLateToCancel,
	wmsv1.ErrorReason_ERROR_REASON_RETURN_ALREADY_RECEIVED.String():    fulfillment.ErrReturnAlreadyReceived,
	wmsv1.ErrorReason_ERROR_REASON_EXPECTED_RETURN_NOT_FOUND.String():  fulfillment.ErrExpectedReturnUnknown,
}

// mapError returns the domain error of a WMS call: a
// *fulfillment.DependencyError, wrapped together with the domain error of
// reasons when the WMS refused for one of them.
func mapError(err error) error {
	err = fulfillmentpb.DependencyError(Dependency, err)
	if d := fulfillment.AsRejectedDependency(err); d != nil && reasons[d.Reason] != nil {
		return fmt.Errorf("%w: %w", reasons[d.Reason], err)
	}
	return err
}

// CreateShipmentRequest implements fulfillment.WMS.
func (c *Client) CreateShipmentRequest(ctx context.Context, r *fulfillment.Request) (fulfillment.WMSAnswer, error) {
	res, err := c.c.CreateShipmentRequest(ctx, fulfillmentpb.ShipmentRequestToWMS(r))
	if err != nil {
		return fulfillment.WMSAnswer{}, mapError(err)
	}
	return fulfillmentpb.WMSAnswerFromProto(res), nil
}

// ShipmentEvents implements fulfillment.WMS.
func (c *Client) ShipmentEvents(ctx context.Context, cursor string, pageSize int) (fulfillment.FeedPage, error) {
	res, err := c.c.ListShipmentEvents(ctx, &wmsv1.ListShipmentEventsRequest{Cursor: cursor, PageSize: int32(min(pageSize, 1<<31-1))})
	if err != nil {
		return fulfillment.FeedPage{}, mapError(err)
	}
	return fulfillmentpb.FeedPageFromProto(res)
}

// CancelShipmentRequest implements fulfillment.WMS. The reason is cut to
// the contract's 200 bytes (at a character boundary: proto strings must be
// valid UTF-8).
func (c *Client) CancelShipmentRequest(ctx context.Context, id, reason string) error {
	if len(reason) > 200 {
		reason = strings.ToValidUTF8(reason[:200], "")
	}
	_, err := c.c.CancelShipmentRequest(ctx, &wmsv1.CancelShipmentRequestRequest{Name: "shipmentRequests/" + id, Reason: reason})
	return mapError(err)
}

// RegisterExpectedReturn implements fulfillment.WMS.
func (c *Client) RegisterExpectedReturn(ctx context.Context, er fulfillment.ExpectedReturn) (fulfillment.WMSAnswer, error) {
	res, err := c.c.RegisterExpectedReturn(ctx, fulfillmentpb.ExpectedReturnToWMS(er))
	if err != nil {
		return fulfillment.WMSAnswer{}, mapError(err)
	}
	return fulfillmentpb.RegisterAnswerFromProto(res), nil
}

// CancelExpectedReturn implements fulfillment.WMS (the reason cut to the
// contract's 200 bytes like CancelShipmentRequest's).
func (c *Client) CancelExpectedReturn(ctx context.Context, id, reason string) error {
	if len(reason) > 200 {
		reason = strings.ToValidUTF8(reason[:200], "")
	}
	_, err := c.c.CancelExpectedReturn(ctx, &wmsv1.CancelExpectedReturnRequest{Name: "expectedReturns/" + id, Reason: reason})
	return mapError(err)
}

// ReturnEvents implements fulfillment.WMS.
func (c *Client) ReturnEvents(ctx context.Context, cursor string, pageSize int) (fulfillment.FeedPage, error) {
	res, err := c.c.ListReturnEvents(ctx, &wmsv1.ListReturnEventsRequest{Cursor: cursor, PageSize: int32(min(pageSize, 1<<31-1))})
	if err != nil {
		return fulfillment.FeedPage{}, mapError(err)
	}
	return fulfillmentpb.ReturnFeedPageFromProto(res)
}
