// Package grpcapi implements transload.order.v1.OrderService on top of the
// order domain: each handler converts the request (convert.go), calls the
// service and converts the result; every error goes through toStatus
// (errors.go). The return (RMA) RPCs are in returns.go (UNIMPLEMENTED
// until WithReturns gives them their use cases); the financial posting
// RPCs are in posting.go (UNIMPLEMENTED until WithPoster gives them a
// poster). The caller's identity
// comes from the platform/opsevents actor header, read in one place
// (actor).
package grpcapi

import (
	"context"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/correlation"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/services/order/internal/order"
	"github.com/transload/transload/services/order/internal/orderpb"
)

// ReplayedHeader is the response header set on a CreateOrder that returned
// an earlier result for the same request id, for the gateway's REST
// Idempotent-Replayed header.
const ReplayedHeader = "idempotent-replayed"

// Server implements orderv1.OrderServiceServer.
type Server struct {
	orderv1.UnimplementedOrderServiceServer
	svc   *order.Service
	queue *order.Worker
	log   *slog.Logger
	// returns serves the return (RMA) RPCs (returns.go); nil answers
	// UNIMPLEMENTED.
	returns *order.Returns
	// poster serves the financial posting RPCs (posting.go); nil answers
	// UNIMPLEMENTED.
	poster *order.Poster
}

var _ orderv1.OrderServiceServer = (*Server)(nil)

// New returns a Server for svc whose ERP queue RPCs read and retry queue,
// the worker draining svc's queue.
func New(svc *order.Service, queue *order.Worker, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{svc: svc, queue: queue, log: log}
}

// actor is who acts on the call: the principal the request metadata names
// in the opsevents.ActorHeader (the gateway's "api_key:<id>" or
// "operator:<id>", a calling service's "service:<name>"), else def. It
// names the actor of the state history and of the audit trail alike.
func actor(ctx context.Context, def order.Actor) order.Actor {
	a := opsevents.ActorFromIncoming(ctx, opsevents.Actor{Kind: def.Kind, ID: def.ID})
	return order.Actor{Kind: a.Kind, ID: a.ID}
}

// caller names the actor of the call ("kind:id", "" when the request names
// none), for binding page tokens to who asked.
func caller(ctx context.Context) string {
	a := opsevents.ActorFromIncoming(ctx, opsevents.Actor{})
	if a.IsZero() {
		return ""
	}
	return a.String()
}

// CreateOrder implements orderv1.OrderServiceServer.
func (s *Server) CreateOrder(ctx context.Context, r *orderv1.CreateOrderRequest) (*orderv1.CreateOrderResponse, error) {
	p := createFromProto(r, actor(ctx, order.Actor{Kind: "api_key", ID: r.GetChannel()}), correlation.ID(ctx))
	res, err := s.svc.CreateOrder(ctx, p)
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	if res.Replayed {
		if err := grpc.SetHeader(ctx, metadata.Pairs(ReplayedHeader, "true")); err != nil {
			s.log.WarnContext(ctx, "set replayed header", slog.Any("error", err))
		}
	}
	return &orderv1.CreateOrderResponse{Order: orderpb.Order(res.Order), Replayed: res.Replayed}, nil
}

// GetOrder implements orderv1.OrderServiceServer.
func (s *Server) GetOrder(ctx context.Context, r *orderv1.GetOrderRequest) (*orderv1.Order, error) {
	id := orderIDFromName(r.GetName())
	o, err := s.svc.GetOrder(ctx, id)
	if err != nil {
		return nil, s.toStatus(ctx, err, id)
	}
	return orderpb.Order(o), nil
}

// ListOrders implements orderv1.OrderServiceServer. Page tokens are bound
// to the filter, the ordering and the calling actor.
func (s *Server) ListOrders(ctx context.Context, r *orderv1.ListOrdersRequest) (*orderv1.ListOrdersResponse, error) {
	q, err := listFromProto(r, caller(ctx))
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	orders, err := s.svc.ListOrders(ctx, q.ListQuery)
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	orders, next := listPage(q, orders)
	resp := &orderv1.ListOrdersResponse{NextPageToken: next}
	for _, o := range orders {
		resp.Orders = append(resp.Orders, orderpb.Order(o))
	}
	return resp, nil
}

// CancelOrder implements orderv1.OrderServiceServer.
func (s *Server) CancelOrder(ctx context.Context, r *orderv1.CancelOrderRequest) (*orderv1.Order, error) {
	id := orderIDFromName(r.GetName())
	o, err := s.svc.CancelOrder(ctx, order.CancelParams{
		OrderID: id, RequestID: r.GetRequestId(), Reason: r.GetReason(), Etag: r.GetEtag(),
		Actor: actor(ctx, order.Actor{Kind: "api_key"}), CorrelationID: correlation.ID(ctx),
	})
	if err != nil {
		return nil, s.toStatus(ctx, err, id)
	}
	return orderpb.Order(o), nil
}

// RecordShipmentProgress implements orderv1.OrderServiceServer.
func (s *Server) RecordShipmentProgress(ctx context.Context, r *orderv1.RecordShipmentProgressRequest) (*orderv1.RecordShipmentProgressResponse, error) {
	p := progressFromProto(r, actor(ctx, order.Actor{Kind: "service", ID: "fulfillment"}), correlation.ID(ctx))
	res, err := s.svc.RecordShipmentProgress(ctx, p)
	if err != nil {
		return nil, s.toStatus(ctx, err, p.OrderID)
	}
	out := &orderv1.RecordShipmentProgressResponse{Order: orderpb.Order(res.Order), Duplicate: res.Duplicate}
	for _, st := range res.Entered {
		out.EnteredStates = append(out.EnteredStates, orderpb.State(st))
	}
	return out, nil
}
