package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"google.golang.org/grpc/codes"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/ops/internal/desk"
)

// toStatus is the one place domain errors become gRPC statuses; name is
// the resource the request named, if any. Unknown errors are logged and
// answered with a generic Internal.
func (s *Server) toStatus(ctx context.Context, err error, name string) error {
	var (
		fe *aip.FilterError
		pe *aip.PageTokenError
		nf *desk.NotFoundError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe):
		return invalidFilter(fe)
	case errors.As(err, &pe):
		return pe.GRPCStatus().Err()
	case errors.As(err, &nf):
		return notFound(nf.Name)
	case errors.Is(err, desk.ErrNotFound):
		return notFound(name)
	case errors.Is(err, desk.ErrAlreadyResolved):
		return apierr.Error(codes.FailedPrecondition, opsv1.ErrorReason_ERROR_REASON_EXCEPTION_ALREADY_RESOLVED,
			name+" is already resolved", map[string]string{"name": name})
	case errors.Is(err, desk.ErrIdempotencyKeyReused):
		return apierr.Error(codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED,
			"request_id was used before with a different payload", nil)
	case errors.Is(err, desk.ErrUnavailable):
		s.logger.WarnContext(ctx, "dead-letter stream unavailable", slog.Any("error", err))
		return apierr.DependencyUnavailable("nats", "the dead-letter stream cannot be reached; retry")
	case errors.Is(err, context.Canceled):
		return apierr.Canceled()
	case errors.Is(err, context.DeadlineExceeded):
		return apierr.Error(codes.DeadlineExceeded, commonv1.ErrorReason_ERROR_REASON_DEADLINE_EXCEEDED, "deadline exceeded", nil)
	default:
		return sqldb.FallbackStatus(ctx, s.logger, err)
	}
}

func notFound(name string) error {
	return apierr.Error(codes.NotFound, commonv1.ErrorReason_ERROR_REASON_NOT_FOUND, name+" not found",
		map[string]string{"name": name})
}

// invalidFilter is InvalidArgument with the ops reason
// ERROR_REASON_INVALID_FILTER (the contract's, more specific than the
// platform's VALIDATION_FAILED) and a BadRequest violation on "filter".
func invalidFilter(fe *aip.FilterError) error {
	desc := fmt.Sprintf("%s (at offset %d)", fe.Msg, fe.Pos)
	return apierr.WithViolations(
		apierr.New(codes.InvalidArgument, opsv1.ErrorReason_ERROR_REASON_INVALID_FILTER, "filter is invalid: "+desc, nil),
		apierr.FieldViolation{Field: "filter", Description: desc, Reason: aip.ViolationInvalidFilter}).Err()
}
