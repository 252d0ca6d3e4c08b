package grpcapi

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/wmssim/internal/faults"
)

// A call whose context ended answers by why it ended, whether the WMS was
// working on it or the slow fault was holding it: the caller going away is
// Canceled with its own reason (it used to say DEADLINE_EXCEEDED), a
// passed deadline is the WMS timing out.
func TestEndedCallsAnswerWhyTheyEnded(t *testing.T) {
	t.Parallel()
	srv := New(nil, slog.New(slog.DiscardHandler))
	slow := &faults.Set{}
	slow.Replace(faults.Faults{SlowMs: 3_600_000})
	intercept := FaultInterceptor(slow)
	info := &grpc.UnaryServerInfo{FullMethod: wmsv1.WmsAdapterService_GetShipmentRequest_FullMethodName}
	held := func(ctx context.Context) error {
		_, err := intercept(ctx, nil, info, func(context.Context, any) (any, error) {
			t.Error("the handler ran although the slow fault held the call past its end")
			return nil, nil
		})
		return err
	}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	expired, cancelExpired := context.WithDeadline(t.Context(), time.Now())
	defer cancelExpired()

	for _, tt := range []struct {
		name   string
		err    error
		code   codes.Code
		reason apierr.Reason
	}{
		{"cancelled in the WMS", srv.toStatus(t.Context(), fmt.Errorf("load: %w", context.Canceled), "FR-1"), codes.Canceled, commonv1.ErrorReason_ERROR_REASON_CANCELLED},
		{"cancelled while slow", held(cancelled), codes.Canceled, commonv1.ErrorReason_ERROR_REASON_CANCELLED},
		{"deadline in the WMS", srv.toStatus(t.Context(), fmt.Errorf("load: %w", context.DeadlineExceeded), "FR-1"), codes.DeadlineExceeded, wmsv1.ErrorReason_ERROR_REASON_WMS_TIMEOUT},
		{"deadline while slow", held(expired), codes.DeadlineExceeded, wmsv1.ErrorReason_ERROR_REASON_WMS_TIMEOUT},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if status.Code(tt.err) != tt.code || !apierr.HasReason(tt.err, tt.reason) {
				t.Errorf("err = %v (reason %q), want %s with %s", tt.err, apierr.ReasonOf(tt.err), tt.code, tt.reason)
			}
		})
	}
}
