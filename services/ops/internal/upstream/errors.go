package upstream

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/apierr"
)

// This file is the one place this package builds ops errors and turns the
// neighbours' errors into them.

// Neighbour names, as they appear in the `dependency` metadata.
const (
	depInventory = "inventory"
	depOrder     = "order"
	depERP       = "erp"
)

// Metadata keys of the ops errors.
const (
	metaDependency     = "dependency"
	metaReconciliation = "reconciliation"
)

// retryAfter is the RetryInfo delay suggested when a neighbour is down.
const retryAfter = time.Second

func unavailable(reason apierr.Reason, dependency, msg string) error {
	return apierr.WithRetryDelay(apierr.New(codes.Unavailable, reason, msg, map[string]string{metaDependency: dependency}),
		retryAfter).Err()
}

// errNotFound is NOT_FOUND for an ops resource name.
func errNotFound(name string) error {
	return apierr.Error(codes.NotFound, commonv1.ErrorReason_ERROR_REASON_NOT_FOUND, name+" not found", nil)
}

// errInvalidFilter turns a filter problem into the ops contract's
// INVALID_FILTER, keeping the violation on "filter".
func errInvalidFilter(err error) error {
	var fe *aip.FilterError
	if !errors.As(err, &fe) {
		return apierr.Internal()
	}
	desc := fe.Error()
	return apierr.WithViolations(
		apierr.New(codes.InvalidArgument, opsv1.ErrorReason_ERROR_REASON_INVALID_FILTER, "filter is invalid: "+desc, nil),
		apierr.FieldViolation{Field: "filter", Description: desc, Reason: aip.ViolationInvalidFilter}).Err()
}

// listRequest is what every ops list request has.
type listRequest interface {
	GetPageSize() int32
	GetFilter() string
}

// readList checks a list request's page size and parses its filter
// against schema; a bad filter is the ops contract's INVALID_FILTER.
func readList(schema aip.Schema, req listRequest) (aip.Filter, error) {
	if err := aip.ValidatePageSize(req.GetPageSize()); err != nil {
		return aip.Filter{}, err
	}
	f, err := schema.Parse(req.GetFilter())
	if err != nil {
		return aip.Filter{}, errInvalidFilter(err)
	}
	return f, nil
}

// neighbourError turns an error from dependency into the ops caller's:
//
//   - the caller gone or out of time: CANCELLED or DEADLINE_EXCEEDED;
//   - inventory's RECONCILIATION_IN_PROGRESS and SNAPSHOT_UNAVAILABLE: the
//     ops reasons RECONCILIATION_ALREADY_RUNNING and ERP_SNAPSHOT_UNAVAILABLE;
//   - NOT_FOUND: NOT_FOUND naming notFound, the ops resource asked for, or
//     the neighbour's status when notFound is "" (a warehouse it lacks);
//   - verdicts about the request (INVALID_ARGUMENT, ALREADY_EXISTS,
//     FAILED_PRECONDITION, ABORTED, OUT_OF_RANGE): the neighbour's status,
//     whose reason and field violations already speak the caller's terms;
//   - outages (UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED):
//     UNAVAILABLE naming the neighbour, CIRCUIT_OPEN when a breaker
//     refused the call;
//   - anything else: INTERNAL, with the cause logged.
func (u *Upstream) neighbourError(ctx context.Context, dependency, notFound string, err error) error {
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return apierr.Canceled()
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return apierr.Error(codes.DeadlineExceeded, commonv1.ErrorReason_ERROR_REASON_DEADLINE_EXCEEDED,
			"the request deadline expired", map[string]string{metaDependency: dependency})
	case apierr.HasReason(err, inventoryv1.ErrorReason_ERROR_REASON_RECONCILIATION_IN_PROGRESS):
		running := apierr.Info(err).GetMetadata()[metaReconciliation]
		return apierr.Error(codes.FailedPrecondition, opsv1.ErrorReason_ERROR_REASON_RECONCILIATION_ALREADY_RUNNING,
			"a reconciliation with an overlapping scope is running: "+running, map[string]string{metaReconciliation: running})
	case apierr.HasReason(err, inventoryv1.ErrorReason_ERROR_REASON_SNAPSHOT_UNAVAILABLE):
		u.logger.WarnContext(ctx, "ops: ERP snapshot unavailable", slog.String("error", status.Convert(err).Message()))
		return unavailable(opsv1.ErrorReason_ERROR_REASON_ERP_SNAPSHOT_UNAVAILABLE, depERP,
			"the ERP stock snapshot cannot be read, retry later")
	}
	code := status.Code(err)
	switch code {
	case codes.NotFound:
		if notFound == "" {
			return status.Convert(err).Err()
		}
		return errNotFound(notFound)
	case codes.InvalidArgument, codes.AlreadyExists, codes.FailedPrecondition, codes.Aborted, codes.OutOfRange:
		return status.Convert(err).Err()
	case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded:
		reason := commonv1.ErrorReason_ERROR_REASON_DEPENDENCY_UNAVAILABLE
		if apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_CIRCUIT_OPEN) {
			reason = commonv1.ErrorReason_ERROR_REASON_CIRCUIT_OPEN
		}
		u.logger.WarnContext(ctx, "ops: dependency unavailable", slog.String("dependency", dependency),
			slog.String("grpc.code", code.String()), slog.String("error", status.Convert(err).Message()))
		return unavailable(reason, dependency, dependency+" is unavailable, retry later")
	}
	u.logger.ErrorContext(ctx, "ops: unexpected dependency error", slog.String("dependency", dependency),
		slog.String("grpc.code", code.String()), slog.String("reason", apierr.ReasonOf(err)),
		slog.String("error", status.Convert(err).Message()))
	return apierr.Internal()
}
