package grpcserver_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/grpcserver/grpcservertest"
	"github.com/transload/transload/platform/meshtls"
)

// meshDir makes a mesh folder in t.TempDir() with certificates for
// services, as the launcher does.
func meshDir(t *testing.T, services ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mesh")
	if err := meshtls.EnsureMesh(dir, services, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	return dir
}

func member(t *testing.T, dir, service string) *meshtls.Member {
	t.Helper()
	m, err := meshtls.LoadMember(dir, service)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// meshClient dials addr as service (its certificate from dir), expecting
// the server to be peer.
func meshClient(t *testing.T, addr, dir, service, peer string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpcclient.Dial(addr, grpcclient.WithMeshTLS(member(t, dir, service)),
		grpcclient.WithDependency(peer), grpcclient.WithoutBreaker(), grpcclient.WithDefaultTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// probeCallers is a table like a service's callers.go: Create only from
// order, the rest of the service from order and the gateway.
var probeCallers = grpcserver.Callers{
	grpcservertest.MethodCreate:             {"order"},
	"/" + grpcservertest.ServiceName + "/*": {"order", "gateway"},
}

func wantDenied(t *testing.T, err error, caller string) {
	t.Helper()
	if status.Code(err) != codes.PermissionDenied || apierr.ReasonOf(err) != commonv1.ErrorReason_ERROR_REASON_PERMISSION_DENIED.String() {
		t.Fatalf("err = %v, want PERMISSION_DENIED with reason ERROR_REASON_PERMISSION_DENIED", err)
	}
	if got := apierr.Info(err).GetMetadata()["caller"]; got != caller {
		t.Errorf("ErrorInfo caller = %q, want %q", got, caller)
	}
}

func TestMeshAuthorizesCallersByVerifiedIdentity(t *testing.T) {
	t.Parallel()
	dir := meshDir(t, "inventory", "order", "gateway", "notify")
	var handled atomic.Int64
	ts := start(t, &grpcservertest.Probe{
		Unary: func(_ context.Context, _ string, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			handled.Add(1)
			return in, nil
		},
	}, grpcserver.WithMesh(member(t, dir, "inventory"), probeCallers))
	addr := ts.srv.Addr().String()
	ctx := context.Background()

	order := grpcservertest.NewClient(meshClient(t, addr, dir, "order", "inventory"))
	if _, err := order.Create(ctx, "reserve"); err != nil {
		t.Fatalf("order Create: %v", err)
	}
	gatewayConn := meshClient(t, addr, dir, "gateway", "inventory")
	gateway := grpcservertest.NewClient(gatewayConn)
	if _, err := gateway.Get(ctx, "read"); err != nil {
		t.Fatalf("gateway Get (service-wide entry): %v", err)
	}
	if got, err := gateway.Repeat(ctx, "a"); err != nil || len(got) == 0 {
		t.Fatalf("gateway Repeat stream: %v %v", got, err)
	}
	before := handled.Load()
	_, err := gateway.Create(ctx, "mutation")
	wantDenied(t, err, "gateway")
	if _, err := healthpb.NewHealthClient(gatewayConn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health check by a member: %v", err)
	}

	notifyConn := meshClient(t, addr, dir, "notify", "inventory")
	notify := grpcservertest.NewClient(notifyConn)
	_, err = notify.Get(ctx, "read")
	wantDenied(t, err, "notify")
	_, err = notify.Repeat(ctx, "a")
	wantDenied(t, err, "notify")
	if n := handled.Load(); n != before {
		t.Errorf("refused calls reached the handler %d times", n-before)
	}
}

func TestMeshRefusesConnectionsOutsideTheMesh(t *testing.T) {
	t.Parallel()
	dir := meshDir(t, "inventory", "order")
	var handled atomic.Int64
	ts := start(t, &grpcservertest.Probe{
		Unary: func(_ context.Context, _ string, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			handled.Add(1)
			return in, nil
		},
	}, grpcserver.WithMesh(member(t, dir, "inventory"), probeCallers))
	addr := ts.srv.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// start's own client is plaintext.
	if _, err := ts.client.Get(ctx, "x"); status.Code(err) != codes.Unavailable {
		t.Errorf("plaintext client: %v, want UNAVAILABLE (handshake refused)", err)
	}
	// A certificate for "order" from another CA.
	other := meshDir(t, "order")
	if _, err := grpcservertest.NewClient(meshClient(t, addr, other, "order", "inventory")).Get(ctx, "x"); status.Code(err) != codes.Unavailable {
		t.Errorf("client of another CA: %v, want UNAVAILABLE", err)
	}
	// A member dialling the address as if it were order: the server is
	// inventory, so the client refuses it.
	if _, err := grpcservertest.NewClient(meshClient(t, addr, dir, "order", "order")).Get(ctx, "x"); status.Code(err) != codes.Unavailable {
		t.Errorf("client expecting another service: %v, want UNAVAILABLE", err)
	}
	if n := handled.Load(); n != 0 {
		t.Errorf("%d calls from outside the mesh reached the handler", n)
	}
}

func TestCallersWithoutMeshTLSRefuseEveryCall(t *testing.T) {
	t.Parallel()
	ts := start(t, &grpcservertest.Probe{}, grpcserver.WithCallers(probeCallers))
	_, err := ts.client.Get(context.Background(), "x")
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("plaintext call under a callers table: %v, want PERMISSION_DENIED", err)
	}
}

func TestCallersAllowed(t *testing.T) {
	t.Parallel()
	c := grpcserver.Callers{
		"/a.v1.S/Reserve": {"order"},
		"/a.v1.S/*":       {"gateway", "order"},
	}
	for _, tc := range []struct {
		method, id string
		want       bool
	}{
		{"/a.v1.S/Reserve", "order", true},
		{"/a.v1.S/Reserve", "gateway", false}, // the exact entry replaces the service's
		{"/a.v1.S/Get", "gateway", true},
		{"/a.v1.S/Get", "notify", false},
		{"/a.v1.Other/Get", "gateway", false}, // a service the table does not name
		{"/grpc.health.v1.Health/Check", "notify", true},
		{"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "notify", true},
		{"malformed", "order", false},
	} {
		if got := c.Allowed(tc.method, tc.id); got != tc.want {
			t.Errorf("Allowed(%s, %s) = %v, want %v", tc.method, tc.id, got, tc.want)
		}
	}
}

func TestCallersCheck(t *testing.T) {
	t.Parallel()
	known := []string{"order", "gateway"}
	ok := grpcserver.Callers{
		grpcservertest.MethodCreate:             {"order"},
		"/" + grpcservertest.ServiceName + "/*": {"gateway"},
	}
	if err := ok.Check(known, &grpcservertest.ServiceDesc); err != nil {
		t.Fatalf("Check of a complete table: %v", err)
	}
	for name, c := range map[string]grpcserver.Callers{
		"method open to no one": {grpcservertest.MethodGet: {"order"}},
		"unknown method":        {"/" + grpcservertest.ServiceName + "/*": {"order"}, "/x.v1.S/Gone": {"order"}},
		"unknown identity":      {"/" + grpcservertest.ServiceName + "/*": {"ordr"}},
	} {
		if err := c.Check(known, &grpcservertest.ServiceDesc); err == nil {
			t.Errorf("%s: Check passed", name)
		}
	}
}

// TestMeshRefusesBeforeValidation: a refused caller gets PERMISSION_DENIED
// even for a request validation would reject, and a hook installed with
// WithAuth before WithMesh still runs for allowed callers.
func TestMeshRefusesBeforeValidation(t *testing.T) {
	t.Parallel()
	dir := meshDir(t, "inventory", "order", "gateway")
	var authed atomic.Int64
	ts := start(t, &grpcservertest.Probe{},
		grpcserver.WithAuth(func(ctx context.Context, _ string) (context.Context, error) {
			authed.Add(1)
			return ctx, nil
		}),
		grpcserver.WithMesh(member(t, dir, "inventory"), grpcserver.Callers{grpcservertest.MethodPrice: {"order"}}))
	addr := ts.srv.Addr().String()
	invalid := &commonv1.Money{CurrencyCode: "not a currency"}
	_, err := grpcservertest.NewClient(meshClient(t, addr, dir, "gateway", "inventory")).Price(context.Background(), invalid)
	wantDenied(t, err, "gateway")
	if authed.Load() != 0 {
		t.Error("the WithAuth hook ran for a refused caller")
	}
	_, err = grpcservertest.NewClient(meshClient(t, addr, dir, "order", "inventory")).Price(context.Background(), invalid)
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("allowed caller, invalid request: %v, want INVALID_ARGUMENT", err)
	}
	if authed.Load() != 1 {
		t.Errorf("WithAuth hook ran %d times, want once (for the allowed caller)", authed.Load())
	}
}

// BenchmarkMeshTLSUnary measures a unary call over an established
// connection with mutual TLS and the callers check against the same call
// in plaintext, in the same run (compare the two ns/op): the handshake is
// paid once per connection, so this is the steady per-call cost.
func BenchmarkMeshTLSUnary(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "mesh")
	if err := meshtls.EnsureMesh(dir, []string{"inventory", "order"}, time.Now(), time.Hour); err != nil {
		b.Fatal(err)
	}
	load := func(s string) *meshtls.Member {
		m, err := meshtls.LoadMember(dir, s)
		if err != nil {
			b.Fatal(err)
		}
		return m
	}
	for _, tc := range []struct {
		name string
		srv  []grpcserver.Option
		cli  []grpcclient.Option
	}{
		{"plaintext", nil, nil},
		{"mesh-tls", []grpcserver.Option{grpcserver.WithMesh(load("inventory"), probeCallers)},
			[]grpcclient.Option{grpcclient.WithMeshTLS(load("order")), grpcclient.WithDependency("inventory")}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv, err := grpcserver.New(append([]grpcserver.Option{grpcserver.WithAddr("127.0.0.1:0"), grpcserver.WithAdminAddr(""),
				grpcserver.WithLogger(slog.New(slog.DiscardHandler))}, tc.srv...)...)
			if err != nil {
				b.Fatal(err)
			}
			grpcservertest.Register(srv, &grpcservertest.Probe{})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- srv.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					b.Error(err)
				}
			}()
			conn, err := grpcclient.Dial(srv.Addr().String(), append(tc.cli, grpcclient.WithoutBreaker())...)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			c := grpcservertest.NewClient(conn)
			if _, err := c.Get(ctx, "warm"); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Get(ctx, "x"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
