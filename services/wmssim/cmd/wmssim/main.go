// Command wmssim is the reference WMS simulator: it implements
// transload.wms.v1.WmsAdapterService for local runs, demos and
// fault-injection tests. See services/wmssim/README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/config"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/platform/tracing"
	wmsconfig "github.com/transload/transload/services/wmssim/internal/config"
	"github.com/transload/transload/services/wmssim/internal/control"
	"github.com/transload/transload/services/wmssim/internal/faults"
	"github.com/transload/transload/services/wmssim/internal/grpcapi"
	"github.com/transload/transload/services/wmssim/internal/metrics"
	"github.com/transload/transload/services/wmssim/internal/store/sqlstore"
	"github.com/transload/transload/services/wmssim/internal/wms"
)

func main() { svcmain.Main("wmssim", run) }

// run starts the simulator and serves until ctx ends.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	var cfg wmsconfig.Config
	if err := config.Load(&cfg, getenv); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	logger, err := svcmain.NewLogger(stdout, cfg.ServiceName, cfg.LogLevel)
	if err != nil {
		return fmt.Errorf("config: LOG_LEVEL: %w", err)
	}
	svcmain.LogConfig(ctx, logger, "starting", &cfg)

	tcfg, err := tracing.ConfigFromEnv(cfg.ServiceName, getenv)
	if err != nil {
		return fmt.Errorf("tracing config: %w", err)
	}
	_, shutdownTracing, err := tracing.Setup(ctx, tcfg)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := shutdownTracing(sctx); err != nil {
			logger.Warn("tracing shutdown", slog.Any("error", err))
		}
	}()

	db, err := svcmain.OpenDB(ctx, cfg.DatabaseURL, logger, sqlstore.Migrate)
	if err != nil {
		return err
	}
	defer db.Close()

	faultSet := &faults.Set{}
	// The admin routes are served here rather than by grpcserver so the
	// control API shares the admin port.
	srv, err := grpcserver.New(
		grpcserver.WithAddr(cfg.GRPCAddr),
		grpcserver.WithAdminAddr(""),
		grpcserver.WithLogger(logger),
		grpcserver.WithUnaryInterceptors(grpcapi.FaultInterceptor(faultSet)),
	)
	if err != nil {
		return err
	}
	observer, err := metrics.New(srv.Registry())
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("metrics: %w", err)
	}
	svc := wms.NewService(sqlstore.New(db), wms.WithStep(cfg.Step), wms.WithFaults(faultSet),
		wms.WithObserver(observer), wms.WithLogger(logger))
	wmsv1.RegisterWmsAdapterServiceServer(srv, grpcapi.New(svc, srv.Logger()))
	srv.Admin().AddCheck("database", db.Ping)

	var adminLis net.Listener
	if cfg.AdminAddr != "" {
		if adminLis, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
			_ = srv.Close()
			return fmt.Errorf("listen admin on %s: %w", cfg.AdminAddr, err)
		}
	}

	progressCtx, stopProgress := context.WithCancel(ctx)
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		svc.RunProgression(progressCtx, cfg.TickInterval())
	}()

	adminErr := make(chan error, 1)
	adminCtx, stopAdmin := context.WithCancel(context.WithoutCancel(ctx))
	if adminLis != nil {
		mux := http.NewServeMux()
		control.New(svc, faultSet, logger).Register(mux)
		mux.Handle("/", srv.Admin().Handler())
		logger.Info("admin http listening", slog.String("addr", adminLis.Addr().String()))
		go func() { adminErr <- serveHTTP(adminCtx, adminLis, mux, logger) }()
	} else {
		adminErr <- nil
	}

	logger.Info("serving", slog.String("grpc", srv.Addr().String()), slog.Duration("step", cfg.Step))
	runErr := srv.Run(ctx)
	stopProgress()
	<-progressDone
	stopAdmin()
	if err := <-adminErr; err != nil && runErr == nil {
		runErr = fmt.Errorf("admin http: %w", err)
	}
	logger.Info("stopped")
	return runErr
}

// serveHTTP serves h on ln until ctx ends, then shuts down gracefully.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := hs.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
