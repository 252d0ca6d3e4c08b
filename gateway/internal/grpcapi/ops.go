package grpcapi

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/platform/opsevents"

	"github.com/transload/transload/gateway/internal/auth"
	"github.com/transload/transload/gateway/internal/neighbours"
)

// OpsServer implements opsv1.OpsServiceServer by forwarding every call to
// the ops service, which owns the exception desk, dead letters, audit
// trail and KPIs; the gateway keeps no state of its own for them. By the
// time a call reaches it the AuthFunc has admitted an operator key with a
// role allowed to call the method and protovalidate has checked the
// request (with request_id filled from Idempotency-Key).
//
// Each call carries `x-transload-actor: operator:<key id>` (the ops service
// and the services it calls record it in the audit trail) and the
// correlation id (added by the neighbour connection, platform/grpcclient).
// The ops service's answers, errors included, pass through unchanged: they
// are Transload statuses already. A call that got no answer from it
// (unreachable, too slow, breaker open) is UNAVAILABLE naming the
// dependency "ops", as for every other neighbour.
type OpsServer struct {
	// Unsafe rather than Unimplemented: a method added to ops.v1 must
	// fail to compile here until it is forwarded, never answer
	// UNIMPLEMENTED.
	opsv1.UnsafeOpsServiceServer

	ops    opsv1.OpsServiceClient
	logger *slog.Logger
}

var _ opsv1.OpsServiceServer = (*OpsServer)(nil)

// NewOps returns an OpsServer forwarding to ops; a nil logger means
// slog.Default().
func NewOps(ops opsv1.OpsServiceClient, logger *slog.Logger) (*OpsServer, error) {
	if ops == nil {
		return nil, errors.New("grpcapi: NewOps needs an ops service client")
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &OpsServer{ops: ops, logger: logger}, nil
}

// forward calls the ops service with req on behalf of the operator in ctx.
func forward[Req, Resp any](ctx context.Context, s *OpsServer, req Req,
	call func(context.Context, Req, ...grpc.CallOption) (Resp, error)) (Resp, error) {
	var zero Resp
	p, ok := auth.FromContext(ctx)
	if !ok || !p.Operator() {
		// The AuthFunc admits only operator keys to ops.v1.
		s.logger.ErrorContext(ctx, "ops call without an operator principal")
		return zero, apierr.Unauthenticated("missing API key")
	}
	var header metadata.MD
	resp, err := call(opsevents.AppendActor(ctx, opsevents.Actor{Kind: opsevents.ActorOperator, ID: p.KeyID}), req,
		grpc.Header(&header))
	if err != nil {
		return zero, s.forwardError(ctx, err)
	}
	if v := header.Get(MetadataReplayed); len(v) > 0 {
		// Fails only when headers already went out, which nothing before
		// this point does.
		_ = grpc.SetHeader(ctx, metadata.Pairs(MetadataReplayed, v[0]))
	}
	return resp, nil
}

// forwardError passes the ops service's own answers through and maps the
// calls it did not answer like every neighbour's (dependencyError). An
// answer is a status with a Transload ErrorInfo; CIRCUIT_OPEN is never
// passed as is, since it names a dial target (ours or one inside the ops
// service), and the advice to the caller is the same either way.
func (s *OpsServer) forwardError(ctx context.Context, err error) error {
	info := apierr.Info(err)
	if ctx.Err() == nil && info != nil && info.GetDomain() == apierr.Domain &&
		grpcclient.Classify(err) != grpcclient.ClassCircuitOpen {
		return err
	}
	return dependencyError(ctx, s.logger, neighbours.Ops, err)
}

// ListExceptions implements opsv1.OpsServiceServer.
func (s *OpsServer) ListExceptions(ctx context.Context, req *opsv1.ListExceptionsRequest) (*opsv1.ListExceptionsResponse, error) {
	return forward(ctx, s, req, s.ops.ListExceptions)
}

// GetException implements opsv1.OpsServiceServer.
func (s *OpsServer) GetException(ctx context.Context, req *opsv1.GetExceptionRequest) (*opsv1.Exception, error) {
	return forward(ctx, s, req, s.ops.GetException)
}

// AcknowledgeException implements opsv1.OpsServiceServer.
func (s *OpsServer) AcknowledgeException(ctx context.Context, req *opsv1.AcknowledgeExceptionRequest) (*opsv1.Exception, error) {
	return forward(ctx, s, req, s.ops.AcknowledgeException)
}

// ResolveException implements opsv1.OpsServiceServer.
func (s *OpsServer) ResolveException(ctx context.Context, req *opsv1.ResolveExceptionRequest) (*opsv1.Exception, error) {
	return forward(ctx, s, req, s.ops.ResolveException)
}

// ListDeadLetters implements opsv1.OpsServiceServer.
func (s *OpsServer) ListDeadLetters(ctx context.Context, req *opsv1.ListDeadLettersRequest) (*opsv1.ListDeadLettersResponse, error) {
	return forward(ctx, s, req, s.ops.ListDeadLetters)
}

// GetDeadLetter implements opsv1.OpsServiceServer.
func (s *OpsServer) GetDeadLetter(ctx context.Context, req *opsv1.GetDeadLetterRequest) (*opsv1.DeadLetter, error) {
	return forward(ctx, s, req, s.ops.GetDeadLetter)
}

// ReplayDeadLetters implements opsv1.OpsServiceServer.
func (s *OpsServer) ReplayDeadLetters(ctx context.Context, req *opsv1.ReplayDeadLettersRequest) (*opsv1.ReplayDeadLettersResponse, error) {
	return forward(ctx, s, req, s.ops.ReplayDeadLetters)
}

// TriggerReconciliation implements opsv1.OpsServiceServer.
func (s *OpsServer) TriggerReconciliation(ctx context.Context, req *opsv1.TriggerReconciliationRequest) (*opsv1.Reconciliation, error) {
	return forward(ctx, s, req, s.ops.TriggerReconciliation)
}

// GetReconciliation implements opsv1.OpsServiceServer.
func (s *OpsServer) GetReconciliation(ctx context.Context, req *opsv1.GetReconciliationRequest) (*opsv1.Reconciliation, error) {
	return forward(ctx, s, req, s.ops.GetReconciliation)
}

// ListReconciliations implements opsv1.OpsServiceServer.
func (s *OpsServer) ListReconciliations(ctx context.Context, req *opsv1.ListReconciliationsRequest) (*opsv1.ListReconciliationsResponse, error) {
	return forward(ctx, s, req, s.ops.ListReconciliations)
}

// GetKpis implements opsv1.OpsServiceServer.
func (s *OpsServer) GetKpis(ctx context.Context, req *opsv1.GetKpisRequest) (*opsv1.Kpis, error) {
	return forward(ctx, s, req, s.ops.GetKpis)
}

// ListAuditRecords implements opsv1.OpsServiceServer.
func (s *OpsServer) ListAuditRecords(ctx context.Context, req *opsv1.ListAuditRecordsRequest) (*opsv1.ListAuditRecordsResponse, error) {
	return forward(ctx, s, req, s.ops.ListAuditRecords)
}

// GetAuditRecord implements opsv1.OpsServiceServer.
func (s *OpsServer) GetAuditRecord(ctx context.Context, req *opsv1.GetAuditRecordRequest) (*opsv1.AuditRecord, error) {
	return forward(ctx, s, req, s.ops.GetAuditRecord)
}

// GetErpQueueStatus implements opsv1.OpsServiceServer.
func (s *OpsServer) GetErpQueueStatus(ctx context.Context, req *opsv1.GetErpQueueStatusRequest) (*opsv1.ErpQueueStatus, error) {
	return forward(ctx, s, req, s.ops.GetErpQueueStatus)
}

// ListErpSubmissions implements opsv1.OpsServiceServer.
func (s *OpsServer) ListErpSubmissions(ctx context.Context, req *opsv1.ListErpSubmissionsRequest) (*opsv1.ListErpSubmissionsResponse, error) {
	return forward(ctx, s, req, s.ops.ListErpSubmissions)
}

// GetErpSubmission implements opsv1.OpsServiceServer.
func (s *OpsServer) GetErpSubmission(ctx context.Context, req *opsv1.GetErpSubmissionRequest) (*opsv1.ErpSubmission, error) {
	return forward(ctx, s, req, s.ops.GetErpSubmission)
}

// RetryErpSubmission implements opsv1.OpsServiceServer.
func (s *OpsServer) RetryErpSubmission(ctx context.Context, req *opsv1.RetryErpSubmissionRequest) (*opsv1.ErpSubmission, error) {
	return forward(ctx, s, req, s.ops.RetryErpSubmission)
}

// ApproveReturnAuthorization implements opsv1.OpsServiceServer.
func (s *OpsServer) ApproveReturnAuthorization(ctx context.Context, req *opsv1.ApproveReturnAuthorizationRequest) (*opsv1.ReturnAuthorization, error) {
	return forward(ctx, s, req, s.ops.ApproveReturnAuthorization)
}

// RejectReturnAuthorization implements opsv1.OpsServiceServer.
func (s *OpsServer) RejectReturnAuthorization(ctx context.Context, req *opsv1.RejectReturnAuthorizationRequest) (*opsv1.ReturnAuthorization, error) {
	return forward(ctx, s, req, s.ops.RejectReturnAuthorization)
}

// CancelReturnAuthorization implements opsv1.OpsServiceServer.
func (s *OpsServer) CancelReturnAuthorization(ctx context.Context, req *opsv1.CancelReturnAuthorizationRequest) (*opsv1.ReturnAuthorization, error) {
	return forward(ctx, s, req, s.ops.CancelReturnAuthorization)
}
