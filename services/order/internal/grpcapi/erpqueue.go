package grpcapi

import (
	"context"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/services/order/internal/order"
	"github.com/transload/transload/services/order/internal/orderpb"
)

// GetErpQueueStatus implements orderv1.OrderServiceServer.
func (s *Server) GetErpQueueStatus(ctx context.Context, _ *orderv1.GetErpQueueStatusRequest) (*orderv1.ErpQueueStatus, error) {
	st, err := s.queue.QueueStatus(ctx)
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	return orderpb.ErpQueueStatus(st, s.svc.Now()), nil
}

// ListErpQueueEntries implements orderv1.OrderServiceServer. Page tokens
// are bound to the filter and the calling actor.
func (s *Server) ListErpQueueEntries(ctx context.Context, r *orderv1.ListErpQueueEntriesRequest) (*orderv1.ListErpQueueEntriesResponse, error) {
	q, err := queueListFromProto(r, caller(ctx))
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	entries, err := s.svc.ListQueueEntries(ctx, q.QueueQuery)
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	entries, next := queueListPage(q, entries)
	now := s.svc.Now()
	resp := &orderv1.ListErpQueueEntriesResponse{NextPageToken: next}
	for _, e := range entries {
		resp.ErpQueueEntries = append(resp.ErpQueueEntries, orderpb.ErpQueueEntry(e, now))
	}
	return resp, nil
}

// GetErpQueueEntry implements orderv1.OrderServiceServer.
func (s *Server) GetErpQueueEntry(ctx context.Context, r *orderv1.GetErpQueueEntryRequest) (*orderv1.ErpQueueEntry, error) {
	id := queueEntryIDFromName(r.GetName())
	e, err := s.svc.GetQueueEntry(ctx, id)
	if err != nil {
		return nil, s.toStatus(ctx, err, id)
	}
	return orderpb.ErpQueueEntry(e, s.svc.Now()), nil
}

// RetryErpQueueEntry implements orderv1.OrderServiceServer. The audit
// record names the forwarded actor (an operator, through the ops service),
// else the order service itself.
func (s *Server) RetryErpQueueEntry(ctx context.Context, r *orderv1.RetryErpQueueEntryRequest) (*orderv1.ErpQueueEntry, error) {
	id := queueEntryIDFromName(r.GetName())
	e, err := s.queue.RetryQueueEntry(ctx, id, actor(ctx, order.ServiceActor))
	if err != nil {
		return nil, s.toStatus(ctx, err, id)
	}
	return orderpb.ErpQueueEntry(e, s.svc.Now()), nil
}
