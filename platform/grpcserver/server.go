// Package grpcserver builds the gRPC server every Transload service and the
// gateway run: one constructor wires the standard interceptor chain, health,
// metrics, tracing, limits and keepalive; Run serves the gRPC listener, the
// admin HTTP listener (see adminhttp) and an optional internal listener with
// reflection, and shuts all of them down gracefully when its context ends.
// WithReflection serves reflection on the gRPC listener itself, so grpcurl
// and `buf curl` work against a binary with no proto files at hand.
//
// The unary chain, outermost first:
//
//  0. interceptors added with WithFirstUnaryInterceptors
//  1. panic recovery (any panic in the chain → Internal, generic message, stack logged)
//  2. correlation id (x-correlation-id from metadata or new; in ctx, logs and span; sent back in the
//     response header, or in the trailer when the call fails so failures stay retryable)
//  3. default deadline for calls that carry none
//  4. access log (method, code, duration, correlation id): every failed call; successful ones
//     all (default), none or 1 in 100 as WithAccessLog says
//  5. Prometheus server metrics with handling-time histogram (go-grpc-middleware's
//     grpc_server_* families; each method's series looked up once, see serverMetrics)
//  6. panic recovery again, so log and metrics see a handler panic as Internal
//  7. authentication hook (WithAuth)
//  8. protovalidate (violations → InvalidArgument + BadRequest + VALIDATION_FAILED)
//  9. interceptors added with WithUnaryInterceptors
//
// Steps 1–8 run as one interceptor (standardUnary), which costs less per
// call than eight chained ones and behaves the same.
//
// OpenTelemetry tracing is an otelgrpc stats handler, which gRPC runs around
// the whole chain. Streams get the same chain except the default deadline.
//
// LocalConn calls the registered services in process through the same
// unary chain, for a front end in the same binary (the gateway's REST
// side) that would otherwise dial its own listener.
package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"buf.build/go/protovalidate"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	// Linked for their descriptors: reflection resolves names from
	// protoregistry.GlobalFiles, and a status's details are Any messages of
	// these types, which clients can only decode if reflection serves them.
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"
	_ "google.golang.org/genproto/googleapis/rpc/status"

	"github.com/transload/transload/platform/adminhttp"
	"github.com/transload/transload/platform/listen"
	"github.com/transload/transload/platform/logging"
)

// Defaults for the options below.
const (
	DefaultDeadline        = 30 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
	DefaultMaxRecvMsgSize  = 4 << 20
	DefaultMaxSendMsgSize  = 16 << 20
)

// Keepalive policy. Clients must not ping more often than
// KeepaliveMinClientPingInterval (grpcclient pings every 30s, well above
// it); pings without active calls are allowed so idle pooled connections to
// a quiet service survive middleboxes. The server pings idle clients every
// KeepaliveServerPingInterval and drops those that do not answer.
const (
	KeepaliveMinClientPingInterval = 10 * time.Second
	KeepaliveServerPingInterval    = 60 * time.Second
	KeepaliveServerPingTimeout     = 20 * time.Second
)

type options struct {
	logger          *slog.Logger
	registry        *prometheus.Registry
	tracerProvider  trace.TracerProvider
	addr            string
	lis             net.Listener
	adminAddr       string
	adminLis        net.Listener
	admin           *adminhttp.Server
	internalAddr    string
	internalLis     net.Listener
	reflection      bool
	auth            AuthFunc
	defaultDeadline time.Duration
	maxRecv         int
	maxSend         int
	shutdownTimeout time.Duration
	drainDelay      time.Duration
	checkTimeout    time.Duration
	accessLog       AccessLog
	firstUnary      []grpc.UnaryServerInterceptor
	unary           []grpc.UnaryServerInterceptor
	stream          []grpc.StreamServerInterceptor
	serverOpts      []grpc.ServerOption
}

// Option configures a Server.
type Option func(*options)

// WithLogger sets the logger (default slog.Default()); it is wrapped so every
// record carries the call's correlation and trace ids.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithRegistry sets the Prometheus registry for server metrics and /metrics.
// By default a new registry with Go runtime and process collectors is used.
func WithRegistry(r *prometheus.Registry) Option { return func(o *options) { o.registry = r } }

// WithTracerProvider sets the tracer provider for the otelgrpc stats handler
// (default: the global one installed by tracing.Setup).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracerProvider = tp }
}

// WithAddr sets the gRPC listen address (default ":8080"). A socket for
// addr inherited from the parent process is used when there is one
// (platform/listen), else New listens on addr.
func WithAddr(addr string) Option { return func(o *options) { o.addr = addr } }

// WithListener serves gRPC on lis instead of listening on an address.
func WithListener(lis net.Listener) Option { return func(o *options) { o.lis = lis } }

// WithAdminAddr sets the admin HTTP listen address (default ":9090"); ""
// disables the admin listener. Inherited sockets count as for WithAddr.
func WithAdminAddr(addr string) Option { return func(o *options) { o.adminAddr = addr } }

// WithAdminListener serves the admin HTTP routes on lis.
func WithAdminListener(lis net.Listener) Option { return func(o *options) { o.adminLis = lis } }

// WithAdmin serves admin on the admin listener, with the readiness checks
// and extra routes its owner registers, instead of an admin server New
// builds. svcmain uses it so that one admin server, made before the gRPC
// server, carries the binary's readiness from start-up on. admin serves
// the metrics of the gatherer it was made with: pass the same registry
// with WithRegistry. WithReadinessCheckTimeout does not apply to it. Run
// still marks it draining on shutdown.
func WithAdmin(admin *adminhttp.Server) Option { return func(o *options) { o.admin = admin } }

// WithInternalAddr enables a second gRPC listener, meant to be reachable only
// from inside the cluster, that serves the same services plus server
// reflection for tools such as grpcurl. Off by default.
func WithInternalAddr(addr string) Option { return func(o *options) { o.internalAddr = addr } }

// WithInternalListener is WithInternalAddr with a ready listener.
func WithInternalListener(lis net.Listener) Option { return func(o *options) { o.internalLis = lis } }

// WithReflection serves gRPC server reflection (grpc.reflection.v1 and
// v1alpha, for old clients) on the gRPC listener when on is true; off by
// default, so a production port does not describe its API to whoever
// asks. Reflection calls bypass WithAuth, as health checks do, so tools
// can list and describe before holding a key. The descriptors it serves
// include google.rpc.Status, the google.rpc error details
// (ErrorInfo, BadRequest, RetryInfo, PreconditionFailure, ...) and
// grpc.health.v1, so a client decodes error details without proto files.
func WithReflection(on bool) Option { return func(o *options) { o.reflection = on } }

// WithAuth installs the authentication hook.
func WithAuth(f AuthFunc) Option { return func(o *options) { o.auth = f } }

// WithDefaultDeadline sets the deadline given to unary calls that arrive
// without one (default DefaultDeadline; 0 disables).
func WithDefaultDeadline(d time.Duration) Option { return func(o *options) { o.defaultDeadline = d } }

// WithMaxMessageSize sets the largest request (recv) and response (send)
// message in bytes.
func WithMaxMessageSize(recv, send int) Option {
	return func(o *options) { o.maxRecv, o.maxSend = recv, send }
}

// WithShutdownTimeout bounds how long in-flight calls may take to finish
// after shutdown starts before they are cut off (default
// DefaultShutdownTimeout).
func WithShutdownTimeout(d time.Duration) Option { return func(o *options) { o.shutdownTimeout = d } }

// WithDrainDelay keeps serving for d after health and readiness turn
// NOT_SERVING, so load balancers stop routing before connections close
// (default 0; set to a few seconds behind Kubernetes Services).
func WithDrainDelay(d time.Duration) Option { return func(o *options) { o.drainDelay = d } }

// WithReadinessCheckTimeout bounds each /readyz check (default
// adminhttp.DefaultCheckTimeout).
func WithReadinessCheckTimeout(d time.Duration) Option {
	return func(o *options) { o.checkTimeout = d }
}

// WithUnaryInterceptors appends interceptors after the standard chain.
func WithUnaryInterceptors(i ...grpc.UnaryServerInterceptor) Option {
	return func(o *options) { o.unary = append(o.unary, i...) }
}

// WithFirstUnaryInterceptors puts interceptors before the standard
// chain (outermost, before panic recovery), e.g. one that fills request
// fields from metadata before validation. Unlike a grpc.UnaryInterceptor
// passed with WithServerOptions, they also run for LocalConn calls.
func WithFirstUnaryInterceptors(i ...grpc.UnaryServerInterceptor) Option {
	return func(o *options) { o.firstUnary = append(o.firstUnary, i...) }
}

// WithStreamInterceptors appends stream interceptors after the standard chain.
func WithStreamInterceptors(i ...grpc.StreamServerInterceptor) Option {
	return func(o *options) { o.stream = append(o.stream, i...) }
}

// WithServerOptions passes extra options (e.g. TLS credentials) to
// grpc.NewServer.
func WithServerOptions(opts ...grpc.ServerOption) Option {
	return func(o *options) { o.serverOpts = append(o.serverOpts, opts...) }
}

// Server is a gRPC server with the standard chain, health, admin HTTP and
// graceful shutdown. It implements grpc.ServiceRegistrar, so generated
// RegisterXServer functions take it directly.
type Server struct {
	opts     options
	logger   *slog.Logger
	grpc     *grpc.Server
	internal *grpc.Server
	health   *Health
	admin    *adminhttp.Server
	metrics  *serverMetrics
	registry *prometheus.Registry

	lis, adminLis, internalLis net.Listener

	// unaryChain is the unary chain as one interceptor, for LocalConn;
	// local holds the registered unary methods by full name.
	unaryChain grpc.UnaryServerInterceptor
	localMu    sync.RWMutex
	local      map[string]localMethod
	// stopping is set when shutdown stops taking new calls (after the drain
	// delay); LocalConn refuses calls from then on.
	stopping atomic.Bool

	mu  sync.Mutex
	ran bool
}

var _ grpc.ServiceRegistrar = (*Server)(nil)

// New builds the server and binds its listeners (so Addr is known and port
// conflicts surface here). Call Run, or Close if Run will not be called.
func New(opts ...Option) (*Server, error) {
	o := options{
		logger:          slog.Default(),
		addr:            ":8080",
		adminAddr:       ":9090",
		defaultDeadline: DefaultDeadline,
		maxRecv:         DefaultMaxRecvMsgSize,
		maxSend:         DefaultMaxSendMsgSize,
		shutdownTimeout: DefaultShutdownTimeout,
		checkTimeout:    adminhttp.DefaultCheckTimeout,
	}
	for _, opt := range opts {
		opt(&o)
	}
	s := &Server{opts: o, logger: logging.WithContextIDs(o.logger), health: NewHealth()}

	s.registry = o.registry
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
		s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	s.metrics = newServerMetrics()
	if err := s.registry.Register(s.metrics); err != nil {
		return nil, fmt.Errorf("grpcserver: register metrics: %w", err)
	}

	validator, err := protovalidate.New()
	if err != nil {
		return nil, fmt.Errorf("grpcserver: protovalidate: %w", err)
	}
	s.admin = o.admin
	if s.admin == nil {
		s.admin = adminhttp.New(s.registry, adminhttp.WithLogger(s.logger), adminhttp.WithCheckTimeout(o.checkTimeout))
	}

	serverOpts := s.serverOptions(validator)
	s.grpc = grpc.NewServer(serverOpts...)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	s.registerLocal(&healthpb.Health_ServiceDesc, s.health)
	if o.reflection {
		reflection.Register(s.grpc)
	}

	if err := s.listen(); err != nil {
		return nil, err
	}
	if s.internalLis != nil {
		s.internal = grpc.NewServer(serverOpts...)
		healthpb.RegisterHealthServer(s.internal, s.health)
		reflection.Register(s.internal)
	}
	return s, nil
}

func (s *Server) serverOptions(v protovalidate.Validator) []grpc.ServerOption {
	o := s.opts
	otelOpts := []otelgrpc.Option{}
	if o.tracerProvider != nil {
		otelOpts = append(otelOpts, otelgrpc.WithTracerProvider(o.tracerProvider))
	}
	access := &accessLogger{logger: s.logger, mode: o.accessLog}
	std := &standardUnary{logger: s.logger, access: access, deadline: o.defaultDeadline,
		metrics: s.metrics, auth: o.auth, v: v}
	unary := slices.Concat(o.firstUnary, []grpc.UnaryServerInterceptor{std.intercept}, o.unary)
	stream := []grpc.StreamServerInterceptor{
		recoverStream(s.logger),
		correlationStream(),
		accessLogStream(access),
		s.metrics.stream,
		recoverStream(s.logger),
	}
	if o.auth != nil {
		stream = append(stream, authStream(o.auth))
	}
	stream = append(stream, validateStream(s.logger, v))
	stream = append(stream, o.stream...)
	s.unaryChain = chainUnary(unary)

	return append([]grpc.ServerOption{
		grpc.StatsHandler(otelgrpc.NewServerHandler(otelOpts...)),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
		grpc.MaxRecvMsgSize(o.maxRecv),
		grpc.MaxSendMsgSize(o.maxSend),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             KeepaliveMinClientPingInterval,
			PermitWithoutStream: true,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:    KeepaliveServerPingInterval,
			Timeout: KeepaliveServerPingTimeout,
		}),
	}, o.serverOpts...)
}

func (s *Server) listen() error {
	listen := func(given net.Listener, addr, what string) (net.Listener, error) {
		if given != nil || addr == "" {
			return given, nil
		}
		// An inherited socket for addr (the local launcher binds every
		// port before starting the process), else a new listener.
		lis, err := listen.TCP(addr)
		if err != nil {
			return nil, fmt.Errorf("grpcserver: listen %s on %s: %w", what, addr, err)
		}
		return lis, nil
	}
	var err error
	if s.lis, err = listen(s.opts.lis, s.opts.addr, "grpc"); err != nil {
		return err
	}
	if s.lis == nil {
		return errors.New("grpcserver: no gRPC address or listener")
	}
	if s.adminLis, err = listen(s.opts.adminLis, s.opts.adminAddr, "admin"); err != nil {
		s.closeListeners()
		return err
	}
	if s.internalLis, err = listen(s.opts.internalLis, s.opts.internalAddr, "internal grpc"); err != nil {
		s.closeListeners()
		return err
	}
	return nil
}

func (s *Server) closeListeners() {
	for _, l := range []net.Listener{s.lis, s.adminLis, s.internalLis} {
		if l != nil {
			_ = l.Close() // already closed is fine
		}
	}
}

// RegisterService registers a service implementation on the gRPC (and
// internal) listener and for LocalConn, and marks it SERVING in the health
// service.
func (s *Server) RegisterService(desc *grpc.ServiceDesc, impl any) {
	s.grpc.RegisterService(desc, impl)
	s.registerLocal(desc, impl)
	if s.internal != nil {
		s.internal.RegisterService(desc, impl)
	}
	s.health.SetServingStatus(desc.ServiceName, healthpb.HealthCheckResponse_SERVING)
}

// GRPCServer returns the underlying server, e.g. for tools that need
// its service info. Register services through RegisterService instead.
func (s *Server) GRPCServer() *grpc.Server { return s.grpc }

// Health returns the health service, to flip a service's status when it
// loses something it cannot work without.
func (s *Server) Health() *Health { return s.health }

// Admin returns the admin HTTP server, to add readiness checks.
func (s *Server) Admin() *adminhttp.Server { return s.admin }

// Registry returns the Prometheus registry served on /metrics, for the
// service's own business metrics and its clients' metrics.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// Logger returns the server's logger (with correlation and trace ids).
func (s *Server) Logger() *slog.Logger { return s.logger }

// Addr returns the gRPC listener's address.
func (s *Server) Addr() net.Addr { return s.lis.Addr() }

// AdminAddr returns the admin listener's address, or nil when disabled.
func (s *Server) AdminAddr() net.Addr {
	if s.adminLis == nil {
		return nil
	}
	return s.adminLis.Addr()
}

// InternalAddr returns the internal listener's address, or nil when disabled.
func (s *Server) InternalAddr() net.Addr {
	if s.internalLis == nil {
		return nil
	}
	return s.internalLis.Addr()
}

// Close releases the listeners of a server whose Run was never called.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ran {
		return errors.New("grpcserver: Close after Run; cancel Run's context instead")
	}
	s.ran = true
	s.closeListeners()
	return nil
}

// Run serves until ctx is cancelled (main passes the context from
// signal.NotifyContext, so SIGTERM lands here) or a listener fails, then
// shuts down:
//
//  1. health turns NOT_SERVING for every service (Watch streams are told and
//     end) and /readyz answers 503;
//  2. after the drain delay, new connections are refused and in-flight calls
//     get up to the shutdown timeout to finish (GracefulStop);
//  3. calls still running after that are cancelled (Stop);
//  4. the admin listener stops.
//
// Run returns nil after a shutdown caused by ctx, else the listener error.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.ran {
		s.mu.Unlock()
		return errors.New("grpcserver: Run called twice")
	}
	s.ran = true
	s.mu.Unlock()

	s.metrics.initialize(s.grpc)
	errc := make(chan error, 2)
	serve := func(srv *grpc.Server, lis net.Listener, what string) {
		s.logger.Info("grpc listening", slog.String("listener", what), slog.String("addr", lis.Addr().String()))
		if err := srv.Serve(lis); err != nil {
			errc <- fmt.Errorf("grpcserver: serve %s: %w", what, err)
			return
		}
		errc <- nil
	}
	go serve(s.grpc, s.lis, "grpc")
	if s.internal != nil {
		go serve(s.internal, s.internalLis, "internal")
	}
	adminCtx, stopAdmin := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAdmin()
	var adminErr chan error // stays nil (blocks forever in select) when disabled
	if s.adminLis != nil {
		adminErr = make(chan error, 1)
		s.logger.Info("admin http listening", slog.String("addr", s.adminLis.Addr().String()))
		go func() { adminErr <- s.admin.Serve(adminCtx, s.adminLis) }()
	}

	var runErr error
	adminDone := false
	select {
	case <-ctx.Done():
		s.logger.Info("shutdown requested", slog.Any("cause", context.Cause(ctx)))
	case err := <-errc:
		runErr = err
		if runErr == nil {
			runErr = errors.New("grpcserver: server stopped unexpectedly")
		}
	case err := <-adminErr:
		adminDone = true
		runErr = fmt.Errorf("grpcserver: admin http stopped: %w", err)
	}
	if runErr != nil {
		s.logger.Error("listener failed; shutting down", slog.Any("error", runErr))
	}
	s.shutdown()
	stopAdmin()
	if adminErr != nil && !adminDone {
		if err := <-adminErr; err != nil && runErr == nil {
			runErr = fmt.Errorf("grpcserver: admin http: %w", err)
		}
	}
	return runErr
}

func (s *Server) shutdown() {
	s.health.Shutdown()
	s.admin.SetDraining()
	if d := s.opts.drainDelay; d > 0 {
		s.logger.Info("draining before closing listeners", slog.Duration("delay", d))
		time.Sleep(d)
	}
	// LocalConn serves through the drain delay like the listener, and
	// refuses new calls from here on like GracefulStop does.
	s.stopping.Store(true)
	servers := []*grpc.Server{s.grpc}
	if s.internal != nil {
		servers = append(servers, s.internal)
	}
	done := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		for _, srv := range servers {
			wg.Go(srv.GracefulStop)
		}
		wg.Wait()
		close(done)
	}()
	timer := time.NewTimer(s.opts.shutdownTimeout)
	defer timer.Stop()
	select {
	case <-done:
		s.logger.Info("grpc server stopped gracefully")
	case <-timer.C:
		s.logger.Warn("shutdown timeout reached; cancelling remaining calls", slog.Duration("timeout", s.opts.shutdownTimeout))
		for _, srv := range servers {
			srv.Stop()
		}
		<-done
	}
}

// chainUnary runs interceptors in order, outermost first, as
// grpc.ChainUnaryInterceptor does.
func chainUnary(interceptors []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		var next func(i int) grpc.UnaryHandler
		next = func(i int) grpc.UnaryHandler {
			if i == len(interceptors) {
				return handler
			}
			return func(ctx context.Context, req any) (any, error) {
				return interceptors[i](ctx, req, info, next(i+1))
			}
		}
		return next(0)(ctx, req)
	}
}
