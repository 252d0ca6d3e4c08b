package svcmain

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/transload/transload/platform/adminhttp"
	"github.com/transload/transload/platform/config"
	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/grpcserver/grpcservertest"
	"github.com/transload/transload/platform/testharness/harness"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/platform/tracing/tracingtest"
)

// Tests in this file call Start, which replaces slog's default logger and
// OpenTelemetry's globals, so none run in parallel.

// serviceConfig is a binary's configuration as the services write it.
type serviceConfig struct {
	Base
	Database
	Workers int `env:"WORKERS" default:"2"`
}

// start calls Start with env, logging to out, and closes the runtime
// when t ends; slog's default logger is restored then.
func start(t *testing.T, env map[string]string, out io.Writer, cfg Config) *Runtime {
	t.Helper()
	prev := slog.Default()
	t.Cleanup(func() { slog.SetDefault(prev) })
	rt, err := Start(t.Context(), "order", func(k string) string { return env[k] }, out, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := rt.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return rt
}

// serve runs a gRPC server made by rt with the Probe service until the
// returned stop is called (or t ends).
func serve(t *testing.T, rt *Runtime) (srv *grpcserver.Server, stop func()) {
	t.Helper()
	srv, err := rt.NewServer(grpcserver.WithAddr("127.0.0.1:0"), grpcserver.WithAdminAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	grpcservertest.Register(srv, &grpcservertest.Probe{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return srv, stop
}

// hasMetric reports whether rt's registry has a metric family name.
func hasMetric(t *testing.T, rt *Runtime, name string) bool {
	t.Helper()
	mfs, err := rt.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return true
		}
	}
	return false
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestStartWithAnEmptyEnvironment(t *testing.T) {
	var cfg serviceConfig
	var out bytes.Buffer // nothing logs concurrently: no server runs
	rt := start(t, nil, &out, &cfg)

	if cfg.ServiceName != "order" || cfg.LogLevel != "info" || cfg.Workers != 2 || cfg.Tracing.SampleRatio != 1 {
		t.Errorf("config %+v, want the defaults and SERVICE_NAME from Start's name", cfg)
	}
	lines := logLines(t, &out)
	if len(lines) != 1 || lines[0]["msg"] != "starting" || lines[0]["service"] != "order" {
		t.Fatalf("logs %v, want one \"starting\" line from service order", lines)
	}
	got, _ := lines[0]["config"].(map[string]any)
	for k, v := range map[string]string{
		"SERVICE_NAME": "order", "LOG_LEVEL": "info", "OTEL_EXPORTER_OTLP_ENDPOINT": "", "OTEL_TRACES_SAMPLER_ARG": "1",
		"GRPC_ADDR": "127.0.0.1:9005", "ADMIN_ADDR": "127.0.0.1:9105", "DATABASE_URL": config.Mask, "WORKERS": "2",
		"GRPC_REFLECTION": "false", "PPROF_ENABLED": "false",
	} {
		if got[k] != v {
			t.Errorf("logged config[%s] = %v, want %q", k, got[k], v)
		}
	}
	if slog.Default() != rt.Logger() {
		t.Error("the runtime's logger is not slog's default")
	}

	// No endpoint: spans are not recorded, but the provider is installed.
	_, span := rt.TracerProvider().Tracer("test").Start(context.Background(), "x")
	if span.IsRecording() {
		t.Error("spans are recorded without an OTLP endpoint")
	}
	if otel.GetTracerProvider() != rt.TracerProvider() {
		t.Error("the runtime's tracer provider is not the global one")
	}
	if !hasMetric(t, rt, "go_goroutines") || !hasMetric(t, rt, "process_start_time_seconds") {
		t.Error("the registry lacks the Go and process collectors")
	}
	if rep := rt.Admin().Ready(t.Context()); rep.Status != adminhttp.StatusOK {
		t.Errorf("readiness with no checks = %q, want ok", rep.Status)
	}
	if err := rt.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := rt.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestStartLogsTheConfigurationWithSecretsMasked(t *testing.T) {
	const dsn = "postgres://app:hunter2@db:5432/orders"
	var cfg serviceConfig
	var out bytes.Buffer
	start(t, map[string]string{"DATABASE_URL": dsn, "SERVICE_NAME": "order-eu", "LOG_LEVEL": "debug"}, &out, &cfg)
	if cfg.DatabaseURL != dsn {
		t.Fatalf("DATABASE_URL loaded as %q", cfg.DatabaseURL)
	}
	logs := out.String()
	if strings.Contains(logs, "hunter2") {
		t.Fatalf("the secret is logged: %s", logs)
	}
	lines := logLines(t, &out)
	if len(lines) == 0 {
		t.Fatal("nothing logged")
	}
	got, _ := lines[0]["config"].(map[string]any)
	if got["DATABASE_URL"] != config.Mask || got["SERVICE_NAME"] != "order-eu" || lines[0]["service"] != "order-eu" {
		t.Errorf("first record %v, want DATABASE_URL masked and service order-eu from SERVICE_NAME", lines[0])
	}
}

func TestGRPCReflectionSetting(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want codes.Code // of a reflection call to the server rt makes
	}{
		{"off by default", nil, codes.Unimplemented},
		{"off", map[string]string{"GRPC_REFLECTION": "false"}, codes.Unimplemented},
		{"on", map[string]string{"GRPC_REFLECTION": "true"}, codes.OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg serviceConfig
			rt := start(t, tc.env, io.Discard, &cfg)
			srv, _ := serve(t, rt)
			conn, err := grpc.NewClient(srv.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			names, err := grpcservertest.ListServices(t.Context(), conn)
			if status.Code(err) != tc.want {
				t.Fatalf("list services: %v, want %v", err, tc.want)
			}
			if tc.want == codes.OK && !slices.Contains(names, grpcservertest.ServiceName) {
				t.Errorf("reflection lists %v, want %s among them", names, grpcservertest.ServiceName)
			}
		})
	}
}

// TestProfilingSetting: PPROF_ENABLED mounts net/http/pprof on the admin
// listener of the server rt makes, and only then.
func TestProfilingSetting(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want int // status of GET /debug/pprof/
	}{
		{"off by default", nil, http.StatusNotFound},
		{"off", map[string]string{"PPROF_ENABLED": "false"}, http.StatusNotFound},
		{"on", map[string]string{"PPROF_ENABLED": "true"}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg serviceConfig
			rt := start(t, tc.env, io.Discard, &cfg)
			srv, _ := serve(t, rt)
			base := "http://" + srv.AdminAddr().String()
			if code, body := httpGet(t, base+"/debug/pprof/"); code != tc.want {
				t.Fatalf("GET /debug/pprof/ = %d %.200q, want %d", code, body, tc.want)
			}
			if tc.want != http.StatusOK {
				return
			}
			code, body := httpGet(t, base+"/debug/pprof/profile?seconds=1")
			if code != http.StatusOK || !isGzip(body) {
				t.Fatalf("GET /debug/pprof/profile?seconds=1 = %d, %d bytes (gzip %v), want a CPU profile", code, len(body), isGzip(body))
			}
		})
	}
}

// isGzip reports whether b is gzip data, as a pprof profile is.
func isGzip(b string) bool {
	zr, err := gzip.NewReader(strings.NewReader(b))
	if err != nil {
		return false
	}
	n, err := io.Copy(io.Discard, zr)
	return err == nil && n > 0
}

func TestStartErrors(t *testing.T) {
	prev := slog.Default()
	t.Cleanup(func() { slog.SetDefault(prev) })
	for _, tc := range []struct {
		name    string
		service string
		env     map[string]string
		want    string
	}{
		{"unknown log level", "order", map[string]string{"LOG_LEVEL": "chatty"}, "LOG_LEVEL"},
		{"sample ratio out of range", "order", map[string]string{"OTEL_TRACES_SAMPLER_ARG": "2"}, "OTEL_TRACES_SAMPLER_ARG"},
		{"malformed field", "order", map[string]string{"WORKERS": "many"}, "WORKERS"},
		{"malformed GRPC_REFLECTION", "order", map[string]string{"GRPC_REFLECTION": "on"}, "GRPC_REFLECTION"},
		{"malformed PPROF_ENABLED", "order", map[string]string{"PPROF_ENABLED": "yes"}, "PPROF_ENABLED"},
		{"unknown access log mode", "order", map[string]string{"LOG_ACCESS": "verbose"}, "LOG_ACCESS"},
		{"service outside the port plan", "invoicing", nil, `unknown service "invoicing"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			var cfg serviceConfig
			rt, err := Start(t.Context(), tc.service, func(k string) string { return tc.env[k] }, &out, &cfg)
			if rt != nil || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start = %v, %v; want an error naming %s", rt, err, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("logged before failing: %s", out.String())
			}
		})
	}
	var fe *config.FieldError
	_, err := Start(t.Context(), "order", func(k string) string { return map[string]string{"WORKERS": "x"}[k] }, io.Discard, &serviceConfig{})
	if !errors.As(err, &fe) || fe.Var != "WORKERS" {
		t.Errorf("err %v, want the *config.FieldError for WORKERS", err)
	}
}

func TestStartExportsSpansToTheOTLPEndpoint(t *testing.T) {
	rcv := tracingtest.Start(t)
	var cfg serviceConfig
	rt := start(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.Endpoint()}, io.Discard, &cfg)
	srv, stop := serve(t, rt)

	// A client tied to the runtime calls the server tied to it: both
	// sides' otelgrpc spans go to the receiver, in one trace.
	conn, err := grpcclient.Dial(srv.Addr().String(), append(rt.ClientOptions(), grpcclient.WithoutBreaker())...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := grpcservertest.NewClient(conn).Echo(t.Context(), "hello"); err != nil {
		t.Fatal(err)
	}
	stop()
	if !hasMetric(t, rt, "grpc_client_handled_total") || !hasMetric(t, rt, "grpc_server_handled_total") {
		t.Error("the client's and the server's metrics are not in the runtime's registry")
	}
	// Close flushes the batch the exporter still holds.
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	name := grpcservertest.ServiceName + "/Echo"
	server := rcv.WaitFor(t, 10*time.Second, "the server span of Echo from order", func(s tracingtest.Span) bool {
		return s.Service == "order" && s.Name == name && s.Proto.GetKind().String() == "SPAN_KIND_SERVER"
	})
	client := rcv.WaitFor(t, 10*time.Second, "the client span of Echo from order", func(s tracingtest.Span) bool {
		return s.Service == "order" && s.Name == name && s.Proto.GetKind().String() == "SPAN_KIND_CLIENT"
	})
	if server.TraceID != client.TraceID || server.ParentSpanID != client.SpanID {
		t.Errorf("server span %v is not the child of client span %v", server, client)
	}
}

func TestAdminServesExtraRoutesAndReadiness(t *testing.T) {
	var cfg serviceConfig
	rt := start(t, map[string]string{"DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "parcels.db")}, io.Discard, &cfg)
	db, err := rt.OpenDB(t.Context(), cfg.DatabaseURL, migrateParcels)
	if err != nil {
		t.Fatal(err)
	}
	var seeded atomic.Bool
	rt.Admin().AddCheck("seed", func(context.Context) error {
		return wait.Check(seeded.Load(), "demo data not seeded")
	})
	if err := rt.Admin().Handle("GET /control/faults", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"faults":[]}`)
	})); err != nil {
		t.Fatal(err)
	}
	srv, _ := serve(t, rt)
	base := "http://" + srv.AdminAddr().String()

	if code, body := httpGet(t, base+"/control/faults"); code != http.StatusOK || body != `{"faults":[]}` {
		t.Errorf("GET /control/faults = %d %q, want the binary's route", code, body)
	}
	code, body := httpGet(t, base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "demo data not seeded") || !strings.Contains(body, `"database"`) {
		t.Errorf("/readyz before seeding = %d %s, want 503 naming the seed check, with the database check", code, body)
	}
	seeded.Store(true)
	if code, body := httpGet(t, base+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after seeding = %d %s, want 200", code, body)
	}
	if code, body := httpGet(t, base+"/metrics"); code != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics = %d, want the runtime's registry", code)
	}

	// Close closes the database OpenDB opened.
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(context.Background()); err == nil {
		t.Error("the database is still open after Close")
	}
}

func TestBindLoadsStartsServesAndCloses(t *testing.T) {
	prev := slog.Default()
	t.Cleanup(func() { slog.SetDefault(prev) })
	var (
		got    *serviceConfig
		gotRT  *Runtime
		logged harness.Buffer
	)
	run := Bind("order", func(ctx context.Context, rt *Runtime, cfg *serviceConfig) error {
		got, gotRT = cfg, rt
		return errors.New("served")
	})
	env := map[string]string{"GRPC_ADDR": "127.0.0.1:0", "ADMIN_ADDR": "127.0.0.1:0"}
	err := run(t.Context(), func(k string) string { return env[k] }, &logged)
	if err == nil || err.Error() != "served" {
		t.Fatalf("run = %v, want serve's error", err)
	}
	if got == nil || gotRT == nil || got.GRPCAddr != "127.0.0.1:0" || got.ServiceName != "order" {
		t.Fatalf("serve got config %+v and runtime %v, want the loaded configuration", got, gotRT)
	}
	if recs := logged.Records(t); len(recs) == 0 || recs[0]["msg"] != "starting" {
		t.Fatalf("logs %v, want the starting line first", recs)
	}
	bad := Bind("order", func(context.Context, *Runtime, *serviceConfig) error {
		t.Fatal("serve called despite a configuration error")
		return nil
	})
	if err := bad(t.Context(), func(k string) string {
		if k == "LOG_LEVEL" {
			return "chatty"
		}
		return ""
	}, io.Discard); err == nil {
		t.Fatal("run with LOG_LEVEL=chatty succeeded")
	}
}

// TestAdminTokenSetting: ADMIN_TOKEN reaches the admin server, so a caller
// from beyond loopback gets /metrics with it and 401 without; unset, such
// a caller gets /metrics but not the profiles (403). The token is masked
// in the logged configuration.
func TestAdminTokenSetting(t *testing.T) {
	const token = "admin-token-1234567890"
	for _, tc := range []struct {
		name       string
		env        map[string]string
		path       string
		bare, with int // status without and with the token
	}{
		{"unset", map[string]string{"PPROF_ENABLED": "true"}, "/debug/pprof/", http.StatusForbidden, http.StatusForbidden},
		{"unset metrics", nil, "/metrics", http.StatusOK, http.StatusOK},
		{"set", map[string]string{"ADMIN_TOKEN": token}, "/metrics", http.StatusUnauthorized, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg serviceConfig
			var out bytes.Buffer
			rt := start(t, tc.env, &out, &cfg)
			if strings.Contains(out.String(), token) {
				t.Errorf("the token is logged: %s", out.String())
			}
			for auth, want := range map[string]int{"": tc.bare, "Bearer " + token: tc.with} {
				req := httptest.NewRequest(http.MethodGet, tc.path, nil) // from 192.0.2.1, not loopback
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				rec := httptest.NewRecorder()
				rt.Admin().Handler().ServeHTTP(rec, req)
				if rec.Code != want {
					t.Errorf("GET %s from %s with %q = %d, want %d", tc.path, req.RemoteAddr, auth, rec.Code, want)
				}
			}
		})
	}
}
