package grpcapi

import (
	"context"
	"errors"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/inventory/internal/inventory"
)

// Metadata keys of ErrorInfo (see transload/inventory/v1/errors.proto).
const (
	metaSKU            = "sku"
	metaWarehouseCode  = "warehouse_code"
	metaReservation    = "reservation"
	metaRequested      = "requested"
	metaAvailable      = "available"
	metaOpen           = "open"
	metaReconciliation = "reconciliation"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// toStatus is the one place domain errors become gRPC statuses. hint
// supplies ErrorInfo metadata for sentinel errors that do not carry their
// subject (e.g. the warehouse code of a not-found warehouse); it may be
// nil. Unexpected errors are logged and answered with a generic Internal.
func (s *Server) toStatus(ctx context.Context, err error, hint map[string]string) error {
	var (
		insufficient *inventory.InsufficientStockError
		unknownSKU   *inventory.UnknownSKUError
		noWarehouse  *inventory.NoWarehouseForChannelError
		exists       *inventory.ReservationExistsForReferenceError
		conflict     *inventory.StateConflictError
		expired      *inventory.ReservationExpiredError
		overCommit   *inventory.CommitExceedsAllocationError
		overRelease  *inventory.ReleaseExceedsOpenError
		ttl          *inventory.HoldTTLTooLongError
		unknownField *inventory.UnknownFieldError
		inProgress   *inventory.ReconciliationInProgressError
		badFilter    *aip.FilterError
		badToken     *aip.PageTokenError
	)
	pick := func(keys ...string) map[string]string {
		m := map[string]string{}
		for _, k := range keys {
			if v, ok := hint[k]; ok {
				m[k] = v
			}
		}
		return m
	}
	switch {
	case errors.As(err, &insufficient):
		return apierr.Error(codes.FailedPrecondition, inventoryv1.ErrorReason_ERROR_REASON_INSUFFICIENT_STOCK,
			insufficient.Error(), map[string]string{
				metaSKU: insufficient.SKU, metaRequested: itoa(insufficient.Requested), metaAvailable: itoa(insufficient.Available),
			})
	case errors.As(err, &unknownSKU):
		return apierr.Error(codes.FailedPrecondition, inventoryv1.ErrorReason_ERROR_REASON_UNKNOWN_SKU,
			unknownSKU.Error(), map[string]string{metaSKU: unknownSKU.SKU})
	case errors.As(err, &noWarehouse):
		return apierr.Error(codes.FailedPrecondition, inventoryv1.ErrorReason_ERROR_REASON_NO_WAREHOUSE_FOR_CHANNEL,
			noWarehouse.Error(), map[string]string{"channel": noWarehouse.Channel})
	case errors.As(err, &exists):
		return apierr.Error(codes.AlreadyExists, inventoryv1.ErrorReason_ERROR_REASON_RESERVATION_EXISTS_FOR_REFERENCE,
			exists.Error(), map[string]string{"reference_id": exists.ReferenceID, metaReservation: exists.Reservation})
	case errors.As(err, &conflict):
		return apierr.Error(codes.FailedPrecondition, inventoryv1.ErrorReason_ERROR_REASON_RESERVATION_STATE_CONFLICT,
			conflict.Error(), map[string]string{
				metaReservation: conflict.Reservation, "state": conflict.State.String(), "operation": conflict.Operation,
			})
	case errors.As(err, &expired):
		return apierr.Error(codes.FailedPrecondition, inventoryv1.ErrorReason_ERROR_REASON_RESERVATION_EXPIRED,
			expired.Error(), map[string]string{
				metaReservation: expired.Reservation, "expire_time": expired.ExpireTime.UTC().Format(time.RFC3339),
			})
	case errors.As(err, &overCommit):
		return apierr.Error(codes.FailedPrecondition, inventoryv1.ErrorReason_ERROR_REASON_COMMIT_EXCEEDS_ALLOCATION,
			overCommit.Error(), map[string]string{
				metaReservation: overCommit.Reservation, metaSKU: overCommit.SKU, metaWarehouseCode: overCommit.WarehouseCode,
				metaRequested: itoa(overCommit.Requested), metaOpen: itoa(overCommit.Open),
			})
	case errors.As(err, &overRelease):
		return apierr.Error(codes.FailedPrecondition, inventoryv1.ErrorReason_ERROR_REASON_RELEASE_EXCEEDS_OPEN_QUANTITY,
			overRelease.Error(), map[string]string{
				metaReservation: overRelease.Reservation, metaSKU: overRelease.SKU,
				metaRequested: itoa(overRelease.Requested), metaOpen: itoa(overRelease.Open),
			})
	case errors.As(err, &ttl):
		return apierr.Error(codes.InvalidArgument, inventoryv1.ErrorReason_ERROR_REASON_HOLD_TTL_TOO_LONG,
			ttl.Error(), map[string]string{"max_ttl": strconv.FormatInt(int64(ttl.Max/time.Second), 10) + "s"})
	case errors.As(err, &unknownField):
		return apierr.InvalidArgument("update_mask names a field that cannot be updated",
			apierr.FieldViolation{Field: "update_mask", Description: unknownField.Error(), Reason: "FIELD_NOT_UPDATABLE"})
	case errors.Is(err, inventory.ErrConcurrentModification):
		return apierr.Error(codes.Aborted, commonv1.ErrorReason_ERROR_REASON_CONCURRENT_MODIFICATION,
			"the resource changed since it was read (etag mismatch); re-read and retry", pick(metaWarehouseCode))
	case errors.As(err, &inProgress):
		return apierr.Error(codes.FailedPrecondition, inventoryv1.ErrorReason_ERROR_REASON_RECONCILIATION_IN_PROGRESS,
			inProgress.Error(), map[string]string{metaReconciliation: inProgress.Reconciliation})
	case errors.Is(err, inventory.ErrReconciliationNotFound):
		return apierr.Error(codes.NotFound, inventoryv1.ErrorReason_ERROR_REASON_RECONCILIATION_NOT_FOUND,
			"reconciliation not found", pick(metaReconciliation))
	case errors.Is(err, inventory.ErrVarianceNotFound):
		return apierr.Error(codes.NotFound, inventoryv1.ErrorReason_ERROR_REASON_RECONCILIATION_VARIANCE_NOT_FOUND,
			"reconciliation variance not found", pick(metaReconciliation, metaSKU, metaWarehouseCode))
	case errors.Is(err, inventory.ErrSnapshotUnavailable):
		return apierr.Error(codes.Unavailable, inventoryv1.ErrorReason_ERROR_REASON_SNAPSHOT_UNAVAILABLE,
			"the snapshot source cannot be read", pick("snapshot_source"))
	case errors.Is(err, inventory.ErrInvalidArgument):
		return apierr.InvalidArgument(err.Error())
	case errors.Is(err, inventory.ErrWarehouseNotFound):
		return apierr.Error(codes.NotFound, inventoryv1.ErrorReason_ERROR_REASON_WAREHOUSE_NOT_FOUND,
			"warehouse not found", pick(metaWarehouseCode))
	case errors.Is(err, inventory.ErrStockLevelNotFound):
		return apierr.Error(codes.NotFound, inventoryv1.ErrorReason_ERROR_REASON_STOCK_LEVEL_NOT_FOUND,
			"stock level not found", pick(metaSKU, metaWarehouseCode))
	case errors.Is(err, inventory.ErrReservationNotFound):
		return apierr.Error(codes.NotFound, inventoryv1.ErrorReason_ERROR_REASON_RESERVATION_NOT_FOUND,
			"reservation not found", pick(metaReservation))
	case errors.Is(err, inventory.ErrIdempotencyKeyReused):
		return apierr.Error(codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED,
			"request_id was used before with a different payload", nil)
	case errors.Is(err, inventory.ErrNotLoaded):
		return apierr.DependencyUnavailable("erp", "inventory is loading its initial stock from the ERP; retry later")
	case errors.Is(err, context.DeadlineExceeded):
		return apierr.Error(codes.DeadlineExceeded, commonv1.ErrorReason_ERROR_REASON_DEADLINE_EXCEEDED, "deadline exceeded", nil)
	case errors.Is(err, context.Canceled):
		return apierr.Canceled()
	case errors.As(err, &badFilter):
		return badFilter.GRPCStatus().Err()
	case errors.As(err, &badToken):
		return badToken.GRPCStatus().Err()
	}
	return sqldb.FallbackStatus(ctx, s.logger, err)
}
