// Package grpcapi implements transload.order.v1.OrderService on top of the
// order domain: each handler converts the request (convert.go), calls the
// service and converts the result; every error goes through toStatus
// (errors.go). Returns (RMA) and financial posting RPCs are not implemented
// yet and answer UNIMPLEMENTED.
package grpcapi

import (
	"context"
	"log/slog"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/correlation"
	"github.com/transload/transload/services/order/internal/order"
	"github.com/transload/transload/services/order/internal/orderpb"
)

// ReplayedHeader is the response header set on a CreateOrder that returned
// an earlier result for the same request id, for the gateway's REST
// Idempotent-Replayed header.
const ReplayedHeader = "idempotent-replayed"

// ActorHeader is the request metadata key naming who acts, "kind:id"
// (e.g. "api_key:web-1", set by the gateway; "service:fulfillment").
const ActorHeader = "x-transload-actor"

// Server implements orderv1.OrderServiceServer.
type Server struct {
	orderv1.UnimplementedOrderServiceServer
	svc *order.Service
	log *slog.Logger
}

var _ orderv1.OrderServiceServer = (*Server)(nil)

// New returns a Server for svc.
func New(svc *order.Service, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{svc: svc, log: log}
}

func actor(ctx context.Context, def order.Actor) order.Actor {
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(ActorHeader); len(v) > 0 {
			if kind, id, ok := strings.Cut(v[0], ":"); ok && kind != "" {
				return order.Actor{Kind: kind, ID: id}
			}
		}
	}
	return def
}

// caller names the actor of the call ("kind:id", "" when the request names
// none), for binding page tokens to who asked.
func caller(ctx context.Context) string {
	a := actor(ctx, order.Actor{})
	if a == (order.Actor{}) {
		return ""
	}
	return a.Kind + ":" + a.ID
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
