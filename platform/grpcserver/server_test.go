package grpcserver_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/adminhttp"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/correlation"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/grpcserver/grpcservertest"
	"github.com/transload/transload/platform/listen"
	"github.com/transload/transload/platform/logging"
	"github.com/transload/transload/platform/testharness/harness"
)

type testServer struct {
	srv    *grpcserver.Server
	logs   *harness.Buffer
	conn   *grpc.ClientConn
	client *grpcservertest.Client
	cancel context.CancelFunc
	done   chan error
}

// start runs a Server with the Probe service on loopback and a plain client
// connected to it; cleanup shuts it down and checks Run's result.
func start(t *testing.T, probe *grpcservertest.Probe, opts ...grpcserver.Option) *testServer {
	t.Helper()
	logs := &harness.Buffer{}
	base := []grpcserver.Option{
		grpcserver.WithAddr("127.0.0.1:0"),
		grpcserver.WithAdminAddr("127.0.0.1:0"),
		grpcserver.WithLogger(logging.New(logs, "test", slog.LevelDebug)),
	}
	srv, err := grpcserver.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	grpcservertest.Register(srv, probe)
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{srv: srv, logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { ts.done <- srv.Run(ctx) }()
	ts.conn = dial(t, srv.Addr().String())
	ts.client = grpcservertest.NewClient(ts.conn)
	t.Cleanup(func() {
		cancel()
		if err := <-ts.done; err != nil {
			t.Errorf("Run returned %v", err)
		}
	})
	return ts
}

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestPanicRecovery(t *testing.T) {
	t.Parallel()
	ts := start(t, &grpcservertest.Probe{
		Unary: func(context.Context, string, *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			panic("secret internal detail")
		},
		Repeat: func(*wrapperspb.StringValue, grpc.ServerStreamingServer[wrapperspb.StringValue]) error {
			panic("stream detail")
		},
	})
	_, err := ts.client.Echo(context.Background(), "x")
	st := status.Convert(err)
	if st.Code() != codes.Internal || st.Message() != "internal error" {
		t.Fatalf("err = %v, want Internal with a generic message", err)
	}
	if !apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_INTERNAL) {
		t.Fatalf("reason = %q", apierr.ReasonOf(err))
	}
	_, err = ts.client.Repeat(context.Background(), "x")
	if st := status.Convert(err); st.Code() != codes.Internal || strings.Contains(st.Message(), "detail") {
		t.Fatalf("stream err = %v, want generic Internal", err)
	}

	// The panic is logged with its stack, and the access log sees Internal.
	var sawPanic, sawAccess bool
	for _, r := range ts.logs.Records(t) {
		if r["msg"] == "panic in grpc handler" && r["panic"] == "secret internal detail" &&
			strings.Contains(r["stack"].(string), "runtime/debug.Stack") && r["correlation_id"] != nil {
			sawPanic = true
		}
		if r["msg"] == "grpc call" && r["grpc.method"] == grpcservertest.MethodEcho && r["grpc.code"] == "Internal" {
			sawAccess = true
		}
	}
	if !sawPanic || !sawAccess {
		t.Fatalf("panic logged %v, access log with Internal %v", sawPanic, sawAccess)
	}
}

func TestCorrelationID(t *testing.T) {
	t.Parallel()
	seen := make(chan string, 10)
	ts := start(t, &grpcservertest.Probe{
		Unary: func(ctx context.Context, _ string, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			seen <- correlation.ID(ctx)
			if in.GetValue() == "fail" {
				return nil, status.Error(codes.FailedPrecondition, "scripted failure")
			}
			return in, nil
		},
	})

	tests := []struct {
		name     string
		sent     string
		wantEcho bool
	}{
		{name: "absent is created"},
		{name: "present is echoed", sent: "caller-id-42", wantEcho: true},
		{name: "malformed is replaced", sent: `bad id "with" {json}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.sent != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, correlation.MetadataKey, tt.sent)
			}
			var header metadata.MD
			if _, err := ts.client.Echo(ctx, "x", grpc.Header(&header)); err != nil {
				t.Fatal(err)
			}
			got := header.Get(correlation.MetadataKey)
			if len(got) != 1 || !correlation.Valid(got[0]) {
				t.Fatalf("response header %s = %v", correlation.MetadataKey, got)
			}
			if handlerID := <-seen; handlerID != got[0] {
				t.Fatalf("handler saw %q, header says %q", handlerID, got[0])
			}
			if tt.wantEcho != (got[0] == tt.sent) {
				t.Fatalf("header %q, sent %q, want echo %v", got[0], tt.sent, tt.wantEcho)
			}
		})
	}

	t.Run("failed call carries it in the trailer", func(t *testing.T) {
		ctx := metadata.AppendToOutgoingContext(context.Background(), correlation.MetadataKey, "failing-call")
		var header, trailer metadata.MD
		_, err := ts.client.Echo(ctx, "fail", grpc.Header(&header), grpc.Trailer(&trailer))
		if status.Code(err) != codes.FailedPrecondition {
			t.Fatalf("err = %v", err)
		}
		<-seen
		if got := trailer.Get(correlation.MetadataKey); len(got) != 1 || got[0] != "failing-call" {
			t.Fatalf("trailer = %v, header = %v", trailer, header)
		}
		// No header frame: a trailers-only error response stays retryable.
		if len(header.Get(correlation.MetadataKey)) != 0 {
			t.Fatalf("failed call sent header %v", header)
		}
	})

	t.Run("stream", func(t *testing.T) {
		ctx := metadata.AppendToOutgoingContext(context.Background(), correlation.MetadataKey, "stream-id")
		var header metadata.MD
		if _, err := ts.client.Repeat(ctx, "x", grpc.Header(&header)); err != nil {
			t.Fatal(err)
		}
		if got := header.Get(correlation.MetadataKey); len(got) != 1 || got[0] != "stream-id" {
			t.Fatalf("stream header = %v", got)
		}
	})
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	ts := start(t, &grpcservertest.Probe{})
	ctx := metadata.AppendToOutgoingContext(context.Background(), correlation.MetadataKey, "log-me")
	if _, err := ts.client.Echo(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	for _, r := range ts.logs.Records(t) {
		if r["msg"] != "grpc call" || r["grpc.method"] != grpcservertest.MethodEcho {
			continue
		}
		if r["grpc.code"] != "OK" || r["correlation_id"] != "log-me" || r["level"] != "INFO" || r["service"] != "test" {
			t.Fatalf("access log record %v", r)
		}
		if _, ok := r["duration_us"].(float64); !ok {
			t.Fatalf("duration_us missing in %v", r)
		}
		return
	}
	t.Fatal("no access log record for Echo")
}

func TestDefaultDeadline(t *testing.T) {
	t.Parallel()
	remaining := make(chan time.Duration, 1)
	ts := start(t, &grpcservertest.Probe{
		Unary: func(ctx context.Context, _ string, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			dl, ok := ctx.Deadline()
			if !ok {
				remaining <- -1
			} else {
				remaining <- time.Until(dl)
			}
			return in, nil
		},
	}, grpcserver.WithDefaultDeadline(7*time.Second))

	if _, err := ts.client.Echo(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	if got := <-remaining; got <= 0 || got > 7*time.Second {
		t.Fatalf("no caller deadline: handler budget %v, want (0, 7s]", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := ts.client.Echo(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if got := <-remaining; got <= 0 || got > 2*time.Second {
		t.Fatalf("caller deadline 2s: handler budget %v, want (0, 2s]", got)
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	called := false
	ts := start(t, &grpcservertest.Probe{
		ShipTo: func(_ context.Context, in *commonv1.Address) (*commonv1.Address, error) {
			called = true
			return in, nil
		},
	})
	_, err := ts.client.ShipTo(context.Background(), &commonv1.Address{
		Recipient:  strings.Repeat("r", 201),
		Lines:      []string{"ok", strings.Repeat("l", 201)},
		RegionCode: "germany",
	})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("err = %v, want InvalidArgument", err)
	}
	if !apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED) {
		t.Fatalf("reason = %q", apierr.ReasonOf(err))
	}
	var fields []string
	for _, v := range apierr.FieldViolations(err) {
		fields = append(fields, v.Field+" "+v.Reason)
		if v.Description == "" {
			t.Errorf("violation %+v has no description", v)
		}
	}
	want := []string{"recipient STRING_MAX_LEN", "lines[1] STRING_MAX_LEN", "region_code STRING_PATTERN"}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Fatalf("field violations (-want +got):\n%s", diff)
	}
	if called {
		t.Fatal("handler called with an invalid request")
	}

	// A valid request passes through.
	if _, err := ts.client.Price(context.Background(), &commonv1.Money{AmountMinor: 1, CurrencyCode: "EUR"}); err != nil {
		t.Fatalf("valid request: %v", err)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	type principalKey struct{}
	principal := make(chan any, 1)
	auth := func(ctx context.Context, method string) (context.Context, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		switch k := md.Get("x-api-key"); {
		case len(k) == 0:
			return nil, apierr.Unauthenticated("missing api key")
		case k[0] == "good":
			return context.WithValue(ctx, principalKey{}, "channel-1"), nil
		default:
			return nil, errors.New("key lookup failed: db password=hunter2")
		}
	}
	ts := start(t, &grpcservertest.Probe{
		Unary: func(ctx context.Context, _ string, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			principal <- ctx.Value(principalKey{})
			return in, nil
		},
	}, grpcserver.WithAuth(auth))

	_, err := ts.client.Echo(context.Background(), "x")
	if !apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_UNAUTHENTICATED) || status.Convert(err).Message() != "missing api key" {
		t.Fatalf("no key: %v", err)
	}
	_, err = ts.client.Echo(metadata.AppendToOutgoingContext(context.Background(), "x-api-key", "bad"), "x")
	if status.Code(err) != codes.Unauthenticated || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("bad key: %v, want generic Unauthenticated", err)
	}
	if _, err := ts.client.Echo(metadata.AppendToOutgoingContext(context.Background(), "x-api-key", "good"), "x"); err != nil {
		t.Fatalf("good key: %v", err)
	}
	if p := <-principal; p != "channel-1" {
		t.Fatalf("handler saw principal %v", p)
	}
	// Streams go through the same hook.
	if _, err := ts.client.Repeat(context.Background(), "x"); !apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_UNAUTHENTICATED) {
		t.Fatalf("stream without key: %v", err)
	}
	if got, err := ts.client.Repeat(metadata.AppendToOutgoingContext(context.Background(), "x-api-key", "good"), "x"); err != nil || len(got) != 3 {
		t.Fatalf("stream with key: %v, %v", got, err)
	}
	// Probes need no credentials.
	if _, err := healthpb.NewHealthClient(ts.conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("health without key: %v", err)
	}
}

func TestHealthPerService(t *testing.T) {
	t.Parallel()
	ts := start(t, &grpcservertest.Probe{})
	hc := healthpb.NewHealthClient(ts.conn)
	check := func(service string) (healthpb.HealthCheckResponse_ServingStatus, error) {
		resp, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: service})
		return resp.GetStatus(), err
	}
	if st, err := check(grpcservertest.ServiceName); err != nil || st != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("registered service: %v %v", st, err)
	}
	if _, err := check("no.such.Service"); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown service: %v", err)
	}
	ts.srv.Health().SetServingStatus(grpcservertest.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
	if st, _ := check(grpcservertest.ServiceName); st != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("after SetServingStatus: %v", st)
	}
	if st, _ := check(""); st != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("overall: %v", st)
	}
	list, err := hc.List(context.Background(), &healthpb.HealthListRequest{})
	if err != nil || len(list.GetStatuses()) != 2 {
		t.Fatalf("List = %v, %v", list, err)
	}
}

func TestMetricsAndReadiness(t *testing.T) {
	t.Parallel()
	ts := start(t, &grpcservertest.Probe{})
	dbUp := true
	var mu sync.Mutex
	ts.srv.Admin().AddCheck("database", func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if !dbUp {
			return errors.New("ping: connection refused")
		}
		return nil
	})
	if _, err := ts.client.Echo(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	base := "http://" + ts.srv.AdminAddr().String()
	code, body := httpGet(t, base+"/metrics")
	for _, want := range []string{
		`grpc_server_handled_total{grpc_code="OK",grpc_method="Echo",grpc_service="transload.platformtest.v1.Probe",grpc_type="unary"} 1`,
		`grpc_server_handling_seconds_bucket{grpc_method="Echo"`,
		`go_goroutines`,
	} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("/metrics (%d) lacks %q", code, want)
		}
	}
	if code, _ := httpGet(t, base+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz = %d", code)
	}
	mu.Lock()
	dbUp = false
	mu.Unlock()
	if code, body := httpGet(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "database") {
		t.Fatalf("/readyz = %d %s", code, body)
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMaxMessageSize(t *testing.T) {
	t.Parallel()
	ts := start(t, &grpcservertest.Probe{}, grpcserver.WithMaxMessageSize(1024, 1024))
	if _, err := ts.client.Echo(context.Background(), strings.Repeat("x", 2048)); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("oversized request: %v, want ResourceExhausted", err)
	}
	if _, err := ts.client.Echo(context.Background(), "small"); err != nil {
		t.Fatalf("small request: %v", err)
	}
}

func listServices(t *testing.T, conn *grpc.ClientConn) ([]string, error) {
	t.Helper()
	return grpcservertest.ListServices(t.Context(), conn)
}

func TestReflectionOnThePublicListener(t *testing.T) {
	t.Parallel()
	// Reflection must work without credentials, as grpcurl list does
	// before the user has a key.
	denyAll := func(context.Context, string) (context.Context, error) {
		return nil, status.Error(codes.Unauthenticated, "no key")
	}
	ts := start(t, &grpcservertest.Probe{}, grpcserver.WithReflection(true), grpcserver.WithAuth(denyAll))

	names, err := listServices(t, ts.conn)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	want := []string{
		"grpc.health.v1.Health",
		"grpc.reflection.v1.ServerReflection",
		"grpc.reflection.v1alpha.ServerReflection",
		grpcservertest.ServiceName,
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("listed services (-want +got):\n%s", diff)
	}

	// The types a client meets in error details and health checks resolve
	// from the server alone.
	for _, tc := range []struct{ symbol, file string }{
		{"google.rpc.Status", "google/rpc/status.proto"},
		{"google.rpc.ErrorInfo", "google/rpc/error_details.proto"},
		{"google.rpc.BadRequest", "google/rpc/error_details.proto"},
		{"google.rpc.RetryInfo", "google/rpc/error_details.proto"},
		{"google.rpc.PreconditionFailure", "google/rpc/error_details.proto"},
		{"grpc.health.v1.Health", "grpc/health/v1/health.proto"},
		{"grpc.health.v1.HealthCheckResponse", "grpc/health/v1/health.proto"},
	} {
		t.Run(tc.symbol, func(t *testing.T) {
			file, err := grpcservertest.FileDeclaring(t.Context(), ts.conn, tc.symbol)
			if err != nil {
				t.Fatal(err)
			}
			if file != tc.file {
				t.Errorf("%s is declared in %q, want %q", tc.symbol, file, tc.file)
			}
		})
	}
	if _, err := grpcservertest.FileDeclaring(t.Context(), ts.conn, "google.rpc.NoSuchDetail"); status.Code(err) != codes.NotFound {
		t.Errorf("unknown symbol: %v, want NotFound", err)
	}

	// Reflection bypasses auth; the services behind it do not.
	if _, err := ts.client.Echo(context.Background(), "x"); status.Code(err) != codes.Unauthenticated {
		t.Errorf("Echo without a key: %v, want Unauthenticated", err)
	}
}

func TestReflectionOffByDefault(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string][]grpcserver.Option{
		"no option":             nil,
		"WithReflection(false)": {grpcserver.WithReflection(false)},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts := start(t, &grpcservertest.Probe{}, opts...)
			if _, err := listServices(t, ts.conn); status.Code(err) != codes.Unimplemented {
				t.Errorf("list services: %v, want Unimplemented", err)
			}
		})
	}
}

func TestReflectionOnlyOnInternalListener(t *testing.T) {
	t.Parallel()
	ts := start(t, &grpcservertest.Probe{}, grpcserver.WithInternalAddr("127.0.0.1:0"))
	if _, err := listServices(t, ts.conn); status.Code(err) != codes.Unimplemented {
		t.Fatalf("reflection on public listener: %v, want Unimplemented", err)
	}
	internal := dial(t, ts.srv.InternalAddr().String())
	names, err := listServices(t, internal)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(names, ","), grpcservertest.ServiceName) {
		t.Fatalf("internal reflection lists %v", names)
	}
	if _, err := grpcservertest.NewClient(internal).Echo(context.Background(), "x"); err != nil {
		t.Fatalf("service on internal listener: %v", err)
	}
}

func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	release := make(chan struct{})
	logs := &harness.Buffer{}
	srv, err := grpcserver.New(
		grpcserver.WithAddr("127.0.0.1:0"),
		grpcserver.WithAdminAddr("127.0.0.1:0"),
		grpcserver.WithLogger(logging.New(logs, "test", slog.LevelDebug)),
		grpcserver.WithShutdownTimeout(time.Minute),
	)
	if err != nil {
		t.Fatal(err)
	}
	grpcservertest.Register(srv, &grpcservertest.Probe{
		Unary: func(ctx context.Context, method string, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			if in.GetValue() == "slow" {
				close(entered)
				<-release
			}
			return wrapperspb.String("done:" + in.GetValue()), ctx.Err()
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- srv.Run(ctx) }()

	conn := dial(t, srv.Addr().String())
	client := grpcservertest.NewClient(conn)

	// A health watcher sees SERVING now, and must see NOT_SERVING once
	// shutdown starts, while the slow call is still running.
	watch, err := healthpb.NewHealthClient(conn).Watch(context.Background(), &healthpb.HealthCheckRequest{Service: grpcservertest.ServiceName})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("initial watch = %v, %v", resp, err)
	}

	slowResult := make(chan error, 1)
	go func() {
		got, err := client.Echo(context.Background(), "slow")
		if err == nil && got != "done:slow" {
			err = errors.New("unexpected reply " + got)
		}
		slowResult <- err
	}()
	<-entered

	cancel() // as SIGTERM would via signal.NotifyContext
	resp, err := watch.Recv()
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("watch after shutdown started = %v, %v; want NOT_SERVING", resp, err)
	}
	// The watch stream ends rather than holding GracefulStop open.
	if _, err := watch.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("watch stream after NOT_SERVING: %v, want EOF", err)
	}
	select {
	case err := <-runDone:
		t.Fatalf("Run returned (%v) while a call was in flight", err)
	default:
	}

	close(release)
	if err := <-slowResult; err != nil {
		t.Fatalf("in-flight call during shutdown: %v", err)
	}
	if err := <-runDone; err != nil {
		t.Fatalf("Run = %v", err)
	}

	// New calls are refused once the server is down.
	fresh := grpcservertest.NewClient(dial(t, srv.Addr().String()))
	cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ccancel()
	if _, err := fresh.Echo(cctx, "late"); status.Code(err) != codes.Unavailable {
		t.Fatalf("call after shutdown: %v, want Unavailable", err)
	}
	if _, err := net.DialTimeout("tcp", srv.AdminAddr().String(), time.Second); err == nil {
		t.Fatal("admin listener still accepting after shutdown")
	}
}

func TestShutdownTimeoutCutsOffStuckCalls(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	srv, err := grpcserver.New(
		grpcserver.WithAddr("127.0.0.1:0"),
		grpcserver.WithAdminAddr(""),
		grpcserver.WithLogger(slog.New(slog.DiscardHandler)),
		grpcserver.WithShutdownTimeout(50*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	grpcservertest.Register(srv, &grpcservertest.Probe{
		Unary: func(ctx context.Context, _ string, _ *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			close(entered)
			<-ctx.Done() // only Stop's cancellation ends this call
			return nil, ctx.Err()
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- srv.Run(ctx) }()
	client := grpcservertest.NewClient(dial(t, srv.Addr().String()))
	callErr := make(chan error, 1)
	go func() {
		_, err := client.Echo(context.Background(), "stuck")
		callErr <- err
	}()
	<-entered
	cancel()
	if err := <-runDone; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if err := <-callErr; err == nil {
		t.Fatal("stuck call succeeded after forced stop")
	}
}

func TestRunReturnsListenerFailure(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := grpcserver.New(grpcserver.WithListener(lis), grpcserver.WithAdminAddr(""),
		grpcserver.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	lis.Close() // Serve's Accept fails at once
	if err := srv.Run(context.Background()); err == nil {
		t.Fatal("Run returned nil after its listener failed")
	}
	if err := srv.Run(context.Background()); err == nil {
		t.Fatal("second Run accepted")
	}
}

func TestNewFailsOnBusyPort(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if _, err := grpcserver.New(grpcserver.WithAddr(busy.Addr().String()), grpcserver.WithAdminAddr("")); err == nil {
		t.Fatal("New bound a busy port")
	}
	srv, err := grpcserver.New(grpcserver.WithAddr("127.0.0.1:0"), grpcserver.WithAdminAddr(busy.Addr().String()))
	if err == nil {
		srv.Close()
		t.Fatal("New bound a busy admin port")
	}
}

// TestNewUsesInheritedListeners: sockets a launcher handed over under
// listen.EnvVar serve the gRPC and admin addresses. The test process holds
// both ports through the handed-over descriptors only, so a new
// net.Listen on them would fail: New succeeding and serving proves it
// took the inherited sockets.
func TestNewUsesInheritedListeners(t *testing.T) {
	var pairs []string
	var addrs []string
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		f, err := l.(*net.TCPListener).File()
		if err != nil {
			t.Fatal(err)
		}
		fd, err := syscall.Dup(int(f.Fd())) // owned by no os.File, as in a child
		f.Close()
		l.Close()
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, l.Addr().String())
		pairs = append(pairs, l.Addr().String()+"="+strconv.Itoa(fd))
	}
	t.Setenv(listen.EnvVar, strings.Join(pairs, ","))
	srv, err := grpcserver.New(grpcserver.WithAddr(addrs[0]), grpcserver.WithAdminAddr(addrs[1]))
	if err != nil {
		t.Fatalf("New on inherited sockets: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	if srv.Addr().String() != addrs[0] || srv.AdminAddr().String() != addrs[1] {
		t.Fatalf("serving on %s and %s, want %s and %s", srv.Addr(), srv.AdminAddr(), addrs[0], addrs[1])
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addrs[1] + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("admin /healthz = %d", resp.StatusCode)
	}
	conn, err := grpc.NewClient(addrs[0], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
	defer hcancel()
	if _, err := healthpb.NewHealthClient(conn).Check(hctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("gRPC health on the inherited listener: %v", err)
	}
}

func TestWithAdminServesTheGivenAdminServer(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	admin := adminhttp.New(reg)
	admin.AddCheck("seed", func(context.Context) error { return nil })
	if err := admin.Handle("GET /control/ping", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "pong")
	})); err != nil {
		t.Fatal(err)
	}
	srv, err := grpcserver.New(
		grpcserver.WithAddr("127.0.0.1:0"),
		grpcserver.WithAdminAddr("127.0.0.1:0"),
		grpcserver.WithLogger(slog.New(slog.DiscardHandler)),
		grpcserver.WithRegistry(reg),
		grpcserver.WithAdmin(admin),
	)
	if err != nil {
		t.Fatal(err)
	}
	if srv.Admin() != admin {
		t.Fatal("Admin() is not the server given with WithAdmin")
	}
	grpcservertest.Register(srv, &grpcservertest.Probe{})
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- srv.Run(ctx) }()
	if _, err := grpcservertest.NewClient(dial(t, srv.Addr().String())).Echo(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}

	base := "http://" + srv.AdminAddr().String()
	if code, body := httpGet(t, base+"/control/ping"); code != http.StatusOK || body != "pong" {
		t.Errorf("/control/ping = %d %q, want the route added to the given admin server", code, body)
	}
	if code, body := httpGet(t, base+"/readyz"); code != http.StatusOK || !strings.Contains(body, `"seed"`) {
		t.Errorf("/readyz = %d %s, want 200 with the given server's check", code, body)
	}
	if code, body := httpGet(t, base+"/metrics"); code != http.StatusOK || !strings.Contains(body, `grpc_server_handled_total{grpc_code="OK",grpc_method="Echo"`) {
		t.Errorf("/metrics = %d without the server's gRPC metrics in the shared registry", code)
	}

	cancel()
	if err := <-runDone; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep := admin.Ready(context.Background()); rep.Status != adminhttp.StatusDraining {
		t.Errorf("after shutdown the given admin server reports %q, want %q", rep.Status, adminhttp.StatusDraining)
	}
}
