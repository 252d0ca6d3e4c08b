package grpcapi

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/erpsim/internal/faults"
)

// A caller that goes away gets Canceled with its own reason, whether the
// ERP was working on the call or the slow fault was holding it: the same
// answer as every other Transload service, never DEADLINE_EXCEEDED.
func TestCancelledCallsAnswerCanceled(t *testing.T) {
	t.Parallel()
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	slow := faults.New()
	slow.Set(faults.State{Slow: time.Hour})
	for name, err := range map[string]error{
		"in the ERP":     toStatus(t.Context(), slog.New(slog.DiscardHandler), fmt.Errorf("read customer: %w", context.Canceled)),
		"in slow faults": injectFault(cancelled, slow, erpMethodPrefix+"GetCustomer"),
	} {
		t.Run(name, func(t *testing.T) {
			if status.Code(err) != codes.Canceled || !apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_CANCELLED) {
				t.Errorf("err = %v (reason %q), want Canceled with ERROR_REASON_CANCELLED", err, apierr.ReasonOf(err))
			}
		})
	}
	// A passed deadline is the ERP timing out, not the caller leaving.
	expired, cancelExpired := context.WithDeadline(t.Context(), time.Now())
	defer cancelExpired()
	if err := injectFault(expired, slow, erpMethodPrefix+"GetCustomer"); status.Code(err) != codes.DeadlineExceeded ||
		!apierr.HasReason(err, erpv1.ErrorReason_ERROR_REASON_ERP_TIMEOUT) {
		t.Errorf("expired deadline: err = %v, want DeadlineExceeded with ERP_TIMEOUT", err)
	}
}
