package grpcapi

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/erpsim/internal/erp"
)

// ERPSystem is the "erp_system" ErrorInfo metadata value erpsim reports.
const ERPSystem = "erpsim"

// notFound maps each not-found sentinel to its reason and metadata key.
var notFound = []struct {
	kind   error
	reason erpv1.ErrorReason
	key    string
}{
	{erp.ErrCustomerNotFound, erpv1.ErrorReason_ERROR_REASON_CUSTOMER_NOT_FOUND, "customer_id"},
	{erp.ErrSalesOrderNotFound, erpv1.ErrorReason_ERROR_REASON_SALES_ORDER_NOT_FOUND, "order_id"},
	{erp.ErrWarehouseNotFound, erpv1.ErrorReason_ERROR_REASON_WAREHOUSE_NOT_FOUND, "warehouse_code"},
	{erp.ErrPriceListNotFound, erpv1.ErrorReason_ERROR_REASON_PRICE_LIST_NOT_FOUND, "price_list_id"},
	{erp.ErrJournalBatchNotFound, erpv1.ErrorReason_ERROR_REASON_JOURNAL_BATCH_NOT_FOUND, "batch_id"},
}

// errUnavailable is what every RPC returns while the simulated ERP is down.
func errUnavailable() error {
	return apierr.Error(codes.Unavailable, erpv1.ErrorReason_ERROR_REASON_ERP_UNAVAILABLE,
		"the ERP is unavailable (erpsim fault: down)", map[string]string{"erp_system": ERPSystem})
}

// errStopping ends a WatchStockEvents stream when the simulator stops.
func errStopping() error {
	return apierr.Error(codes.Unavailable, erpv1.ErrorReason_ERROR_REASON_ERP_UNAVAILABLE,
		"the ERP simulator is shutting down; reconnect and resume from the last cursor", map[string]string{"erp_system": ERPSystem})
}

// errTimeout is what an RPC returns when its deadline passes inside the ERP.
func errTimeout() error {
	return apierr.Error(codes.DeadlineExceeded, erpv1.ErrorReason_ERROR_REASON_ERP_TIMEOUT,
		"the ERP did not answer before the deadline", map[string]string{"erp_system": ERPSystem})
}

// toStatus is the one place domain errors become gRPC statuses. Unknown
// errors are logged and answered with a generic Internal.
func toStatus(ctx context.Context, logger *slog.Logger, err error) error {
	// Errors that carry their status already (aip's page token errors,
	// invalidField) pass as they are.
	if _, ok := status.FromError(err); ok && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return err
	}
	var nf *erp.NotFoundError
	if errors.As(err, &nf) {
		for _, m := range notFound {
			if errors.Is(nf.Kind, m.kind) {
				return apierr.Error(codes.NotFound, m.reason, nf.Error(), map[string]string{m.key: nf.ID})
			}
		}
	}
	var nc *erp.NotCancellableError
	if errors.As(err, &nc) {
		return apierr.Error(codes.FailedPrecondition, erpv1.ErrorReason_ERROR_REASON_SALES_ORDER_NOT_CANCELLABLE, nc.Error(),
			map[string]string{"order_id": nc.OrderID, "erp_order_number": nc.ERPOrderNumber, "state": nc.State.String()})
	}
	switch {
	case errors.Is(err, erp.ErrIdempotencyKeyReused):
		return apierr.Error(codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED,
			"the id was already used with a different payload", nil)
	case errors.Is(err, erp.ErrInvalidCursor):
		return apierr.Error(codes.InvalidArgument, erpv1.ErrorReason_ERROR_REASON_INVALID_CURSOR,
			"the cursor was not issued by this ERP for this feed", map[string]string{"feed": "stock_events"})
	case errors.Is(err, erp.ErrSnapshotExpired):
		id := ""
		if se := (*erp.SnapshotExpiredError)(nil); errors.As(err, &se) {
			id = se.ID
		}
		return apierr.Error(codes.FailedPrecondition, erpv1.ErrorReason_ERROR_REASON_SNAPSHOT_EXPIRED,
			"the snapshot is no longer held; start a new one", map[string]string{"snapshot_id": id})
	case errors.Is(err, context.DeadlineExceeded):
		return errTimeout()
	case errors.Is(err, context.Canceled):
		return apierr.Canceled()
	}
	logger.ErrorContext(ctx, "erpsim: internal error", slog.Any("error", err))
	return apierr.Internal()
}

// invalidField is InvalidArgument / VALIDATION_FAILED for one field whose
// rule protovalidate cannot express (e.g. uniqueness across list items).
func invalidField(field, desc string) error {
	return apierr.InvalidArgument("request is invalid: "+field+": "+desc,
		apierr.FieldViolation{Field: field, Description: desc, Reason: "UNIQUE"})
}
