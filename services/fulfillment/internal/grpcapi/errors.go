package grpcapi

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/fulfillmentpb"
)

// toStatus is the one place domain errors become gRPC statuses. Unknown
// errors are logged and answered with a generic Internal.
func (s *Server) toStatus(ctx context.Context, err error, id string) error {
	var (
		fe  *aip.FilterError
		pe  *aip.PageTokenError
		rj  *fulfillment.RejectionError
		dep *fulfillment.DependencyError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe):
		return fe.GRPCStatus().Err()
	case errors.As(err, &pe):
		return pe.GRPCStatus().Err()
	case errors.Is(err, fulfillment.ErrIdempotencyKeyReused):
		return apierr.Error(codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED,
			"request_id was used before with a different payload", nil)
	case errors.As(err, &rj):
		return apierr.Error(codes.FailedPrecondition, fulfillmentpb.RejectReasonToProto(rj.Reason), rj.Message, rj.Metadata)
	case errors.As(err, &dep) && !dep.Rejected:
		s.logger.WarnContext(ctx, "dependency unavailable", slog.Any("error", err))
		return apierr.DependencyUnavailable(dep.Dependency, dep.Dependency+" cannot be reached; retry with the same request_id")
	case errors.Is(err, fulfillment.ErrRequestNotFound):
		return apierr.Error(codes.NotFound, fulfillmentv1.ErrorReason_ERROR_REASON_FULFILLMENT_REQUEST_NOT_FOUND,
			"fulfillment request not found", map[string]string{"fulfillment_request_id": id})
	case errors.Is(err, fulfillment.ErrShipmentNotFound):
		return apierr.Error(codes.NotFound, fulfillmentv1.ErrorReason_ERROR_REASON_SHIPMENT_NOT_FOUND,
			"shipment not found", map[string]string{"shipment_id": id})
	case errors.Is(err, fulfillment.ErrReturnReceiptNotFound):
		return apierr.Error(codes.NotFound, fulfillmentv1.ErrorReason_ERROR_REASON_RETURN_RECEIPT_NOT_FOUND,
			"return receipt not found", map[string]string{"return_receipt_id": id})
	case errors.Is(err, fulfillment.ErrConflict):
		return apierr.Error(codes.Aborted, commonv1.ErrorReason_ERROR_REASON_CONCURRENT_MODIFICATION,
			"the resource changed concurrently; retry", nil)
	case errors.Is(err, context.Canceled):
		return apierr.Canceled()
	case errors.Is(err, context.DeadlineExceeded):
		return apierr.Error(codes.DeadlineExceeded, commonv1.ErrorReason_ERROR_REASON_DEADLINE_EXCEEDED, "deadline exceeded", nil)
	default:
		return sqldb.FallbackStatus(ctx, s.logger, err)
	}
}

// unimplemented answers RPCs this version does not serve yet.
func unimplemented(method string) error {
	return status.Error(codes.Unimplemented, method+" is not implemented yet")
}
