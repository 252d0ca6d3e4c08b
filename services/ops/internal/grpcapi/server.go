// Package grpcapi implements transload.ops.v1 OpsService: the exception
// desk, dead letters and their replay, and the audit index over the desk;
// reconciliations, the ERP queue and KPIs through an Upstream whose data
// other services own. Request shapes are validated by the platform's
// protovalidate interceptor; domain errors become statuses in errors.go.
package grpcapi

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/correlation"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/services/ops/internal/desk"
)

// Upstream serves the ops methods whose data other services own; errors are gRPC statuses.
type Upstream interface {
	TriggerReconciliation(context.Context, *opsv1.TriggerReconciliationRequest) (*opsv1.Reconciliation, error)
	GetReconciliation(context.Context, *opsv1.GetReconciliationRequest) (*opsv1.Reconciliation, error)
	ListReconciliations(context.Context, *opsv1.ListReconciliationsRequest) (*opsv1.ListReconciliationsResponse, error)
	GetErpQueueStatus(context.Context, *opsv1.GetErpQueueStatusRequest) (*opsv1.ErpQueueStatus, error)
	ListErpSubmissions(context.Context, *opsv1.ListErpSubmissionsRequest) (*opsv1.ListErpSubmissionsResponse, error)
	GetErpSubmission(context.Context, *opsv1.GetErpSubmissionRequest) (*opsv1.ErpSubmission, error)
	RetryErpSubmission(context.Context, *opsv1.RetryErpSubmissionRequest) (*opsv1.ErpSubmission, error)
	ApproveReturnAuthorization(context.Context, *opsv1.ApproveReturnAuthorizationRequest) (*opsv1.ReturnAuthorization, error)
	RejectReturnAuthorization(context.Context, *opsv1.RejectReturnAuthorizationRequest) (*opsv1.ReturnAuthorization, error)
	CancelReturnAuthorization(context.Context, *opsv1.CancelReturnAuthorizationRequest) (*opsv1.ReturnAuthorization, error)
	GetKpis(context.Context, *opsv1.GetKpisRequest) (*opsv1.Kpis, error)
}

// unknownActor acts when a request names nobody (the gateway always
// names the operator; only a direct internal call lacks the header).
var unknownActor = opsevents.Actor{Kind: opsevents.ActorSystem, ID: "unknown"}

// Server implements opsv1.OpsServiceServer.
type Server struct {
	opsv1.UnimplementedOpsServiceServer
	desk     *desk.Desk
	store    desk.Store
	upstream Upstream
	logger   *slog.Logger
}

var _ opsv1.OpsServiceServer = (*Server)(nil)

// NewServer returns the API over the desk d and its store; upstream
// serves the reconciliation, ERP queue and KPI methods.
func NewServer(d *desk.Desk, store desk.Store, upstream Upstream, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	return &Server{desk: d, store: store, upstream: upstream, logger: logger}
}

// actor is who calls, from the actor header the gateway sets.
func actor(ctx context.Context) desk.Actor {
	return opsevents.ActorFromIncoming(ctx, unknownActor)
}

// pageSize is the number of items on a page.
func pageSize(requested int32) int {
	return int(aip.ClampPageSize(requested, aip.DefaultPageSize, aip.MaxPageSize))
}

// ListExceptions lists exceptions, newest first by default.
func (s *Server) ListExceptions(ctx context.Context, req *opsv1.ListExceptionsRequest) (*opsv1.ListExceptionsResponse, error) {
	f, err := exceptionSchema.Parse(req.GetFilter())
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	order := exceptionOrder(req.GetOrderBy())
	size := pageSize(req.GetPageSize())
	q := aip.Query{Method: opsv1.OpsService_ListExceptions_FullMethodName, Filter: req.GetFilter(), OrderBy: req.GetOrderBy()}
	dq := desk.ExceptionQuery{Conds: conds(f), Order: order, Limit: size + 1}
	if order == desk.BySeverityDesc {
		err = aip.DecodePageToken(req.GetPageToken(), q, &dq.AfterSeverity, &dq.AfterTime, &dq.AfterID)
	} else {
		err = aip.DecodePageToken(req.GetPageToken(), q, &dq.AfterTime, &dq.AfterID)
	}
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	es, err := s.store.ListExceptions(ctx, dq)
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	es, next := aip.KeysetPage(es, size, q, exceptionKey(order))
	out := &opsv1.ListExceptionsResponse{NextPageToken: next}
	for _, e := range es {
		out.Exceptions = append(out.Exceptions, exceptionToProto(e, false))
	}
	return out, nil
}

// GetException returns one exception with its history.
func (s *Server) GetException(ctx context.Context, req *opsv1.GetExceptionRequest) (*opsv1.Exception, error) {
	e, err := s.store.GetException(ctx, idOf(req.GetName(), "exceptions"))
	if err != nil {
		return nil, s.toStatus(ctx, err, req.GetName())
	}
	return exceptionToProto(e, true), nil
}

// AcknowledgeException marks an exception as taken by the calling
// operator.
func (s *Server) AcknowledgeException(ctx context.Context, req *opsv1.AcknowledgeExceptionRequest) (*opsv1.Exception, error) {
	e, err := s.desk.Acknowledge(ctx, desk.ActParams{
		ID: idOf(req.GetName(), "exceptions"), RequestID: req.GetRequestId(), Actor: actor(ctx), CorrelationID: correlation.ID(ctx),
	})
	if err != nil {
		return nil, s.toStatus(ctx, err, req.GetName())
	}
	return exceptionToProto(e, false), nil
}

// ResolveException closes an exception with a note.
func (s *Server) ResolveException(ctx context.Context, req *opsv1.ResolveExceptionRequest) (*opsv1.Exception, error) {
	e, err := s.desk.Resolve(ctx, desk.ActParams{
		ID: idOf(req.GetName(), "exceptions"), RequestID: req.GetRequestId(), Note: req.GetNote(),
		Actor: actor(ctx), CorrelationID: correlation.ID(ctx),
	})
	if err != nil {
		return nil, s.toStatus(ctx, err, req.GetName())
	}
	return exceptionToProto(e, false), nil
}

// ListDeadLetters lists dead letters, newest first, without payloads.
func (s *Server) ListDeadLetters(ctx context.Context, req *opsv1.ListDeadLettersRequest) (*opsv1.ListDeadLettersResponse, error) {
	f, err := deadLetterSchema.Parse(req.GetFilter())
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	size := pageSize(req.GetPageSize())
	q := aip.Query{Method: opsv1.OpsService_ListDeadLetters_FullMethodName, Filter: req.GetFilter()}
	dq := desk.DeadLetterQuery{Conds: conds(f), Limit: size + 1}
	var afterSeq int64
	if err := aip.DecodePageToken(req.GetPageToken(), q, &dq.AfterTime, &afterSeq); err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	dq.AfterSeq = uint64(max(afterSeq, 0))
	dls, err := s.store.ListDeadLetters(ctx, dq)
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	dls, next := aip.KeysetPage(dls, size, q, deadLetterKey)
	out := &opsv1.ListDeadLettersResponse{NextPageToken: next}
	for _, d := range dls {
		out.DeadLetters = append(out.DeadLetters, deadLetterToProto(d))
	}
	return out, nil
}

// GetDeadLetter returns one dead letter with its payload as JSON.
func (s *Server) GetDeadLetter(ctx context.Context, req *opsv1.GetDeadLetterRequest) (*opsv1.DeadLetter, error) {
	seq, ok := desk.ParseDeadLetterName(req.GetName())
	if !ok {
		return nil, s.toStatus(ctx, desk.ErrNotFound, req.GetName())
	}
	d, err := s.store.GetDeadLetter(ctx, seq)
	if err != nil {
		return nil, s.toStatus(ctx, err, req.GetName())
	}
	return deadLetterToProto(d), nil
}

// ReplayDeadLetters re-delivers dead letters (or, dry, says which it
// would).
func (s *Server) ReplayDeadLetters(ctx context.Context, req *opsv1.ReplayDeadLettersRequest) (*opsv1.ReplayDeadLettersResponse, error) {
	p := desk.ReplayParams{
		RequestID: req.GetRequestId(), Names: req.GetNames(), FilterText: req.GetFilter(), DryRun: req.GetDryRun(),
		Max: int(req.GetMaxDeadLetters()), Actor: actor(ctx), CorrelationID: correlation.ID(ctx),
	}
	if len(p.Names) == 0 {
		f, err := deadLetterSchema.Parse(req.GetFilter())
		if err != nil {
			return nil, s.toStatus(ctx, err, "")
		}
		p.Filter = conds(f)
	}
	rep, err := s.desk.Replay(ctx, p)
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	return replayToProto(rep), nil
}

// ListAuditRecords lists audit records, newest first.
func (s *Server) ListAuditRecords(ctx context.Context, req *opsv1.ListAuditRecordsRequest) (*opsv1.ListAuditRecordsResponse, error) {
	f, err := auditSchema.Parse(req.GetFilter())
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	size := pageSize(req.GetPageSize())
	q := aip.Query{Method: opsv1.OpsService_ListAuditRecords_FullMethodName, Filter: req.GetFilter()}
	aq := desk.AuditQuery{Conds: conds(f), Limit: size + 1}
	if err := aip.DecodePageToken(req.GetPageToken(), q, &aq.AfterTime, &aq.AfterID); err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	rs, err := s.store.ListAuditRecords(ctx, aq)
	if err != nil {
		return nil, s.toStatus(ctx, err, "")
	}
	rs, next := aip.KeysetPage(rs, size, q, auditKey)
	out := &opsv1.ListAuditRecordsResponse{NextPageToken: next}
	for _, r := range rs {
		out.AuditRecords = append(out.AuditRecords, auditToProto(r))
	}
	return out, nil
}

// GetAuditRecord returns one audit record.
func (s *Server) GetAuditRecord(ctx context.Context, req *opsv1.GetAuditRecordRequest) (*opsv1.AuditRecord, error) {
	r, err := s.store.GetAuditRecord(ctx, idOf(req.GetName(), "auditRecords"))
	if err != nil {
		return nil, s.toStatus(ctx, err, req.GetName())
	}
	return auditToProto(r), nil
}

// TriggerReconciliation starts a reconciliation in the inventory service
// and notes the run in the history of the unresolved stock exceptions
// (variances, sequence gaps) in its scope, so the desk shows what an
// operator did about them. The run stands even if the note cannot be
// written; that is logged.
func (s *Server) TriggerReconciliation(ctx context.Context, req *opsv1.TriggerReconciliationRequest) (*opsv1.Reconciliation, error) {
	run, err := s.upstream.TriggerReconciliation(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := s.noteReconciliation(ctx, req, run); err != nil {
		s.logger.WarnContext(ctx, "ops: noting the reconciliation on the desk failed", slog.String("reconciliation", run.GetName()), slog.Any("error", err))
	}
	return run, nil
}

// maxNotedExceptions bounds the stock exceptions one reconciliation notes.
const maxNotedExceptions = 1000

func (s *Server) noteReconciliation(ctx context.Context, req *opsv1.TriggerReconciliationRequest, run *opsv1.Reconciliation) error {
	h := desk.HistoryEntry{
		Action: desk.HistoryReconciliation, Actor: actor(ctx),
		Outcome:   "started " + run.GetName(),
		DedupeKey: "reconciliation.trigger:" + actor(ctx).String() + ":" + req.GetRequestId(),
	}
	noted := map[string]bool{}
	for _, kind := range []desk.Kind{desk.KindInventoryVariance, desk.KindStockSequenceGap} {
		es, err := s.store.ListExceptions(ctx, desk.ExceptionQuery{Conds: []desk.Cond{
			{Field: "kind", Op: desk.OpEq, Value: int32(kind)},
			{Field: "state", Op: desk.OpNe, Value: int32(desk.StateResolved)},
		}, Limit: maxNotedExceptions})
		if err != nil {
			return err
		}
		for _, e := range es {
			if noted[e.Resource] || !inReconciliationScope(e.Resource, req.GetWarehouses(), req.GetSkus()) {
				continue
			}
			noted[e.Resource] = true
			if err := s.desk.RecordAction(ctx, e.Resource, h); err != nil {
				return err
			}
		}
	}
	return nil
}

// inReconciliationScope reports whether a stock level resource,
// "stockLevels/{SKU}@{WAREHOUSE}", is in a run's scope (empty lists mean
// all).
func inReconciliationScope(resource string, warehouses, skus []string) bool {
	sku, warehouse, ok := strings.Cut(strings.TrimPrefix(resource, "stockLevels/"), "@")
	if !ok {
		return false
	}
	return (len(warehouses) == 0 || slices.Contains(warehouses, warehouse)) && (len(skus) == 0 || slices.Contains(skus, sku))
}

// GetReconciliation returns a reconciliation run.
func (s *Server) GetReconciliation(ctx context.Context, req *opsv1.GetReconciliationRequest) (*opsv1.Reconciliation, error) {
	return s.upstream.GetReconciliation(ctx, req)
}

// ListReconciliations lists reconciliation runs.
func (s *Server) ListReconciliations(ctx context.Context, req *opsv1.ListReconciliationsRequest) (*opsv1.ListReconciliationsResponse, error) {
	return s.upstream.ListReconciliations(ctx, req)
}

// GetErpQueueStatus returns the state of the ERP submission queue.
func (s *Server) GetErpQueueStatus(ctx context.Context, req *opsv1.GetErpQueueStatusRequest) (*opsv1.ErpQueueStatus, error) {
	return s.upstream.GetErpQueueStatus(ctx, req)
}

// ListErpSubmissions lists the ERP submission queue.
func (s *Server) ListErpSubmissions(ctx context.Context, req *opsv1.ListErpSubmissionsRequest) (*opsv1.ListErpSubmissionsResponse, error) {
	return s.upstream.ListErpSubmissions(ctx, req)
}

// GetErpSubmission returns one queued ERP submission.
func (s *Server) GetErpSubmission(ctx context.Context, req *opsv1.GetErpSubmissionRequest) (*opsv1.ErpSubmission, error) {
	return s.upstream.GetErpSubmission(ctx, req)
}

// RetryErpSubmission makes a queued submission due now (in the order
// service) and notes it in the history of the order's unresolved
// exceptions. The retry stands even if the note cannot be written; that
// is logged.
func (s *Server) RetryErpSubmission(ctx context.Context, req *opsv1.RetryErpSubmissionRequest) (*opsv1.ErpSubmission, error) {
	sub, err := s.upstream.RetryErpSubmission(ctx, req)
	if err != nil {
		return nil, err
	}
	resource := "orders/" + idOf(req.GetName(), "erpSubmissions")
	err = s.desk.RecordAction(ctx, resource, desk.HistoryEntry{
		Action: desk.HistoryERPRetry, Actor: actor(ctx),
		Outcome:   fmt.Sprintf("due now (%d attempts so far)", sub.GetAttemptCount()),
		DedupeKey: "erp_submission.retry:" + actor(ctx).String() + ":" + req.GetRequestId(),
	})
	if err != nil {
		s.logger.WarnContext(ctx, "ops: noting the ERP retry on the desk failed", slog.String("resource", resource), slog.Any("error", err))
	}
	return sub, nil
}

// ApproveReturnAuthorization authorizes a return in the order service,
// which audits it under the operator the gateway named.
func (s *Server) ApproveReturnAuthorization(ctx context.Context, req *opsv1.ApproveReturnAuthorizationRequest) (*opsv1.ReturnAuthorization, error) {
	return s.upstream.ApproveReturnAuthorization(ctx, req)
}

// RejectReturnAuthorization rejects a return in the order service, which
// audits it under the operator.
func (s *Server) RejectReturnAuthorization(ctx context.Context, req *opsv1.RejectReturnAuthorizationRequest) (*opsv1.ReturnAuthorization, error) {
	return s.upstream.RejectReturnAuthorization(ctx, req)
}

// CancelReturnAuthorization closes an authorized return in the order
// service, which audits it under the operator.
func (s *Server) CancelReturnAuthorization(ctx context.Context, req *opsv1.CancelReturnAuthorizationRequest) (*opsv1.ReturnAuthorization, error) {
	return s.upstream.CancelReturnAuthorization(ctx, req)
}

// GetKpis computes the KPIs.
func (s *Server) GetKpis(ctx context.Context, req *opsv1.GetKpisRequest) (*opsv1.Kpis, error) {
	return s.upstream.GetKpis(ctx, req)
}
