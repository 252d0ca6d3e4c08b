package grpcapi

import (
	"context"
	"errors"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/order/internal/order"
	"github.com/transload/transload/services/order/internal/orderpb"
)

// The financial posting RPCs (order.v1 CreatePostingBatch,
// SubmitPostingBatch, GetPostingBatch, ListPostingBatches,
// RetryPostingLines) over an order.Poster; UNIMPLEMENTED until WithPoster
// gives the server one.

// WithPoster makes s serve the posting RPCs with p and returns s.
func (s *Server) WithPoster(p *order.Poster) *Server {
	s.poster = p
	return s
}

var errNoPoster = apierr.Error(codes.Unimplemented, orderv1.ErrorReason_ERROR_REASON_UNSPECIFIED, "financial posting is not configured", nil)

// postingStatus converts a posting error to its status; other errors go
// through toStatus.
func (s *Server) postingStatus(ctx context.Context, err error, batchID string) error {
	var nr *order.PostingLineNotRetryableError
	switch {
	case errors.Is(err, order.ErrPostingBatchNotFound):
		return apierr.Error(codes.NotFound, orderv1.ErrorReason_ERROR_REASON_POSTING_BATCH_NOT_FOUND, "posting batch not found",
			map[string]string{"posting_batch": orderpb.PostingBatchName(batchID)})
	case errors.Is(err, order.ErrNothingToPost):
		return apierr.Error(codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_NOTHING_TO_POST, "no pending lines to post", nil)
	case errors.As(err, &nr):
		return apierr.Error(codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_POSTING_LINE_NOT_RETRYABLE, nr.Error(),
			map[string]string{"line_id": nr.LineID, "state": "STATE_" + nr.State.String()})
	}
	return s.toStatus(ctx, err, "")
}

// CreatePostingBatch implements orderv1.OrderServiceServer; the new batch
// is in the audit trail with the calling operator (posting_batch.create).
func (s *Server) CreatePostingBatch(ctx context.Context, r *orderv1.CreatePostingBatchRequest) (*orderv1.PostingBatch, error) {
	if s.poster == nil {
		return nil, errNoPoster
	}
	pb := r.GetPostingBatch()
	kind := orderpb.PostingKindFromProto(pb.GetKind())
	var cutoff time.Time // zero: now
	if pb.GetCutoffTime() != nil {
		cutoff = pb.GetCutoffTime().AsTime()
	}
	b, err := s.poster.CreateBatchAs(ctx, actor(ctx, order.Actor{Kind: "operator"}), r.GetRequestId(), kind, pb.GetCurrencyCode(), cutoff)
	if err != nil {
		if errors.Is(err, order.ErrNothingToPost) {
			return nil, apierr.Error(codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_NOTHING_TO_POST,
				"no pending "+string(kind)+" lines in "+pb.GetCurrencyCode()+" to post",
				map[string]string{"kind": pb.GetKind().String(), "currency_code": pb.GetCurrencyCode()})
		}
		return nil, s.postingStatus(ctx, err, "")
	}
	return orderpb.PostingBatch(b), nil
}

// SubmitPostingBatch implements orderv1.OrderServiceServer. A batch the ERP
// could not take is stored SUBMIT_FAILED and the call fails UNAVAILABLE.
// The submission is in the audit trail with the calling operator
// (posting_batch.submit).
func (s *Server) SubmitPostingBatch(ctx context.Context, r *orderv1.SubmitPostingBatchRequest) (*orderv1.PostingBatch, error) {
	if s.poster == nil {
		return nil, errNoPoster
	}
	id := orderpb.PostingBatchID(r.GetName())
	b, err := s.poster.SubmitAs(ctx, actor(ctx, order.Actor{Kind: "operator"}), id)
	if err != nil {
		return nil, s.postingStatus(ctx, err, id)
	}
	return orderpb.PostingBatch(b), nil
}

// GetPostingBatch implements orderv1.OrderServiceServer.
func (s *Server) GetPostingBatch(ctx context.Context, r *orderv1.GetPostingBatchRequest) (*orderv1.PostingBatch, error) {
	if s.poster == nil {
		return nil, errNoPoster
	}
	id := orderpb.PostingBatchID(r.GetName())
	b, err := s.poster.Get(ctx, id)
	if err != nil {
		return nil, s.postingStatus(ctx, err, id)
	}
	return orderpb.PostingBatch(b), nil
}

// RetryPostingLines implements orderv1.OrderServiceServer; the operator's
// note is recorded in the audit trail (posting_batch.retry_lines).
func (s *Server) RetryPostingLines(ctx context.Context, r *orderv1.RetryPostingLinesRequest) (*orderv1.PostingBatch, error) {
	if s.poster == nil {
		return nil, errNoPoster
	}
	id := orderpb.PostingBatchID(r.GetName())
	b, err := s.poster.RetryLines(ctx, id, r.GetRequestId(), r.GetLineIds(), actor(ctx, order.Actor{Kind: "operator"}), r.GetNote())
	if err != nil {
		return nil, s.postingStatus(ctx, err, id)
	}
	return orderpb.PostingBatch(b), nil
}

// postingFilter declares the fields ListPostingBatches filters on.
var postingFilter = aip.Schema{
	{Name: "kind", Kind: aip.KindEnum, Enum: orderv1.PostingBatch_Kind_value, EnumPrefix: "KIND_"},
	{Name: "state", Kind: aip.KindEnum, Enum: orderv1.PostingBatch_State_value, EnumPrefix: "STATE_"},
	{Name: "currency_code"},
	{Name: "create_time", Kind: aip.KindTime, Ops: []aip.Op{aip.OpGe, aip.OpLt}},
}

// ListPostingBatches implements orderv1.OrderServiceServer: newest first
// by default, keyset pages bound to the filter, ordering and caller.
func (s *Server) ListPostingBatches(ctx context.Context, r *orderv1.ListPostingBatchesRequest) (*orderv1.ListPostingBatchesResponse, error) {
	if s.poster == nil {
		return nil, errNoPoster
	}
	f, err := postingFilter.Parse(r.GetFilter())
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	var q order.PostingQuery
	if v, ok := f.Find("kind", aip.OpEq); ok {
		q.Kind = orderpb.PostingKindFromProto(orderv1.PostingBatch_Kind(v.Enum))
	}
	if v, ok := f.Find("state", aip.OpEq); ok {
		q.State = order.PostingBatchState(v.Enum)
	}
	if v, ok := f.Find("currency_code", aip.OpEq); ok {
		q.Currency = v.Text
	}
	if v, ok := f.Find("create_time", aip.OpGe); ok {
		q.CreatedFrom = v.Time
	}
	if v, ok := f.Find("create_time", aip.OpLt); ok {
		q.CreatedBefore = v.Time
	}
	orderBy := "create_time desc"
	if ob := strings.Join(strings.Fields(r.GetOrderBy()), " "); ob == "create_time" || ob == "create_time asc" {
		orderBy, q.Ascending = "create_time", true
	}
	page := aip.Query{Method: orderv1.OrderService_ListPostingBatches_FullMethodName, Caller: caller(ctx), Filter: f.String(), OrderBy: orderBy}
	size, limit, err := pageWindow(r.GetPageToken(), r.GetPageSize(), page, &q.AfterTime, &q.AfterID)
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	q.Limit = limit
	batches, err := s.poster.List(ctx, q)
	if err != nil {
		return nil, s.postingStatus(ctx, err, "")
	}
	batches, next := aip.KeysetPage(batches, size, page, func(b order.PostingBatch) []aip.Key {
		return []aip.Key{aip.KeyOf(b.CreatedAt), aip.KeyOf(b.ID)}
	})
	resp := &orderv1.ListPostingBatchesResponse{NextPageToken: next}
	for _, b := range batches {
		resp.PostingBatches = append(resp.PostingBatches, orderpb.PostingBatch(b))
	}
	return resp, nil
}
