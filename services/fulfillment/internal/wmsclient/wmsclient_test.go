package wmsclient_test

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/wmsclient"
)

// conn answers every call with err.
type conn struct{ err error }

func (c conn) Invoke(context.Context, string, any, any, ...grpc.CallOption) error { return c.err }

func (c conn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, c.err
}

func TestErrorsBecomeDomainErrors(t *testing.T) {
	wmsErr := func(code codes.Code, reason wmsv1.ErrorReason) error {
		return apierr.Error(code, reason, "wms says no", nil)
	}
	for _, tc := range []struct {
		name                           string
		err                            error
		rejected, unavailable, circuit bool
		is                             error
	}{
		{name: "unavailable", err: status.Error(codes.Unavailable, "down"), unavailable: true},
		{name: "slow", err: status.Error(codes.DeadlineExceeded, "slow"), unavailable: true},
		{name: "throttled", err: status.Error(codes.ResourceExhausted, "busy"), unavailable: true},
		{name: "conflict", err: status.Error(codes.Aborted, "in progress"), unavailable: true},
		{name: "broken", err: status.Error(codes.Internal, "bug"), unavailable: true},
		{name: "transport", err: errors.New("connection reset"), unavailable: true},
		{name: "breaker", err: apierr.CircuitOpen("wms"), unavailable: true, circuit: true},
		{name: "invalid", err: status.Error(codes.InvalidArgument, "bad"), rejected: true},
		{name: "key reused", err: apierr.Error(codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED, "x", nil), rejected: true},
		{name: "cursor expired", err: wmsErr(codes.FailedPrecondition, wmsv1.ErrorReason_ERROR_REASON_CURSOR_EXPIRED), rejected: true, is: fulfillment.ErrCursorRefused},
		{name: "cursor invalid", err: wmsErr(codes.InvalidArgument, wmsv1.ErrorReason_ERROR_REASON_INVALID_CURSOR), rejected: true, is: fulfillment.ErrCursorRefused},
		{name: "unknown", err: wmsErr(codes.NotFound, wmsv1.ErrorReason_ERROR_REASON_SHIPMENT_REQUEST_NOT_FOUND), rejected: true, is: fulfillment.ErrUnknownAtWMS},
		{name: "shipped", err: wmsErr(codes.FailedPrecondition, wmsv1.ErrorReason_ERROR_REASON_ALREADY_SHIPPED), rejected: true, is: fulfillment.ErrTooLateToCancel},
		{name: "too late", err: wmsErr(codes.FailedPrecondition, wmsv1.ErrorReason_ERROR_REASON_CANCELLATION_TOO_LATE), rejected: true, is: fulfillment.ErrTooLateToCancel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := wmsclient.New(conn{tc.err})
			err := c.CancelShipmentRequest(t.Context(), "FR-1", "customer")
			var d *fulfillment.DependencyError
			if !errors.As(err, &d) || d.Dependency != wmsclient.Dependency {
				t.Fatalf("err = %v, want a *fulfillment.DependencyError of %s", err, wmsclient.Dependency)
			}
			if got := fulfillment.AsRejectedDependency(err) != nil; got != tc.rejected {
				t.Errorf("rejected = %v, want %v (%v)", got, tc.rejected, err)
			}
			if got := errors.Is(err, fulfillment.ErrDependencyUnavailable); got != tc.unavailable {
				t.Errorf("unavailable = %v, want %v (%v)", got, tc.unavailable, err)
			}
			if got := errors.Is(err, fulfillment.ErrCircuitOpen); got != tc.circuit {
				t.Errorf("circuit open = %v, want %v (%v)", got, tc.circuit, err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want it to match %v", err, tc.is)
			}
			if _, err := c.ShipmentEvents(t.Context(), "c", 10); !errors.As(err, &d) {
				t.Errorf("ShipmentEvents err = %v, want a *fulfillment.DependencyError", err)
			}
			if _, err := c.CreateShipmentRequest(t.Context(), &fulfillment.Request{ID: "FR-1"}); !errors.As(err, &d) {
				t.Errorf("CreateShipmentRequest err = %v, want a *fulfillment.DependencyError", err)
			}
		})
	}
	if err := wmsclient.New(conn{}).CancelShipmentRequest(t.Context(), "FR-1", "x"); err != nil {
		t.Fatalf("successful call: %v", err)
	}
}
