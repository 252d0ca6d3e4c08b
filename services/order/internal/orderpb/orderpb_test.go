package orderpb_test

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/order/internal/order"
	"github.com/transload/transload/services/order/internal/orderpb"
)

func TestDependencyError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		err         error
		dependency  bool
		circuitOpen bool
	}{
		{name: "no error"},
		{name: "unavailable", err: status.Error(codes.Unavailable, "down"), dependency: true},
		{name: "deadline", err: status.Error(codes.DeadlineExceeded, "slow"), dependency: true},
		{name: "internal", err: status.Error(codes.Internal, "boom"), dependency: true},
		{name: "aborted", err: status.Error(codes.Aborted, "race"), dependency: true},
		{name: "cancelled", err: context.Canceled, dependency: true},
		{name: "transport", err: errors.New("connection reset"), dependency: true},
		{name: "circuit open", err: apierr.CircuitOpen("erp"), dependency: true, circuitOpen: true},
		{name: "not found", err: status.Error(codes.NotFound, "no such customer")},
		{name: "failed precondition", err: status.Error(codes.FailedPrecondition, "picked")},
		{name: "invalid argument", err: status.Error(codes.InvalidArgument, "bad")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := orderpb.DependencyError("erp", tc.err)
			var dep *order.DependencyError
			if isDep := errors.As(got, &dep); isDep != tc.dependency {
				t.Fatalf("DependencyError(%v) = %v, want a dependency error: %v", tc.err, got, tc.dependency)
			}
			if !tc.dependency {
				if got != nil {
					t.Fatalf("DependencyError(%v) = %v, want nil", tc.err, got)
				}
				return
			}
			if dep.Target != "erp" || dep.CircuitOpen != tc.circuitOpen || !errors.Is(got, tc.err) {
				t.Errorf("DependencyError(%v) = %+v", tc.err, dep)
			}
		})
	}
}
