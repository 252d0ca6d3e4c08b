// Package grpcapi serves transload.wms.v1.WmsAdapterService on the
// simulator's domain (package wms): one file per resource, convert.go for
// proto ↔ domain, errors.go for domain error → status, faults.go for the
// injected availability faults.
package grpcapi

import (
	"context"
	"log/slog"
	"strings"

	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/services/wmssim/internal/wms"
)

// Server implements wmsv1.WmsAdapterServiceServer.
type Server struct {
	wmsv1.UnimplementedWmsAdapterServiceServer

	svc    *wms.Service
	logger *slog.Logger
}

var _ wmsv1.WmsAdapterServiceServer = (*Server)(nil)

// New returns a Server on svc.
func New(svc *wms.Service, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	return &Server{svc: svc, logger: logger}
}

// CreateShipmentRequest implements wmsv1.WmsAdapterServiceServer.
func (s *Server) CreateShipmentRequest(ctx context.Context, req *wmsv1.CreateShipmentRequestRequest) (*wmsv1.CreateShipmentRequestResponse, error) {
	id := req.GetShipmentRequestId()
	res, err := s.svc.CreateShipmentRequest(ctx, id, orderFromProto(req.GetShipmentRequest()))
	if err != nil {
		return nil, s.toStatus(ctx, err, id)
	}
	r := res.Request
	out := &wmsv1.CreateShipmentRequestResponse{
		Duplicate:       res.Duplicate,
		ShipmentRequest: requestToProto(r),
	}
	if r.State == wms.StateRejected {
		out.Outcome = wmsv1.CreateShipmentRequestResponse_OUTCOME_REJECTED
		out.RejectionReason = rejectionToProto(r.RejectionReason)
		out.RejectionMessage = r.RejectionMessage
	} else {
		out.Outcome = wmsv1.CreateShipmentRequestResponse_OUTCOME_ACCEPTED
		out.WmsReference = r.WMSReference()
	}
	return out, nil
}

// GetShipmentRequest implements wmsv1.WmsAdapterServiceServer.
func (s *Server) GetShipmentRequest(ctx context.Context, req *wmsv1.GetShipmentRequestRequest) (*wmsv1.ShipmentRequest, error) {
	id := strings.TrimPrefix(req.GetName(), shipmentRequestPrefix)
	r, err := s.svc.GetShipmentRequest(ctx, id)
	if err != nil {
		return nil, s.toStatus(ctx, err, id)
	}
	return requestToProto(r), nil
}

// CancelShipmentRequest implements wmsv1.WmsAdapterServiceServer.
func (s *Server) CancelShipmentRequest(ctx context.Context, req *wmsv1.CancelShipmentRequestRequest) (*wmsv1.ShipmentRequest, error) {
	id := strings.TrimPrefix(req.GetName(), shipmentRequestPrefix)
	r, err := s.svc.CancelShipmentRequest(ctx, id, req.GetReason())
	if err != nil {
		return nil, s.toStatus(ctx, err, id)
	}
	return requestToProto(r), nil
}

// Feed page sizes from the wms.v1 contract.
const (
	defaultEventPage = 100
	maxEventPage     = 1000
)

func eventPageSize(requested int32) int {
	return int(aip.ClampPageSize(requested, defaultEventPage, maxEventPage))
}

// ListShipmentEvents implements wmsv1.WmsAdapterServiceServer.
func (s *Server) ListShipmentEvents(ctx context.Context, req *wmsv1.ListShipmentEventsRequest) (*wmsv1.ListShipmentEventsResponse, error) {
	page, err := s.svc.ListShipmentEvents(ctx, req.GetCursor(), eventPageSize(req.GetPageSize()))
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	out := &wmsv1.ListShipmentEventsResponse{NextCursor: page.NextCursor, HasMore: page.HasMore}
	for _, e := range page.Events {
		out.ShipmentEvents = append(out.ShipmentEvents, eventToProto(e))
	}
	return out, nil
}

// ListReturnEvents implements wmsv1.WmsAdapterServiceServer.
func (s *Server) ListReturnEvents(ctx context.Context, req *wmsv1.ListReturnEventsRequest) (*wmsv1.ListReturnEventsResponse, error) {
	page, err := s.svc.ListReturnEvents(ctx, req.GetCursor(), eventPageSize(req.GetPageSize()))
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	out := &wmsv1.ListReturnEventsResponse{NextCursor: page.NextCursor, HasMore: page.HasMore}
	for _, e := range page.Events {
		out.ReturnEvents = append(out.ReturnEvents, returnEventToProto(e))
	}
	return out, nil
}

// RegisterExpectedReturn implements wmsv1.WmsAdapterServiceServer.
func (s *Server) RegisterExpectedReturn(ctx context.Context, req *wmsv1.RegisterExpectedReturnRequest) (*wmsv1.RegisterExpectedReturnResponse, error) {
	id := req.GetExpectedReturnId()
	res, err := s.svc.RegisterExpectedReturn(ctx, id, noticeFromProto(req.GetExpectedReturn()))
	if err != nil {
		return nil, s.toStatus(ctx, err, id)
	}
	r := res.Return
	out := &wmsv1.RegisterExpectedReturnResponse{
		Accepted:       r.State != wms.ReturnRejected,
		Duplicate:      res.Duplicate,
		ExpectedReturn: returnToProto(r),
	}
	if out.Accepted {
		out.WmsReference = r.WMSReference()
	} else {
		out.RejectionReason = returnRejectionToProto(r.RejectionReason)
		out.RejectionMessage = r.RejectionMessage
	}
	return out, nil
}

// GetExpectedReturn implements wmsv1.WmsAdapterServiceServer.
func (s *Server) GetExpectedReturn(ctx context.Context, req *wmsv1.GetExpectedReturnRequest) (*wmsv1.ExpectedReturn, error) {
	id := strings.TrimPrefix(req.GetName(), expectedReturnPrefix)
	r, err := s.svc.GetExpectedReturn(ctx, id)
	if err != nil {
		return nil, s.toStatus(ctx, err, id)
	}
	return returnToProto(r), nil
}

// CancelExpectedReturn implements wmsv1.WmsAdapterServiceServer.
func (s *Server) CancelExpectedReturn(ctx context.Context, req *wmsv1.CancelExpectedReturnRequest) (*wmsv1.ExpectedReturn, error) {
	id := strings.TrimPrefix(req.GetName(), expectedReturnPrefix)
	r, err := s.svc.CancelExpectedReturn(ctx, id, req.GetReason())
	if err != nil {
		return nil, s.toStatus(ctx, err, id)
	}
	return returnToProto(r), nil
}
