package grpcclient_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/breaker"
	"github.com/transload/transload/platform/correlation"
	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/grpcserver/grpcservertest"
)

// serve runs a grpcserver with probe on loopback and returns its address.
func serve(t *testing.T, probe *grpcservertest.Probe, opts ...grpcserver.Option) string {
	t.Helper()
	base := []grpcserver.Option{
		grpcserver.WithAddr("127.0.0.1:0"),
		grpcserver.WithAdminAddr(""),
		grpcserver.WithLogger(slog.New(slog.DiscardHandler)),
	}
	srv, err := grpcserver.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	grpcservertest.Register(srv, probe)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return srv.Addr().String()
}

func dial(t *testing.T, addr string, opts ...grpcclient.Option) *grpcservertest.Client {
	t.Helper()
	conn, err := grpcclient.Dial(addr, append([]grpcclient.Option{grpcclient.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return grpcservertest.NewClient(conn)
}

// fastRetries keeps backoff short so tests do not wait on it; the assertions
// are on attempt counts, never on timing.
var fastRetries = grpcclient.WithRetryPolicy(grpcclient.RetryPolicy{
	MaxAttempts: 5, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	BackoffMultiplier: 2, RetryableCodes: []codes.Code{codes.Unavailable},
})

// flaky fails the first n attempts of each method with code, then succeeds,
// counting attempts per method.
type flaky struct {
	n        int64
	code     codes.Code
	attempts map[string]*atomic.Int64
}

func newFlaky(n int64, code codes.Code) *flaky {
	f := &flaky{n: n, code: code, attempts: map[string]*atomic.Int64{}}
	for _, m := range []string{grpcservertest.MethodGet, grpcservertest.MethodCreate, grpcservertest.MethodEcho} {
		f.attempts[m] = &atomic.Int64{}
	}
	return f
}

func (f *flaky) probe() *grpcservertest.Probe {
	return &grpcservertest.Probe{Unary: func(_ context.Context, method string, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		if n := f.attempts[method].Add(1); n <= f.n {
			return nil, status.Errorf(f.code, "attempt %d fails", n)
		}
		return in, nil
	}}
}

func TestIdempotentReadIsRetried(t *testing.T) {
	t.Parallel()
	f := newFlaky(3, codes.Unavailable)
	c := dial(t, serve(t, f.probe()), fastRetries, grpcclient.WithIdempotentMethods(grpcservertest.MethodGet))
	got, err := c.Get(context.Background(), "sku-1")
	if err != nil || got != "sku-1" {
		t.Fatalf("Get = %q, %v; want success after retries", got, err)
	}
	if n := f.attempts[grpcservertest.MethodGet].Load(); n != 4 {
		t.Fatalf("server saw %d attempts, want 4 (3 failures + success)", n)
	}
}

func TestMutationIsNeverRetried(t *testing.T) {
	t.Parallel()
	f := newFlaky(3, codes.Unavailable)
	c := dial(t, serve(t, f.probe()), fastRetries, grpcclient.WithIdempotentMethods(grpcservertest.MethodGet))
	if _, err := c.Create(context.Background(), "order-1"); status.Code(err) != codes.Unavailable {
		t.Fatalf("Create = %v, want Unavailable", err)
	}
	if n := f.attempts[grpcservertest.MethodCreate].Load(); n != 1 {
		t.Fatalf("server saw %d attempts of a non-idempotent mutation, want exactly 1", n)
	}
}

func TestNonRetryableCodeIsNotRetried(t *testing.T) {
	t.Parallel()
	f := newFlaky(3, codes.Internal)
	c := dial(t, serve(t, f.probe()), fastRetries, grpcclient.WithIdempotentMethods(grpcservertest.MethodGet))
	if _, err := c.Get(context.Background(), "x"); status.Code(err) != codes.Internal {
		t.Fatalf("Get = %v, want Internal", err)
	}
	if n := f.attempts[grpcservertest.MethodGet].Load(); n != 1 {
		t.Fatalf("server saw %d attempts for Internal, want 1", n)
	}
}

func TestRetryThrottlingBudget(t *testing.T) {
	t.Parallel()
	f := newFlaky(1<<30, codes.Unavailable) // always down
	c := dial(t, serve(t, f.probe()), fastRetries,
		grpcclient.WithIdempotentMethods(grpcservertest.MethodGet),
		grpcclient.WithRetryThrottling(grpcclient.RetryThrottling{MaxTokens: 4, TokenRatio: 0.1}),
		grpcclient.WithoutBreaker())
	for range 5 {
		if _, err := c.Get(context.Background(), "x"); status.Code(err) != codes.Unavailable {
			t.Fatalf("Get = %v", err)
		}
	}
	// Tokens 4 → 3 (retry) → 2 (at MaxTokens/2: throttled). Every later call
	// gets one attempt: 2+1+1+1+1, not 5 attempts per call.
	if n := f.attempts[grpcservertest.MethodGet].Load(); n != 6 {
		t.Fatalf("server saw %d attempts over 5 calls, want 6 with the budget spent", n)
	}
}

func TestDeadlineAndCorrelationPropagation(t *testing.T) {
	t.Parallel()
	// Deadlines cross process boundaries as remaining budgets (no clock
	// sync), so compare budgets: what the downstream handler has left must
	// not exceed what the caller had when it started the call.
	type seen struct {
		budget      time.Duration
		hasDeadline bool
		correlation string
	}
	downstreamSaw := make(chan seen, 1)
	downstream := serve(t, &grpcservertest.Probe{Unary: func(ctx context.Context, _ string, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		dl, ok := ctx.Deadline()
		downstreamSaw <- seen{time.Until(dl), ok, correlation.ID(ctx)}
		return in, nil
	}}, grpcserver.WithDefaultDeadline(0)) // so the downstream never invents one

	down := dial(t, downstream, grpcclient.WithDefaultTimeout(time.Hour))
	middle := serve(t, &grpcservertest.Probe{Unary: func(ctx context.Context, _ string, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		v, err := down.Echo(ctx, in.GetValue())
		return wrapperspb.String(v), err
	}}, grpcserver.WithDefaultDeadline(4*time.Second))
	// WithDefaultTimeout(0): the caller sends no deadline unless it has one.
	caller := dial(t, middle, grpcclient.WithDefaultTimeout(0))

	t.Run("caller budget propagates", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(correlation.WithID(context.Background(), "edge-123"), 2*time.Second)
		defer cancel()
		callerDeadline, _ := ctx.Deadline()
		callerBudget := time.Until(callerDeadline)
		if _, err := caller.Echo(ctx, "x"); err != nil {
			t.Fatal(err)
		}
		got := <-downstreamSaw
		if !got.hasDeadline || got.budget <= 0 || got.budget > callerBudget {
			t.Fatalf("downstream budget %v (deadline set %v), caller budget %v", got.budget, got.hasDeadline, callerBudget)
		}
		if got.correlation != "edge-123" {
			t.Fatalf("downstream correlation id %q, want edge-123", got.correlation)
		}
	})

	t.Run("server default deadline applies when caller sent none", func(t *testing.T) {
		if _, err := caller.Echo(context.Background(), "x"); err != nil {
			t.Fatal(err)
		}
		got := <-downstreamSaw
		// The caller sent no deadline: the middle server's 4s default applies
		// and travels on to the downstream call (whose own client default is
		// an hour, so only propagation can explain a budget under 4s).
		if !got.hasDeadline || got.budget <= 0 || got.budget > 4*time.Second {
			t.Fatalf("downstream budget %v (deadline set %v), want (0, 4s]", got.budget, got.hasDeadline)
		}
		if !correlation.Valid(got.correlation) {
			t.Fatalf("no correlation id created: %q", got.correlation)
		}
	})

	t.Run("client default timeout applies when caller has none", func(t *testing.T) {
		direct := dial(t, downstream, grpcclient.WithDefaultTimeout(1500*time.Millisecond))
		if _, err := direct.Echo(context.Background(), "x"); err != nil {
			t.Fatal(err)
		}
		got := <-downstreamSaw
		if !got.hasDeadline || got.budget <= 0 || got.budget > 1500*time.Millisecond {
			t.Fatalf("downstream budget %v (deadline set %v), want (0, 1.5s]", got.budget, got.hasDeadline)
		}
	})
}

func TestDefaultTimeoutExpiryTripsBreaker(t *testing.T) {
	t.Parallel()
	hang := &grpcservertest.Probe{Unary: func(ctx context.Context, _ string, _ *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	c := dial(t, serve(t, hang),
		grpcclient.WithDefaultTimeout(20*time.Millisecond),
		grpcclient.WithBreakerSettings(breaker.Settings{ConsecutiveFailures: 2, OpenTimeout: time.Hour}))
	for range 2 {
		if _, err := c.Echo(context.Background(), "x"); status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("Echo = %v, want DeadlineExceeded", err)
		}
	}
	_, err := c.Echo(context.Background(), "x")
	if !apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_CIRCUIT_OPEN) {
		t.Fatalf("after 2 default-deadline expiries: %v, want CIRCUIT_OPEN", err)
	}
}

// TestTimeoutCapsALongerCallerDeadline: the connection's budget holds
// inside a caller with a generous deadline (a REST request, CreateOrder),
// and the breaker counts the slow dependency; a caller whose own deadline
// is the shorter one keeps it and does not count against the dependency.
func TestTimeoutCapsALongerCallerDeadline(t *testing.T) {
	t.Parallel()
	hang := &grpcservertest.Probe{Unary: func(ctx context.Context, _ string, _ *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	c := dial(t, serve(t, hang),
		grpcclient.WithDefaultTimeout(50*time.Millisecond),
		grpcclient.WithBreakerSettings(breaker.Settings{ConsecutiveFailures: 2, OpenTimeout: time.Hour}))

	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	for range 3 { // the caller's deadline: never counted
		if _, err := c.Echo(short, "x"); status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("Echo with a 20ms caller deadline = %v, want DeadlineExceeded", err)
		}
	}
	long, cancelLong := context.WithTimeout(context.Background(), time.Minute)
	defer cancelLong()
	for range 2 {
		start := time.Now()
		if _, err := c.Echo(long, "x"); status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("Echo with a 1m caller deadline = %v, want DeadlineExceeded from the 50ms budget", err)
		}
		if took := time.Since(start); took > 30*time.Second {
			t.Fatalf("call took %v: the connection's budget did not cap the caller's deadline", took)
		}
	}
	if _, err := c.Echo(long, "x"); !apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_CIRCUIT_OPEN) {
		t.Fatalf("after 2 budget expiries (and 3 caller expiries): %v, want CIRCUIT_OPEN", err)
	}
}

func TestBreakerPerTargetAndMetrics(t *testing.T) {
	t.Parallel()
	f := newFlaky(1<<30, codes.Unavailable)
	addr := serve(t, f.probe())
	reg := prometheus.NewRegistry()
	opts := []grpcclient.Option{
		grpcclient.WithRegistry(reg),
		grpcclient.WithBreakerSettings(breaker.Settings{ConsecutiveFailures: 3, OpenTimeout: time.Hour}),
	}
	// A connection named after its dependency: breaker, metrics and
	// CIRCUIT_OPEN say "erp", not the address.
	c := dial(t, addr, append(slices.Clone(opts), grpcclient.WithDependency("erp"))...)
	// A second connection on the same registry must not fail on metric
	// registration, and has its own breaker, named after its target.
	other := dial(t, "passthrough:///"+addr, opts...)

	for range 3 {
		_, _ = c.Create(context.Background(), "x")
	}
	before := f.attempts[grpcservertest.MethodCreate].Load()
	_, err := c.Create(context.Background(), "x")
	if status.Code(err) != codes.Unavailable || !apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_CIRCUIT_OPEN) {
		t.Fatalf("4th call = %v, want Unavailable/CIRCUIT_OPEN", err)
	}
	if got := apierr.Info(err).GetMetadata()[apierr.MetaTarget]; got != "erp" {
		t.Fatalf("CIRCUIT_OPEN target %q, want the dependency's name %q", got, "erp")
	}
	if after := f.attempts[grpcservertest.MethodCreate].Load(); after != before {
		t.Fatal("open breaker let the call reach the server")
	}
	if _, err := other.Create(context.Background(), "x"); apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_CIRCUIT_OPEN) {
		t.Fatal("breaker of one target opened another's")
	}

	expected := `
# HELP transload_breaker_state Circuit breaker state per target: 0 closed, 1 half-open, 2 open.
# TYPE transload_breaker_state gauge
transload_breaker_state{target="erp"} 2
transload_breaker_state{target="passthrough:///` + addr + `"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(expected), "transload_breaker_state"); err != nil {
		t.Fatal(err)
	}
	n, err := testutil.GatherAndCount(reg, "grpc_client_handled_total", "grpc_client_handling_seconds", "transload_breaker_transitions_total")
	if err != nil || n == 0 {
		t.Fatalf("client metrics series = %d, %v", n, err)
	}
}

func TestServiceConfig(t *testing.T) {
	t.Parallel()
	sc, err := grpcclient.ServiceConfig(
		[]string{"/transload.inventory.v1.InventoryService/GetStockLevel", "/transload.order.v1.OrderService/CreateOrder", "/transload.inventory.v1.InventoryService/GetStockLevel"},
		grpcclient.RetryPolicy{MaxAttempts: 3, InitialBackoff: 250 * time.Millisecond, MaxBackoff: 2 * time.Second, BackoffMultiplier: 1.5,
			RetryableCodes: []codes.Code{codes.Unavailable, codes.DeadlineExceeded}},
		grpcclient.RetryThrottling{MaxTokens: 10, TokenRatio: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	var got any
	if err := json.Unmarshal([]byte(sc), &got); err != nil {
		t.Fatal(err)
	}
	var want any
	_ = json.Unmarshal([]byte(`{
	  "loadBalancingConfig": [{"round_robin": {}}],
	  "methodConfig": [{
	    "name": [
	      {"service": "transload.inventory.v1.InventoryService", "method": "GetStockLevel"},
	      {"service": "transload.order.v1.OrderService", "method": "CreateOrder"}
	    ],
	    "retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.25s", "maxBackoff": "2s", "backoffMultiplier": 1.5,
	      "retryableStatusCodes": ["UNAVAILABLE", "DEADLINE_EXCEEDED"]}
	  }],
	  "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}
	}`), &want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("service config (-want +got):\n%s", diff)
	}

	if _, err := grpcclient.ServiceConfig([]string{"GetStockLevel"}, grpcclient.DefaultRetryPolicy(), grpcclient.DefaultRetryThrottling()); err == nil {
		t.Fatal("bare method name accepted")
	}
	none, err := grpcclient.ServiceConfig(nil, grpcclient.DefaultRetryPolicy(), grpcclient.DefaultRetryThrottling())
	if err != nil || strings.Contains(none, "retryPolicy") {
		t.Fatalf("no idempotent methods: %s, %v", none, err)
	}
}

func TestKeepaliveAgreesWithServerPolicy(t *testing.T) {
	t.Parallel()
	if grpcclient.KeepaliveTime < grpcserver.KeepaliveMinClientPingInterval {
		t.Fatalf("client pings every %v, server tolerates no more than every %v",
			grpcclient.KeepaliveTime, grpcserver.KeepaliveMinClientPingInterval)
	}
	if grpcclient.DefaultMaxRecvMsgSize < grpcserver.DefaultMaxSendMsgSize {
		t.Fatal("client would reject responses the server is allowed to send")
	}
}

func TestStreamsGetCorrelation(t *testing.T) {
	t.Parallel()
	seen := make(chan string, 1)
	addr := serve(t, &grpcservertest.Probe{Repeat: func(in *wrapperspb.StringValue, s grpc.ServerStreamingServer[wrapperspb.StringValue]) error {
		seen <- correlation.ID(s.Context())
		return s.Send(in)
	}})
	c := dial(t, addr)
	got, err := c.Repeat(correlation.WithID(context.Background(), "stream-corr"), "v")
	if err != nil || len(got) != 1 {
		t.Fatalf("Repeat = %v, %v", got, err)
	}
	if id := <-seen; id != "stream-corr" {
		t.Fatalf("server saw correlation %q", id)
	}
}

// TestStreamTimeoutCapsAStream: WithStreamTimeout bounds a whole stream
// inside a caller with a longer deadline; without it a stream keeps the
// caller's deadline only.
func TestStreamTimeoutCapsAStream(t *testing.T) {
	t.Parallel()
	budgets := make(chan time.Duration, 2)
	addr := serve(t, &grpcservertest.Probe{Repeat: func(in *wrapperspb.StringValue, s grpc.ServerStreamingServer[wrapperspb.StringValue]) error {
		dl, _ := s.Context().Deadline()
		budgets <- time.Until(dl)
		return s.Send(in)
	}}, grpcserver.WithDefaultDeadline(0))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if _, err := dial(t, addr, grpcclient.WithStreamTimeout(2*time.Second)).Repeat(ctx, "v"); err != nil {
		t.Fatal(err)
	}
	if b := <-budgets; b <= 0 || b > 2*time.Second {
		t.Errorf("stream budget with WithStreamTimeout(2s) = %v, want (0, 2s]", b)
	}
	if _, err := dial(t, addr).Repeat(ctx, "v"); err != nil {
		t.Fatal(err)
	}
	if b := <-budgets; b <= 30*time.Second {
		t.Errorf("stream budget without a stream timeout = %v, want the caller's minute", b)
	}
}
