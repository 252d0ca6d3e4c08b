package neighbours

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/apierr"
)

func TestIsNeighbourFailure(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		err  error
		want bool
	}{
		"nil":                       {nil, false},
		"transport unavailable":     {status.Error(codes.Unavailable, "connection refused"), true},
		"deadline":                  {status.Error(codes.DeadlineExceeded, "slow"), true},
		"internal":                  {apierr.Internal(), true},
		"plain error":               {errors.New("boom"), true},
		"cancelled":                 {context.Canceled, false},
		"business answer":           {apierr.Error(codes.FailedPrecondition, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED, "x", nil), false},
		"not found":                 {status.Error(codes.NotFound, "x"), false},
		"neighbour's dependency":    {apierr.DependencyUnavailable("erp", "erp is unavailable"), false},
		"neighbour's open breaker":  {apierr.CircuitOpen("erp"), false},
		"rate limited by neighbour": {apierr.RateLimited("slow down", 0), true},
	} {
		if got := IsNeighbourFailure(tc.err); got != tc.want {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
}
