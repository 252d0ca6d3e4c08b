package grpcapi

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/wmssim/internal/wms"
)

const (
	// wmsSystem names this backend in ERROR_REASON_WMS_UNAVAILABLE metadata.
	wmsSystem = "wmssim"
	// violationInvalidCursor is the BadRequest violation reason on
	// "cursor", next to ErrorInfo reason ERROR_REASON_INVALID_CURSOR (as
	// aip's INVALID_PAGE_TOKEN sits next to ERROR_REASON_INVALID_PAGE_TOKEN).
	violationInvalidCursor = "INVALID_CURSOR"
)

// errUnavailable is what every adapter call answers while the WMS is down.
func errUnavailable() error {
	return apierr.Error(codes.Unavailable, wmsv1.ErrorReason_ERROR_REASON_WMS_UNAVAILABLE,
		"the WMS is unavailable", map[string]string{"wms_system": wmsSystem})
}

// contextError answers a call whose context ended: the WMS timing out
// when the deadline passed, Canceled when the caller went away.
func contextError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return apierr.Error(codes.DeadlineExceeded, wmsv1.ErrorReason_ERROR_REASON_WMS_TIMEOUT,
			"the WMS did not answer in time", map[string]string{"wms_system": wmsSystem})
	}
	return apierr.Canceled()
}

// toStatus is the one place domain errors become gRPC statuses. id is the
// resource id the call was about, for error metadata.
func (s *Server) toStatus(ctx context.Context, err error, id string) error {
	var (
		shipped  *wms.AlreadyShippedError
		received *wms.ReturnAlreadyReceivedError
		cursor   *wms.InvalidCursorError
		receipt  *wms.InvalidReceiptError
	)
	switch {
	case errors.Is(err, wms.ErrShipmentRequestNotFound):
		return apierr.Error(codes.NotFound, wmsv1.ErrorReason_ERROR_REASON_SHIPMENT_REQUEST_NOT_FOUND,
			"shipment request not found", map[string]string{"shipment_request_id": id})
	case errors.Is(err, wms.ErrExpectedReturnNotFound):
		return apierr.Error(codes.NotFound, wmsv1.ErrorReason_ERROR_REASON_EXPECTED_RETURN_NOT_FOUND,
			"expected return not found", map[string]string{"return_authorization_id": id})
	case errors.Is(err, wms.ErrKeyReused):
		return apierr.Error(codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED,
			"the id was already used with a different payload", map[string]string{"id": id})
	case errors.As(err, &shipped):
		return apierr.Error(codes.FailedPrecondition, wmsv1.ErrorReason_ERROR_REASON_ALREADY_SHIPPED,
			"the shipment request has already shipped", map[string]string{
				"shipment_request_id": shipped.ID, "state": stateToProto(shipped.State).String(),
			})
	case errors.As(err, &received):
		return apierr.Error(codes.FailedPrecondition, wmsv1.ErrorReason_ERROR_REASON_RETURN_ALREADY_RECEIVED,
			"goods were already received against the expected return", map[string]string{"return_authorization_id": received.ID})
	case errors.As(err, &cursor):
		return apierr.WithViolations(
			apierr.New(codes.InvalidArgument, wmsv1.ErrorReason_ERROR_REASON_INVALID_CURSOR,
				"the cursor is not valid for this feed", map[string]string{"feed": cursor.Feed}),
			apierr.FieldViolation{Field: "cursor", Description: "not a cursor of the " + cursor.Feed + " feed", Reason: violationInvalidCursor},
		).Err()
	case errors.As(err, &receipt):
		return apierr.InvalidArgument(receipt.Error(), apierr.FieldViolation{Field: "lines", Description: receipt.Reason, Reason: "INVALID_RECEIPT"})
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return contextError(err)
	default:
		s.logger.ErrorContext(ctx, "wms call failed", slog.Any("error", err))
		return apierr.Internal()
	}
}
