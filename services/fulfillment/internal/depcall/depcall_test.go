package depcall_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/fulfillment/internal/depcall"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

func TestClassify(t *testing.T) {
	if depcall.Classify("wms", nil) != nil {
		t.Fatal("nil error classified")
	}
	for _, err := range []error{
		status.Error(codes.Unavailable, "down"),
		status.Error(codes.DeadlineExceeded, "slow"),
		status.Error(codes.ResourceExhausted, "throttled"),
		status.Error(codes.Aborted, "in progress"),
		status.Error(codes.Internal, "bug"),
		apierr.CircuitOpen("wms"),
		context.DeadlineExceeded,
		errors.New("transport"),
	} {
		if got := depcall.Classify("wms", err); !errors.Is(got, fulfillment.ErrDependencyUnavailable) {
			t.Errorf("Classify(%v) = %v, want unavailable", err, got)
		}
	}
	for _, err := range []error{
		status.Error(codes.InvalidArgument, "bad"),
		apierr.Error(codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED, "reused", nil),
		status.Error(codes.FailedPrecondition, "state"),
		status.Error(codes.NotFound, "gone"),
	} {
		var rej *fulfillment.DependencyRejectedError
		got := depcall.Classify("order", fmt.Errorf("call: %w", err))
		if !errors.As(got, &rej) || rej.Dependency != "order" {
			t.Errorf("Classify(%v) = %v, want rejection", err, got)
		}
	}
	if got := depcall.Classify("wms", apierr.CircuitOpen("wms")); !errors.Is(got, fulfillment.ErrCircuitOpen) {
		t.Errorf("circuit open not marked: %v", got)
	}
	if got := depcall.Classify("wms", status.Error(codes.Unavailable, "down")); errors.Is(got, fulfillment.ErrCircuitOpen) {
		t.Errorf("plain unavailable marked as circuit open: %v", got)
	}
	var rej *fulfillment.DependencyRejectedError
	errors.As(depcall.Classify("order", apierr.Error(codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED, "x", nil)), &rej)
	if rej.Reason != "ERROR_REASON_IDEMPOTENCY_KEY_REUSED" {
		t.Errorf("reason = %q", rej.Reason)
	}
}
