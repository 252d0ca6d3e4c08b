// Package grpcapi implements transload.fulfillment.v1 FulfillmentService
// over the fulfillment store: reads of fulfilment requests, shipments and
// return receipts.
// Request shapes are validated by the platform's protovalidate
// interceptor; domain errors become statuses in errors.go.
package grpcapi

import (
	"context"
	"log/slog"

	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/fingerprint"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/fulfillmentpb"
)

// Retrier puts failed fulfilment requests back to PENDING (the
// dispatcher), recording actor as who retried. Errors:
// fulfillment.ErrRequestNotFound, fulfillment.ErrIdempotencyKeyReused,
// *fulfillment.RejectionError.
type Retrier interface {
	Retry(ctx context.Context, orderID, id, requestID, fingerprint, note string, actor fulfillment.Actor) (*fulfillment.Request, error)
}

// Pusher applies WMS events pushed by adapters (ApplyWmsEvents): one
// result per event, and the cursor stored for source. The batch applies in
// one transaction: an error means none of it was applied.
type Pusher interface {
	Apply(ctx context.Context, source, cursor string, evs []fulfillment.WMSEvent) ([]fulfillment.WMSEventResult, string, error)
}

// Canceller cancels the fulfilment of an order (CancelFulfillment),
// recording actor as who cancelled. Errors:
// fulfillment.ErrIdempotencyKeyReused, *fulfillment.RejectionError, errors
// wrapping fulfillment.ErrDependencyUnavailable.
type Canceller interface {
	Cancel(ctx context.Context, orderID, requestID, reason, fingerprint string, actor fulfillment.Actor) ([]*fulfillment.Request, error)
}

// Server implements fulfillmentv1.FulfillmentServiceServer.
type Server struct {
	fulfillmentv1.UnimplementedFulfillmentServiceServer
	store     fulfillment.Store
	retrier   Retrier
	pusher    Pusher
	canceller Canceller
	logger    *slog.Logger
}

// WithCanceller serves CancelFulfillment through c (default:
// Unimplemented).
func WithCanceller(c Canceller) Option { return func(s *Server) { s.canceller = c } }

// Option configures NewServer.
type Option func(*Server)

// WithPusher serves ApplyWmsEvents through p (default: Unimplemented).
func WithPusher(p Pusher) Option { return func(s *Server) { s.pusher = p } }

var _ fulfillmentv1.FulfillmentServiceServer = (*Server)(nil)

// NewServer returns the gRPC API over store; retrier serves
// RetryFulfillmentRequest (nil: Unimplemented).
func NewServer(store fulfillment.Store, retrier Retrier, logger *slog.Logger, opts ...Option) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{store: store, retrier: retrier, logger: logger}
	for _, o := range opts {
		o(s)
	}
	return s
}

// GetFulfillmentRequest returns one fulfilment request.
func (s *Server) GetFulfillmentRequest(ctx context.Context, req *fulfillmentv1.GetFulfillmentRequestRequest) (*fulfillmentv1.FulfillmentRequest, error) {
	order, id := parseName(req.GetName())
	r, err := s.store.GetRequest(ctx, id)
	if err == nil && order != "" && r.OrderID != order {
		err = fulfillment.ErrRequestNotFound
	}
	if err != nil {
		return nil, s.toStatus(ctx, err, id)
	}
	return fulfillmentpb.RequestToProto(r), nil
}

// ListFulfillmentRequests lists the fulfilment requests of an order or of
// all orders.
func (s *Server) ListFulfillmentRequests(ctx context.Context, req *fulfillmentv1.ListFulfillmentRequestsRequest) (*fulfillmentv1.ListFulfillmentRequestsResponse, error) {
	q, l, err := requestQueryFromProto(req)
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	rs, err := s.store.ListRequests(ctx, q)
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	rs, next := aip.KeysetPage(rs, l.size(), l.query, requestKey)
	out := &fulfillmentv1.ListFulfillmentRequestsResponse{NextPageToken: next}
	for _, r := range rs {
		out.FulfillmentRequests = append(out.FulfillmentRequests, fulfillmentpb.RequestToProto(r))
	}
	return out, nil
}

// GetShipment returns one shipment.
func (s *Server) GetShipment(ctx context.Context, req *fulfillmentv1.GetShipmentRequest) (*fulfillmentv1.Shipment, error) {
	order, id := parseName(req.GetName())
	sh, err := s.store.GetShipment(ctx, id)
	if err == nil && order != "" && sh.OrderID != order {
		err = fulfillment.ErrShipmentNotFound
	}
	if err != nil {
		return nil, s.toStatus(ctx, err, id)
	}
	return fulfillmentpb.ShipmentToProto(sh), nil
}

// ListShipments lists the shipments of an order or of all orders.
func (s *Server) ListShipments(ctx context.Context, req *fulfillmentv1.ListShipmentsRequest) (*fulfillmentv1.ListShipmentsResponse, error) {
	q, l, err := shipmentQueryFromProto(req)
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	ss, err := s.store.ListShipments(ctx, q)
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	ss, next := aip.KeysetPage(ss, l.size(), l.query, shipmentKey(q.ByUpdateTime))
	out := &fulfillmentv1.ListShipmentsResponse{NextPageToken: next}
	for _, sh := range ss {
		out.Shipments = append(out.Shipments, fulfillmentpb.ShipmentToProto(sh))
	}
	return out, nil
}

// RetryFulfillmentRequest puts a FAILED request back to PENDING so the
// dispatcher sends it to the WMS again.
func (s *Server) RetryFulfillmentRequest(ctx context.Context, req *fulfillmentv1.RetryFulfillmentRequestRequest) (*fulfillmentv1.FulfillmentRequest, error) {
	if s.retrier == nil {
		return nil, unimplemented("RetryFulfillmentRequest")
	}
	order, id := parseName(req.GetName())
	fp := fingerprint.Of([]string{req.GetName(), req.GetNote()})
	r, err := s.retrier.Retry(ctx, order, id, req.GetRequestId(), fp, req.GetNote(), caller(ctx, fulfillmentpb.Producer))
	if err != nil {
		return nil, s.toStatus(ctx, err, id)
	}
	return fulfillmentpb.RequestToProto(r), nil
}

// CancelFulfillment cancels every open fulfilment request of an order,
// at the WMS and in Transload.
func (s *Server) CancelFulfillment(ctx context.Context, req *fulfillmentv1.CancelFulfillmentRequest) (*fulfillmentv1.CancelFulfillmentResponse, error) {
	if s.canceller == nil {
		return nil, unimplemented("CancelFulfillment")
	}
	order := parseParent(req.GetParent())
	// The order service cancels fulfilment when an order is cancelled, so
	// a call that names nobody is its own.
	rs, err := s.canceller.Cancel(ctx, order, req.GetRequestId(), req.GetReason(),
		fingerprint.Of([]string{req.GetParent(), req.GetReason()}), caller(ctx, "order"))
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	out := &fulfillmentv1.CancelFulfillmentResponse{}
	for _, r := range rs {
		out.FulfillmentRequests = append(out.FulfillmentRequests, fulfillmentpb.RequestToProto(r))
	}
	return out, nil
}

// GetReturnReceipt returns one return receipt.
func (s *Server) GetReturnReceipt(ctx context.Context, req *fulfillmentv1.GetReturnReceiptRequest) (*fulfillmentv1.ReturnReceipt, error) {
	order, id := parseName(req.GetName())
	rr, err := s.store.GetReturnReceipt(ctx, id)
	if err == nil && order != "" && rr.OrderID != order {
		err = fulfillment.ErrReturnReceiptNotFound
	}
	if err != nil {
		return nil, s.toStatus(ctx, err, id)
	}
	return fulfillmentpb.ReturnReceiptToProto(rr), nil
}

// ListReturnReceipts lists the return receipts of an order or of all
// orders.
func (s *Server) ListReturnReceipts(ctx context.Context, req *fulfillmentv1.ListReturnReceiptsRequest) (*fulfillmentv1.ListReturnReceiptsResponse, error) {
	q, l, err := receiptQueryFromProto(req)
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	rs, err := s.store.ListReturnReceipts(ctx, q)
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	rs, next := aip.KeysetPage(rs, l.size(), l.query, receiptKey)
	out := &fulfillmentv1.ListReturnReceiptsResponse{NextPageToken: next}
	for _, rr := range rs {
		out.ReturnReceipts = append(out.ReturnReceipts, fulfillmentpb.ReturnReceiptToProto(rr))
	}
	return out, nil
}

// ApplyWmsEvents applies a batch of WMS events pushed by an adapter in one
// transaction, each event with its own outcome.
func (s *Server) ApplyWmsEvents(ctx context.Context, req *fulfillmentv1.ApplyWmsEventsRequest) (*fulfillmentv1.ApplyWmsEventsResponse, error) {
	if s.pusher == nil {
		return nil, unimplemented("ApplyWmsEvents")
	}
	evs := make([]fulfillment.WMSEvent, 0, len(req.GetEvents()))
	for _, pe := range req.GetEvents() {
		ev, err := fulfillmentpb.WMSEventFromPush(pe)
		if err != nil {
			return nil, s.toStatus(ctx, err, "")
		}
		evs = append(evs, ev)
	}
	results, cursor, err := s.pusher.Apply(ctx, req.GetSource(), req.GetCursor(), evs)
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	out := &fulfillmentv1.ApplyWmsEventsResponse{Cursor: cursor}
	for _, r := range results {
		out.Results = append(out.Results, fulfillmentpb.WMSEventResultToProto(r))
	}
	return out, nil
}
