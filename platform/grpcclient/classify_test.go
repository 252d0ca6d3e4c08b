package grpcclient_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/breaker"
	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/platform/grpcserver/grpcservertest"
)

// TestClassifyEveryCode is the package documentation's table, code by
// code; a code missing here fails the test rather than going unreviewed.
func TestClassifyEveryCode(t *testing.T) {
	t.Parallel()
	want := map[codes.Code]grpcclient.Class{
		codes.OK:                 grpcclient.ClassNone, // status.Error(OK) is nil
		codes.Canceled:           grpcclient.ClassCallerGone,
		codes.Unknown:            grpcclient.ClassTransient,
		codes.InvalidArgument:    grpcclient.ClassRejected,
		codes.DeadlineExceeded:   grpcclient.ClassTransient,
		codes.NotFound:           grpcclient.ClassRejected,
		codes.AlreadyExists:      grpcclient.ClassRejected,
		codes.PermissionDenied:   grpcclient.ClassRejected,
		codes.ResourceExhausted:  grpcclient.ClassTransient,
		codes.FailedPrecondition: grpcclient.ClassRejected,
		codes.Aborted:            grpcclient.ClassConflict,
		codes.OutOfRange:         grpcclient.ClassRejected,
		codes.Unimplemented:      grpcclient.ClassRejected,
		codes.Internal:           grpcclient.ClassTransient,
		codes.Unavailable:        grpcclient.ClassTransient,
		codes.DataLoss:           grpcclient.ClassTransient,
		codes.Unauthenticated:    grpcclient.ClassRejected,
	}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		t.Run(c.String(), func(t *testing.T) {
			t.Parallel()
			w, ok := want[c]
			if !ok {
				t.Fatalf("no expectation for %v", c)
			}
			err := status.Error(c, "x")
			if got := grpcclient.Classify(err); got != w {
				t.Errorf("Classify(%v) = %v, want %v", c, got, w)
			}
			if err == nil {
				return
			}
			if got := grpcclient.Classify(fmt.Errorf("call: %w", err)); got != w {
				t.Errorf("Classify(wrapped %v) = %v, want %v", c, got, w)
			}
		})
	}
	if len(want) != int(codes.Unauthenticated)+1 {
		t.Fatalf("table has %d codes, want %d", len(want), codes.Unauthenticated+1)
	}
}

// okStatusError carries a status; st nil makes GRPCStatus return nil.
type okStatusError struct{ st *status.Status }

func (e okStatusError) Error() string              { return "odd" }
func (e okStatusError) GRPCStatus() *status.Status { return e.st }

func TestClassifyBeyondCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want grpcclient.Class
	}{
		{"nil", nil, grpcclient.ClassNone},
		{"transport error", errors.New("connection reset by peer"), grpcclient.ClassTransient},
		{"context cancelled", context.Canceled, grpcclient.ClassCallerGone},
		{"wrapped context cancelled", fmt.Errorf("read: %w", context.Canceled), grpcclient.ClassCallerGone},
		{"context deadline without ctx", context.DeadlineExceeded, grpcclient.ClassTransient},
		{"status from cancelled context", status.FromContextError(context.Canceled).Err(), grpcclient.ClassCallerGone},
		{"status from expired context", status.FromContextError(context.DeadlineExceeded).Err(), grpcclient.ClassTransient},
		{"circuit open", apierr.CircuitOpen("erp"), grpcclient.ClassCircuitOpen},
		{"wrapped circuit open", fmt.Errorf("erp: %w", apierr.CircuitOpen("erp")), grpcclient.ClassCircuitOpen},
		{"circuit open reason on another code", apierr.Error(codes.FailedPrecondition, commonv1.ErrorReason_ERROR_REASON_CIRCUIT_OPEN, "x", nil), grpcclient.ClassRejected},
		{"neighbour's dependency down", apierr.DependencyUnavailable("erp", "erp down"), grpcclient.ClassTransient},
		{"rate limited", apierr.RateLimited("slow down", time.Second), grpcclient.ClassTransient},
		{"request in progress", apierr.Error(codes.Aborted, commonv1.ErrorReason_ERROR_REASON_REQUEST_IN_PROGRESS, "x", nil), grpcclient.ClassConflict},
		{"code a newer peer invented", status.Error(codes.Code(42), "x"), grpcclient.ClassTransient},
		{"non-nil error with OK status", okStatusError{status.New(codes.OK, "")}, grpcclient.ClassTransient},
		{"nil status", okStatusError{}, grpcclient.ClassTransient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := grpcclient.Classify(tt.err); got != tt.want {
				t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// timerLate is a context whose deadline has passed but whose Err is still
// nil, as a context's is for the moment before its timer goroutine runs.
type timerLate struct{ context.Context }

func (timerLate) Deadline() (time.Time, bool) { return time.Unix(0, 0), true }

func TestClassifyCtx(t *testing.T) {
	t.Parallel()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel2()
	live := context.Background()
	// A per-call timeout the caller derived from live: its expiry is the
	// dependency's slowness, not the caller leaving.
	perCall, cancel3 := context.WithDeadline(live, time.Unix(0, 0))
	defer cancel3()
	deadlineErr := status.FromContextError(perCall.Err()).Err()

	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want grpcclient.Class
	}{
		{"nil error, caller gone", cancelled, nil, grpcclient.ClassNone},
		{"cancelled caller, unavailable", cancelled, status.Error(codes.Unavailable, "x"), grpcclient.ClassCallerGone},
		{"cancelled caller, rejected", cancelled, status.Error(codes.NotFound, "x"), grpcclient.ClassCallerGone},
		{"caller's deadline", expired, status.Error(codes.DeadlineExceeded, "x"), grpcclient.ClassCallerGone},
		{"per-call deadline", live, deadlineErr, grpcclient.ClassTransient},
		{"live caller, rejected", live, status.Error(codes.InvalidArgument, "x"), grpcclient.ClassRejected},
		{"nil ctx", nil, status.Error(codes.Unavailable, "x"), grpcclient.ClassTransient},
		// The caller's deadline passed but its timer has not fired yet
		// (Err is nil) while the per-call one with the same instant has.
		{"caller's deadline passed, timer not yet fired", timerLate{live}, deadlineErr, grpcclient.ClassCallerGone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := grpcclient.ClassifyCtx(tt.ctx, tt.err); got != tt.want {
				t.Errorf("ClassifyCtx = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestClassPredicates(t *testing.T) {
	t.Parallel()
	type row struct {
		Name              string
		DependencyFailure bool
		Retryable         bool
	}
	got := map[grpcclient.Class]row{}
	for _, c := range []grpcclient.Class{
		grpcclient.ClassNone, grpcclient.ClassTransient, grpcclient.ClassCircuitOpen,
		grpcclient.ClassConflict, grpcclient.ClassRejected, grpcclient.ClassCallerGone, grpcclient.Class(99),
	} {
		got[c] = row{c.String(), c.DependencyFailure(), c.Retryable()}
	}
	want := map[grpcclient.Class]row{
		grpcclient.ClassNone:        {"none", false, false},
		grpcclient.ClassTransient:   {"transient", true, true},
		grpcclient.ClassCircuitOpen: {"circuit_open", true, true},
		grpcclient.ClassConflict:    {"conflict", false, true},
		grpcclient.ClassRejected:    {"rejected", false, false},
		grpcclient.ClassCallerGone:  {"caller_gone", false, true},
		grpcclient.Class(99):        {"Class(99)", false, true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("class predicates (-want +got):\n%s", diff)
	}
}

func TestErrorPredicates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                      string
		err                       error
		dependency, targetFailure bool
	}{
		{"nil", nil, false, false},
		{"unavailable", status.Error(codes.Unavailable, "x"), true, true},
		{"transport", errors.New("reset"), true, true},
		{"circuit open", apierr.CircuitOpen("erp"), true, false},
		{"neighbour's dependency down", apierr.DependencyUnavailable("erp", "x"), true, false},
		{"rate limited", apierr.RateLimited("x", 0), true, true},
		{"aborted", status.Error(codes.Aborted, "x"), false, false},
		{"not found", status.Error(codes.NotFound, "x"), false, false},
		{"cancelled", context.Canceled, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := grpcclient.IsDependencyFailure(tt.err); got != tt.dependency {
				t.Errorf("IsDependencyFailure = %v, want %v", got, tt.dependency)
			}
			if got := grpcclient.IsTargetFailure(tt.err); got != tt.targetFailure {
				t.Errorf("IsTargetFailure = %v, want %v", got, tt.targetFailure)
			}
		})
	}
}

// scripted answers every unary call with the error in err (nil: echo).
type scripted struct {
	err   atomic.Pointer[error]
	calls atomic.Int64
}

func (s *scripted) set(err error) { s.err.Store(&err) }

func (s *scripted) probe() *grpcservertest.Probe {
	return &grpcservertest.Probe{Unary: func(_ context.Context, _ string, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		s.calls.Add(1)
		if p := s.err.Load(); p != nil && *p != nil {
			return nil, *p
		}
		return in, nil
	}}
}

func TestDialInstallsClassification(t *testing.T) {
	t.Parallel()
	open := func(err error) bool { return apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_CIRCUIT_OPEN) }
	tests := []struct {
		name     string
		answer   error
		settings breaker.Settings
		trips    bool
	}{
		{"rejected never trips", apierr.Error(codes.FailedPrecondition, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED, "no", nil),
			breaker.Settings{ConsecutiveFailures: 2, OpenTimeout: time.Hour}, false},
		{"conflict never trips", apierr.Error(codes.Aborted, commonv1.ErrorReason_ERROR_REASON_REQUEST_IN_PROGRESS, "later", nil),
			breaker.Settings{ConsecutiveFailures: 2, OpenTimeout: time.Hour}, false},
		{"neighbour's dependency never trips", apierr.DependencyUnavailable("erp", "erp down"),
			breaker.Settings{ConsecutiveFailures: 2, OpenTimeout: time.Hour}, false},
		{"transient trips", apierr.Internal(),
			breaker.Settings{ConsecutiveFailures: 2, OpenTimeout: time.Hour}, true},
		{"settings' own predicate wins", apierr.Internal(),
			breaker.Settings{ConsecutiveFailures: 2, OpenTimeout: time.Hour, IsFailure: func(error) bool { return false }}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &scripted{}
			s.set(tt.answer)
			c := dial(t, serve(t, s.probe()), grpcclient.WithBreakerSettings(tt.settings))
			for range 2 {
				if _, err := c.Create(context.Background(), "x"); status.Code(err) != status.Code(tt.answer) || open(err) {
					t.Fatalf("Create = %v, want the server's %v", err, status.Code(tt.answer))
				}
			}
			before := s.calls.Load()
			_, err := c.Create(context.Background(), "x")
			if open(err) != tt.trips {
				t.Fatalf("third call = %v; breaker open = %v, want %v", err, open(err), tt.trips)
			}
			if reached := s.calls.Load() > before; reached == tt.trips {
				t.Fatalf("third call reached the server = %v with breaker open = %v", reached, tt.trips)
			}
		})
	}
}
