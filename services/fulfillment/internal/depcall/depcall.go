// Package depcall classifies the errors of calls to the service's
// neighbours into the fulfilment domain's dependency errors, following the
// retry classification of the wms.v1 contract: transport and availability
// failures are retried, everything else is a permanent refusal.
package depcall

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// Classify maps err from a call to dependency dep: nil stays nil,
// retryable failures wrap fulfillment.ErrDependencyUnavailable, and the
// rest become *fulfillment.DependencyRejectedError.
func Classify(dep string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w: %v", dep, fulfillment.ErrDependencyUnavailable, err)
	}
	if apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_CIRCUIT_OPEN) {
		return fmt.Errorf("%s: %w (%w)", dep, fulfillment.ErrDependencyUnavailable, fulfillment.ErrCircuitOpen)
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("%s: %w: %v", dep, fulfillment.ErrDependencyUnavailable, err)
	}
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted,
		codes.Internal, codes.Unknown, codes.Canceled:
		return fmt.Errorf("%s: %w: %s %s", dep, fulfillment.ErrDependencyUnavailable, st.Code(), st.Message())
	}
	return &fulfillment.DependencyRejectedError{Dependency: dep, Reason: apierr.ReasonOf(err), Message: st.Code().String() + ": " + st.Message()}
}
