package breaker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/breaker"
	"github.com/transload/transload/platform/grpcclient"
)

func TestDefaultIsFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("connection reset by peer"), true},
		{"deadline", context.DeadlineExceeded, true},
		{"cancelled", context.Canceled, false},
		{"wrapped cancelled", fmt.Errorf("get: %w", context.Canceled), false},
		// The default reads no status codes; gRPC breakers get theirs from grpcclient.
		{"status", status.Error(codes.InvalidArgument, "x"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := breaker.DefaultIsFailure(tt.err); got != tt.want {
				t.Errorf("DefaultIsFailure(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// grpcSettings are settings whose failures are counted by the platform's
// classification, as grpcclient.Dial installs it.
func grpcSettings(s breaker.Settings) breaker.Settings {
	s.IsFailure = grpcclient.IsTargetFailure
	return s
}

func TestClassesAgainstBreaker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		err   error
		class grpcclient.Class
		trips bool
	}{
		{"unavailable", status.Error(codes.Unavailable, "x"), grpcclient.ClassTransient, true},
		{"deadline", status.Error(codes.DeadlineExceeded, "x"), grpcclient.ClassTransient, true},
		{"exhausted", status.Error(codes.ResourceExhausted, "x"), grpcclient.ClassTransient, true},
		{"internal", status.Error(codes.Internal, "x"), grpcclient.ClassTransient, true},
		{"unknown", status.Error(codes.Unknown, "x"), grpcclient.ClassTransient, true},
		{"data loss", status.Error(codes.DataLoss, "x"), grpcclient.ClassTransient, true},
		{"transport", errors.New("connection reset by peer"), grpcclient.ClassTransient, true},
		{"invalid", status.Error(codes.InvalidArgument, "x"), grpcclient.ClassRejected, false},
		{"not found", status.Error(codes.NotFound, "x"), grpcclient.ClassRejected, false},
		{"exists", status.Error(codes.AlreadyExists, "x"), grpcclient.ClassRejected, false},
		{"denied", status.Error(codes.PermissionDenied, "x"), grpcclient.ClassRejected, false},
		{"unauthenticated", status.Error(codes.Unauthenticated, "x"), grpcclient.ClassRejected, false},
		{"precondition", status.Error(codes.FailedPrecondition, "x"), grpcclient.ClassRejected, false},
		{"out of range", status.Error(codes.OutOfRange, "x"), grpcclient.ClassRejected, false},
		{"unimplemented", status.Error(codes.Unimplemented, "x"), grpcclient.ClassRejected, false},
		{"aborted", status.Error(codes.Aborted, "x"), grpcclient.ClassConflict, false},
		{"cancelled by callee", status.Error(codes.Canceled, "x"), grpcclient.ClassCallerGone, false},
		{"target's own breaker", apierr.CircuitOpen("erp"), grpcclient.ClassCircuitOpen, false},
		{"target's own dependency", apierr.DependencyUnavailable("erp", "erp down"), grpcclient.ClassTransient, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := grpcclient.Classify(tt.err); got != tt.class {
				t.Fatalf("Classify = %v, want %v", got, tt.class)
			}
			b := breaker.New("dep", grpcSettings(breaker.Settings{ConsecutiveFailures: 3, OpenTimeout: time.Hour}),
				breaker.WithLogger(slog.New(slog.DiscardHandler)))
			for range 3 {
				if err := b.Execute(context.Background(), func(context.Context) error { return tt.err }); !errors.Is(err, tt.err) {
					t.Fatalf("Execute = %v, want %v passed through", err, tt.err)
				}
			}
			want := breaker.StateClosed
			if tt.trips {
				want = breaker.StateOpen
			}
			if got := b.State(); got != want {
				t.Fatalf("state after 3 × %v = %v, want %v", tt.err, got, want)
			}
		})
	}
}

func TestIsFailureNeverSeesSuccess(t *testing.T) {
	t.Parallel()
	var asked []error
	b := breaker.New("dep", breaker.Settings{ConsecutiveFailures: 1, OpenTimeout: time.Hour,
		IsFailure: func(err error) bool { asked = append(asked, err); return true }},
		breaker.WithLogger(slog.New(slog.DiscardHandler)))
	for range 3 {
		if err := b.Execute(context.Background(), func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if len(asked) != 0 || b.State() != breaker.StateClosed {
		t.Fatalf("IsFailure asked about %v, state %v; want never asked, closed", asked, b.State())
	}
}

func failWith(c codes.Code) func(context.Context) error {
	return func(context.Context) error { return status.Error(c, c.String()) }
}

func TestTripHalfOpenRecover(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewRegistry()
		m, err := breaker.NewMetrics(reg)
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		b := breaker.New("erp", grpcSettings(breaker.Settings{ConsecutiveFailures: 3, OpenTimeout: 10 * time.Second, HalfOpenMaxRequests: 1}),
			breaker.WithMetrics(m), breaker.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
		ctx := context.Background()

		// Business answers never trip, however many.
		for _, c := range []codes.Code{codes.InvalidArgument, codes.NotFound, codes.FailedPrecondition, codes.AlreadyExists, codes.Aborted} {
			for range 5 {
				if err := b.Execute(ctx, failWith(c)); status.Code(err) != c {
					t.Fatalf("Execute returned %v, want the %v passed through", err, c)
				}
			}
		}
		// Caller cancellation never trips either.
		for range 5 {
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			_ = b.Execute(cctx, func(ctx context.Context) error { return status.FromContextError(ctx.Err()).Err() })
		}
		// Nor does the caller's own deadline expiring mid-call.
		for range 5 {
			dctx, cancel := context.WithTimeout(ctx, time.Second)
			_ = b.Execute(dctx, func(ctx context.Context) error {
				<-ctx.Done()
				return status.Error(codes.DeadlineExceeded, "caller budget spent")
			})
			cancel()
		}
		if s := b.State(); s != breaker.StateClosed {
			t.Fatalf("state after non-dependency errors = %v, want closed", s)
		}

		// A business answer between failures proves the dependency is up and
		// resets the consecutive count.
		for _, c := range []codes.Code{codes.Unavailable, codes.Internal, codes.NotFound, codes.DeadlineExceeded, codes.ResourceExhausted} {
			_ = b.Execute(ctx, failWith(c))
		}
		if s := b.State(); s != breaker.StateClosed {
			t.Fatalf("state after reset = %v, want closed", s)
		}
		_ = b.Execute(ctx, failWith(codes.Unavailable))
		if s := b.State(); s != breaker.StateOpen {
			t.Fatalf("state after 3 consecutive failures = %v, want open", s)
		}

		// Open: fail fast, fn not called.
		called := false
		err = b.Execute(ctx, func(context.Context) error { called = true; return nil })
		if called {
			t.Fatal("open breaker called fn")
		}
		assertCircuitOpen(t, err, "erp")

		// Still open for the whole timeout, half-open once it has passed.
		time.Sleep(10 * time.Second)
		if s := b.State(); s != breaker.StateOpen {
			t.Fatalf("state at timeout = %v, want open", s)
		}
		time.Sleep(time.Nanosecond)
		if s := b.State(); s != breaker.StateHalfOpen {
			t.Fatalf("state after timeout = %v, want half-open", s)
		}
		// A failed trial reopens it.
		_ = b.Execute(ctx, failWith(codes.Unavailable))
		if s := b.State(); s != breaker.StateOpen {
			t.Fatalf("state after failed trial = %v, want open", s)
		}
		time.Sleep(10*time.Second + time.Nanosecond)
		// A successful trial closes it.
		if err := b.Execute(ctx, func(context.Context) error { return nil }); err != nil {
			t.Fatalf("trial call: %v", err)
		}
		if s := b.State(); s != breaker.StateClosed {
			t.Fatalf("state after successful trial = %v, want closed", s)
		}

		want := `
# HELP transload_breaker_state Circuit breaker state per target: 0 closed, 1 half-open, 2 open.
# TYPE transload_breaker_state gauge
transload_breaker_state{target="erp"} 0
# HELP transload_breaker_transitions_total Circuit breaker state transitions per target.
# TYPE transload_breaker_transitions_total counter
transload_breaker_transitions_total{from="closed",target="erp",to="open"} 1
transload_breaker_transitions_total{from="half-open",target="erp",to="closed"} 1
transload_breaker_transitions_total{from="half-open",target="erp",to="open"} 1
transload_breaker_transitions_total{from="open",target="erp",to="half-open"} 2
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "transload_breaker_state", "transload_breaker_transitions_total"); err != nil {
			t.Error(err)
		}
		if n := strings.Count(logs.String(), "circuit breaker state changed"); n != 5 {
			t.Errorf("logged %d state changes, want 5:\n%s", n, logs.String())
		}
	})
}

func TestFailureRatio(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := breaker.New("pricing", grpcSettings(breaker.Settings{FailureRatio: 0.5, MinRequests: 10, Interval: time.Minute, OpenTimeout: time.Second}),
			breaker.WithLogger(slog.New(slog.DiscardHandler)))
		ctx := context.Background()
		// Alternate success and failure: never 2 in a row, ratio 50% at 10 calls.
		for i := range 9 {
			if i%2 == 0 {
				_ = b.Execute(ctx, failWith(codes.Unavailable))
			} else {
				_ = b.Execute(ctx, func(context.Context) error { return nil })
			}
		}
		if s := b.State(); s != breaker.StateClosed {
			t.Fatalf("state below MinRequests = %v, want closed", s)
		}
		_ = b.Execute(ctx, func(context.Context) error { return nil })
		_ = b.Execute(ctx, failWith(codes.Unavailable))
		if s := b.State(); s != breaker.StateOpen {
			t.Fatalf("state at 6/11 failures = %v, want open", s)
		}
	})
}

func TestDoReturnsValueAndCustomClassifier(t *testing.T) {
	t.Parallel()
	errRejected := errors.New("erp rejected order")
	b := breaker.New("erp-http", breaker.Settings{ConsecutiveFailures: 1, OpenTimeout: time.Hour,
		IsFailure: func(err error) bool { return !errors.Is(err, errRejected) }},
		breaker.WithLogger(slog.New(slog.DiscardHandler)))
	v, err := breaker.Do(context.Background(), b, func(context.Context) (int, error) { return 42, nil })
	if v != 42 || err != nil {
		t.Fatalf("Do = %v, %v", v, err)
	}
	if _, err := breaker.Do(context.Background(), b, func(context.Context) (int, error) { return 0, errRejected }); !errors.Is(err, errRejected) {
		t.Fatalf("Do = %v, want errRejected", err)
	}
	if b.State() != breaker.StateClosed {
		t.Fatal("business rejection tripped the breaker")
	}
	_, _ = breaker.Do(context.Background(), b, func(context.Context) (int, error) { return 0, errors.New("i/o timeout") })
	v, err = breaker.Do(context.Background(), b, func(context.Context) (int, error) { return 7, nil })
	if v != 0 {
		t.Fatalf("open breaker returned value %v", v)
	}
	assertCircuitOpen(t, err, "erp-http")
}

func TestMetricsShareRegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m1, err := breaker.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := breaker.NewMetrics(reg)
	if err != nil {
		t.Fatalf("second breaker.NewMetrics on same registry: %v", err)
	}
	breaker.New("a", breaker.DefaultSettings(), breaker.WithMetrics(m1))
	breaker.New("b", breaker.DefaultSettings(), breaker.WithMetrics(m2))
	if n, err := testutil.GatherAndCount(reg, "transload_breaker_state"); err != nil || n != 2 {
		t.Fatalf("state series = %d, %v; want 2 (one per target)", n, err)
	}
}

func assertCircuitOpen(t *testing.T, err error, target string) {
	t.Helper()
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("err = %v, want Unavailable", err)
	}
	if !apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_CIRCUIT_OPEN) {
		t.Fatalf("reason = %q, want CIRCUIT_OPEN", apierr.ReasonOf(err))
	}
	if got := apierr.Info(err).GetMetadata()[apierr.MetaTarget]; got != target {
		t.Fatalf("target metadata = %q, want %q", got, target)
	}
}

// scriptedHealth answers Check with the next scripted code and counts calls.
type scriptedHealth struct {
	healthpb.UnimplementedHealthServer
	calls atomic.Int64
	code  atomic.Int64 // codes.Code to return; OK answers SERVING
}

func (s *scriptedHealth) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	s.calls.Add(1)
	if c := codes.Code(s.code.Load()); c != codes.OK {
		return nil, status.Error(c, "scripted")
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func TestUnaryInterceptorOverGRPC(t *testing.T) {
	t.Parallel()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	h := &scriptedHealth{}
	healthpb.RegisterHealthServer(srv, h)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	b := breaker.New("inventory", grpcSettings(breaker.Settings{ConsecutiveFailures: 2, OpenTimeout: time.Hour}), breaker.WithLogger(slog.New(slog.DiscardHandler)))
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(b.UnaryClientInterceptor()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client := healthpb.NewHealthClient(conn)
	ctx := context.Background()
	call := func() error {
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}

	for _, c := range []codes.Code{codes.InvalidArgument, codes.NotFound, codes.FailedPrecondition} {
		h.code.Store(int64(c))
		for range 3 {
			if err := call(); status.Code(err) != c {
				t.Fatalf("call = %v, want %v", err, c)
			}
		}
	}
	if b.State() != breaker.StateClosed {
		t.Fatal("business errors tripped the breaker")
	}

	h.code.Store(int64(codes.Unavailable))
	_ = call()
	_ = call()
	if b.State() != breaker.StateOpen {
		t.Fatalf("state = %v after 2 Unavailable, want open", b.State())
	}
	before := h.calls.Load()
	h.code.Store(int64(codes.OK))
	assertCircuitOpen(t, call(), "inventory")
	if after := h.calls.Load(); after != before {
		t.Fatalf("server saw %d calls while breaker open", after-before)
	}
}

// TestHalfOpenRecoveryOverGRPC runs real gRPC (bufconn) inside a synctest
// bubble, so the breaker's open timeout passes on the fake clock.
func TestHalfOpenRecoveryOverGRPC(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		lis := bufconn.Listen(1 << 20)
		srv := grpc.NewServer()
		h := &scriptedHealth{}
		healthpb.RegisterHealthServer(srv, h)
		go func() { _ = srv.Serve(lis) }()
		defer srv.Stop()

		b := breaker.New("inventory", grpcSettings(breaker.Settings{ConsecutiveFailures: 2, OpenTimeout: time.Minute, HalfOpenMaxRequests: 1}),
			breaker.WithLogger(slog.New(slog.DiscardHandler)))
		conn, err := grpc.NewClient("passthrough:///bufnet",
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithUnaryInterceptor(b.UnaryClientInterceptor()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		client := healthpb.NewHealthClient(conn)
		call := func(ctx context.Context) error {
			_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
			return err
		}

		h.code.Store(int64(codes.Unavailable))
		// A caller that gave up does not count, even against a failing server.
		cctx, cancel := context.WithCancel(context.Background())
		cancel()
		for range 3 {
			if err := call(cctx); status.Code(err) != codes.Canceled {
				t.Fatalf("cancelled call = %v", err)
			}
		}
		if b.State() != breaker.StateClosed {
			t.Fatal("cancelled calls tripped the breaker")
		}
		_ = call(context.Background())
		_ = call(context.Background())
		if b.State() != breaker.StateOpen {
			t.Fatalf("state = %v after 2 Unavailable, want open", b.State())
		}

		h.code.Store(int64(codes.OK))
		before := h.calls.Load()
		time.Sleep(time.Minute)
		assertCircuitOpen(t, call(context.Background()), "inventory")
		if h.calls.Load() != before {
			t.Fatal("open breaker let a call through")
		}
		time.Sleep(time.Nanosecond)
		if b.State() != breaker.StateHalfOpen {
			t.Fatalf("state after open timeout = %v, want half-open", b.State())
		}
		if err := call(context.Background()); err != nil {
			t.Fatalf("trial call: %v", err)
		}
		if h.calls.Load() != before+1 {
			t.Fatalf("trial call reached the server %d times, want 1", h.calls.Load()-before)
		}
		if b.State() != breaker.StateClosed {
			t.Fatalf("state after successful trial = %v, want closed", b.State())
		}
	})
}

// pastDeadline is a context whose deadline has passed while its Err is
// still nil, as for the moment before its timer goroutine runs.
type pastDeadline struct{ context.Context }

func (pastDeadline) Deadline() (time.Time, bool) { return time.Unix(0, 0), true }

// TestCallerEnded: a caller whose deadline has passed has ended even
// before its context's timer fires, so a per-call deadline with the same
// instant that fires first is not counted against the dependency.
func TestCallerEnded(t *testing.T) {
	t.Parallel()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	later, cancelLater := context.WithTimeout(context.Background(), time.Hour)
	defer cancelLater()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want bool
	}{
		{"cancelled", cancelled, true},
		{"deadline passed, timer not fired", pastDeadline{context.Background()}, true},
		{"deadline ahead", later, false},
		{"no deadline", context.Background(), false},
	} {
		if got := breaker.CallerEnded(tc.ctx); got != tc.want {
			t.Errorf("%s: CallerEnded = %v, want %v", tc.name, got, tc.want)
		}
	}
}
