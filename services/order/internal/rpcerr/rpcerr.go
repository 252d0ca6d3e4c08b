// Package rpcerr classifies errors of calls to neighbour services for the
// client adapters: transient failures become *order.DependencyError, so the
// domain never inspects gRPC codes.
package rpcerr

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/order/internal/order"
)

// Dependency returns a *order.DependencyError for target when err says the
// neighbour could not answer (unavailable, deadline, throttled, internal,
// aborted, open breaker, or a non-gRPC transport error), and nil otherwise.
func Dependency(target string, err error) error {
	if err == nil {
		return nil
	}
	if apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_CIRCUIT_OPEN) {
		return &order.DependencyError{Target: target, CircuitOpen: true, Err: err}
	}
	st, ok := status.FromError(err)
	if !ok {
		if errors.Is(err, context.Canceled) {
			return &order.DependencyError{Target: target, Err: err}
		}
		return &order.DependencyError{Target: target, Err: err}
	}
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Internal,
		codes.Unknown, codes.Aborted, codes.Canceled:
		return &order.DependencyError{Target: target, Err: err}
	}
	return nil
}

// Code returns err's gRPC code (codes.Unknown for non-status errors).
func Code(err error) codes.Code { return status.Code(err) }
