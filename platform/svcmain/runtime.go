package svcmain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/trace"

	"github.com/transload/transload/platform/adminhttp"
	"github.com/transload/transload/platform/config"
	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/meshtls"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/tracing"
)

// CloseTimeout bounds [Runtime.Close]: flushing spans and closing the
// database.
const CloseTimeout = 5 * time.Second

// Runtime is what every binary has once [Start] returns: its logger,
// tracer provider, Prometheus registry and admin HTTP server (metrics,
// liveness, readiness from the checks the binary registers, and any
// routes it adds), and what Close releases. It is safe for concurrent
// use.
type Runtime struct {
	logger   *slog.Logger
	tp       trace.TracerProvider
	registry *prometheus.Registry
	admin    *adminhttp.Server
	// reflection is GRPC_REFLECTION, applied to every server rt makes.
	reflection bool
	// accessLog is LOG_ACCESS, applied to every server rt makes.
	accessLog grpcserver.AccessLog
	// mesh is the binary's mesh identity when MESH_TLS_DIR is set.
	mesh *meshtls.Member

	mu      sync.Mutex
	closers []func(context.Context) error // run in reverse order
	closed  bool
	err     error
}

// Start does what every binary does before its own wiring, in one call:
//
//  1. loads cfg from getenv with [LoadConfig]: GRPC_ADDR, ADMIN_ADDR and
//     DATABASE_URL default from name's place in the mesh's port plan,
//     the other fields from their tags (platform/config: required
//     fields, Validate), an empty SERVICE_NAME becoming name;
//  2. builds the JSON logger on stdout at LOG_LEVEL and makes it
//     slog's default, so libraries that log through slog.Default are
//     structured too;
//  3. sets the Go runtime's soft memory limit to MEMORY_LIMIT_MB
//     (debug.SetMemoryLimit; not when GOMEMLIMIT is set or the value is
//     0), which Close restores, and logs "starting" with the
//     configuration, secrets masked;
//  4. sets tracing up: the global tracer provider and W3C propagators,
//     exporting over OTLP/gRPC only when OTEL_EXPORTER_OTLP_ENDPOINT is
//     set;
//  5. makes the Prometheus registry (with Go and process collectors) and
//     the admin HTTP server that serves it, with /debug/pprof/ when
//     PPROF_ENABLED is true.
//
// The gRPC and admin listeners of the servers rt makes use the sockets
// a launcher handed over for their addresses when there are some
// (platform/listen), so a port bound by the launcher cannot be lost
// between its pick and the binary's start.
//
// A main then reads:
//
//	func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
//		var cfg config.Config
//		rt, err := svcmain.Start(ctx, "order", getenv, stdout, &cfg)
//		if err != nil {
//			return err
//		}
//		defer rt.Close()
//		db, err := rt.OpenDB(ctx, cfg.DatabaseURL, sqlstore.Migrate)
//		...
//		srv, err := rt.NewServer(grpcserver.WithAddr(cfg.GRPCAddr), grpcserver.WithAdminAddr(cfg.AdminAddr))
//		...
//		return srv.Run(ctx)
//	}
//
// Configuration errors are returned as [LoadConfig] reports them (a
// name outside the port plan wraps [ErrUnknownService]; otherwise
// *config.FieldError or the Validate error), before anything is logged;
// [Main] prints them on stderr. On error nothing is left to close.
func Start(ctx context.Context, name string, getenv func(string) string, stdout io.Writer, cfg Config) (*Runtime, error) {
	if err := LoadConfig(name, getenv, cfg); err != nil {
		return nil, err
	}
	base := cfg.BaseConfig()
	logger, err := newLogger(stdout, base.ServiceName, base.LogLevel)
	if err != nil {
		return nil, &config.FieldError{Var: "LOG_LEVEL", Err: err}
	}
	tcfg, err := base.Tracing.Config(base.ServiceName)
	if err != nil {
		return nil, err
	}
	accessLog, err := grpcserver.ParseAccessLog(base.AccessLog)
	if err != nil {
		return nil, &config.FieldError{Var: "LOG_ACCESS", Err: err}
	}
	mesh, err := loadMesh(name, base)
	if err != nil {
		return nil, err
	}
	// The limit before Start is restored by Close (and on the errors
	// below), so a test that starts a binary in process leaves the
	// runtime as it found it.
	prevLimit, limitSet, err := applyMemoryLimit(base, getenv)
	if err != nil {
		return nil, err
	}
	restoreLimit := func(context.Context) error {
		if limitSet {
			debug.SetMemoryLimit(prevLimit)
		}
		return nil
	}
	slog.SetDefault(logger)
	logConfig(ctx, logger, "starting", cfg)

	tp, shutdownTracing, err := tracing.Setup(ctx, tcfg)
	if err != nil {
		_ = restoreLimit(ctx)
		return nil, err
	}
	reg := prometheus.NewRegistry()
	if err := errors.Join(
		reg.Register(collectors.NewGoCollector()),
		reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})),
	); err != nil {
		_ = restoreLimit(ctx)
		return nil, errors.Join(fmt.Errorf("svcmain: register runtime metrics: %w", err), shutdownTracing(context.WithoutCancel(ctx)))
	}
	return &Runtime{
		logger:     logger,
		tp:         tp,
		registry:   reg,
		admin:      adminhttp.New(reg, adminhttp.WithLogger(logger), adminhttp.WithProfiling(base.Profiling), adminhttp.WithToken(base.AdminToken)),
		reflection: base.Reflection,
		accessLog:  accessLog,
		mesh:       mesh,
		closers:    []func(context.Context) error{restoreLimit, shutdownTracing},
	}, nil
}

// Logger returns the binary's JSON logger (also slog's default).
func (rt *Runtime) Logger() *slog.Logger { return rt.logger }

// TracerProvider returns the tracer provider Start installed globally (a
// no-op one when no OTLP endpoint is configured).
func (rt *Runtime) TracerProvider() trace.TracerProvider { return rt.tp }

// Registry returns the Prometheus registry served on the admin /metrics
// route, for the binary's own metrics and its servers' and clients'.
func (rt *Runtime) Registry() *prometheus.Registry { return rt.registry }

// Admin returns the admin HTTP server: register readiness checks for
// hard dependencies with AddCheck and extra routes with Handle. The gRPC
// server made with [Runtime.ServerOptions] serves it on its admin
// listener and marks it draining on shutdown.
func (rt *Runtime) Admin() *adminhttp.Server { return rt.admin }

// ServerOptions returns the grpcserver options that tie a gRPC server to
// rt: its logger, registry, tracer provider and admin server, and server
// reflection when GRPC_REFLECTION is true. Add the listen addresses and
// the binary's own options after them.
func (rt *Runtime) ServerOptions() []grpcserver.Option {
	return []grpcserver.Option{
		grpcserver.WithLogger(rt.logger),
		grpcserver.WithRegistry(rt.registry),
		grpcserver.WithTracerProvider(rt.tp),
		grpcserver.WithAdmin(rt.admin),
		grpcserver.WithReflection(rt.reflection),
		grpcserver.WithAccessLog(rt.accessLog),
	}
}

// NewServer is grpcserver.New with [Runtime.ServerOptions] followed by
// opts (typically WithAddr and WithAdminAddr from the binary's
// configuration).
func (rt *Runtime) NewServer(opts ...grpcserver.Option) (*grpcserver.Server, error) {
	return grpcserver.New(append(rt.ServerOptions(), opts...)...)
}

// ClientOptions returns the grpcclient options that tie a client
// connection to rt: its logger, registry and tracer provider, and with
// MESH_TLS_DIR set, mutual TLS that verifies the callee's identity
// (grpcclient.WithMeshTLS: every client made from these options is an
// internal one). Add the
// neighbour's timeout, breaker and idempotent methods after them.
func (rt *Runtime) ClientOptions() []grpcclient.Option {
	opts := []grpcclient.Option{
		grpcclient.WithLogger(rt.logger),
		grpcclient.WithRegistry(rt.registry),
		grpcclient.WithTracerProvider(rt.tp),
	}
	if rt.mesh != nil {
		opts = append(opts, grpcclient.WithMeshTLS(rt.mesh))
	}
	return opts
}

// OpenDB opens the database named by dsn and brings its schema up to date
// with migrate within [OpenTimeout] (errors as for the [OpenDB]
// function), registers its Ping as the readiness check "database", and
// leaves closing it to [Runtime.Close].
func (rt *Runtime) OpenDB(ctx context.Context, dsn string, migrate func(context.Context, *sqldb.DB) error) (*sqldb.DB, error) {
	db, err := openDB(ctx, dsn, rt.logger, migrate)
	if err != nil {
		return nil, err
	}
	rt.admin.AddCheck("database", db.Ping)
	rt.onClose(func(context.Context) error { return db.Close() })
	return db, nil
}

// onClose registers fn to run in Close, before what was registered
// earlier.
func (rt *Runtime) onClose(fn func(context.Context) error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.closers = append(rt.closers, fn)
}

// Close releases what Start and OpenDB set up, the last first: the
// database, then tracing, whose pending spans it flushes. It takes at
// most [CloseTimeout], logs what failed and returns it; later calls
// return the same result. main defers it right after Start.
func (rt *Runtime) Close() error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed {
		return rt.err
	}
	rt.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), CloseTimeout)
	defer cancel()
	var errs []error
	for i := len(rt.closers) - 1; i >= 0; i-- {
		if err := rt.closers[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	rt.err = errors.Join(errs...)
	if rt.err != nil {
		rt.logger.Warn("shutdown left something unreleased", slog.Any("error", rt.err))
	}
	return rt.err
}
