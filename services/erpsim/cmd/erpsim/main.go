// Command erpsim is the reference ERP simulator: it implements
// transload.erp.v1.ErpAdapterService over seeded demo data for local runs,
// demos and fault-injection tests, with a control API on the admin port.
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

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/services/erpsim/internal/config"
	"github.com/transload/transload/services/erpsim/internal/control"
	"github.com/transload/transload/services/erpsim/internal/erp"
	"github.com/transload/transload/services/erpsim/internal/faults"
	"github.com/transload/transload/services/erpsim/internal/grpcapi"
	"github.com/transload/transload/services/erpsim/internal/stockgen"
	"github.com/transload/transload/services/erpsim/internal/store/sqlstore"
)

func main() { svcmain.Main("erpsim", run) }

// run starts erpsim and serves until ctx ends (SIGTERM), then shuts down
// gracefully.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	return runWithReady(ctx, getenv, stdout, nil)
}

// Addrs are the addresses erpsim listens on.
type Addrs struct {
	GRPC, Admin string
}

// runWithReady is run that calls ready, when not nil, with the bound
// addresses once the simulator serves (tests use it with port 0).
func runWithReady(ctx context.Context, getenv func(string) string, stdout io.Writer, ready func(Addrs)) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	logger, err := svcmain.NewLogger(stdout, cfg.ServiceName, cfg.LogLevel)
	if err != nil {
		return err
	}
	svcmain.LogConfig(ctx, logger, "erpsim starting", &cfg)

	db, err := svcmain.OpenDB(ctx, cfg.DatabaseURL, logger, sqlstore.Migrate)
	if err != nil {
		return err
	}
	defer db.Close()
	store := sqlstore.New(db)
	flt := faults.New()
	svc := erp.NewService(store, erp.WithRejector(flt))
	seedCtx, cancelSeed := context.WithTimeout(ctx, time.Minute)
	seeded, err := svc.SeedDemo(seedCtx)
	cancelSeed()
	if err != nil {
		return fmt.Errorf("seed demo data: %w", err)
	}
	logger.InfoContext(ctx, "erpsim demo data", slog.Bool("seeded_now", seeded))

	srv, err := grpcserver.New(
		grpcserver.WithLogger(logger),
		grpcserver.WithAddr(cfg.GRPCAddr),
		grpcserver.WithAdminAddr(""), // served below, together with /control
		grpcserver.WithShutdownTimeout(cfg.ShutdownTimeout),
		grpcserver.WithUnaryInterceptors(grpcapi.UnaryFaults(flt)),
		grpcserver.WithStreamInterceptors(grpcapi.StreamFaults(flt)),
	)
	if err != nil {
		return err
	}
	metrics, err := grpcapi.NewMetrics(srv.Registry())
	if err != nil {
		_ = srv.Close()
		return err
	}
	if err := faults.RegisterMetrics(srv.Registry(), flt); err != nil {
		_ = srv.Close()
		return err
	}
	erpv1.RegisterErpAdapterServiceServer(srv, grpcapi.NewServer(svc, srv.Logger(), metrics))
	// Readiness covers the simulator itself (database, seed), never the
	// simulated ERP's faults: a "down" ERP is still a ready simulator.
	srv.Admin().AddCheck("database", db.Ping)
	srv.Admin().AddCheck("seed", func(ctx context.Context) error {
		ok, err := store.Seeded(ctx)
		if err == nil && !ok {
			err = errors.New("demo data not seeded")
		}
		return err
	})

	adminLis, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("listen admin on %s: %w", cfg.AdminAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/control/", control.New(flt, svc, srv.Logger()))
	mux.Handle("/", srv.Admin().Handler())
	adminSrv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	adminErr := make(chan error, 1)
	go func() { adminErr <- adminSrv.Serve(adminLis) }()
	logger.InfoContext(ctx, "admin http listening", slog.String("addr", adminLis.Addr().String()))

	if ready != nil {
		ready(Addrs{GRPC: srv.Addr().String(), Admin: adminLis.Addr().String()})
	}
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(runCtx) }()
	genDone := make(chan struct{})
	if cfg.StockEventInterval > 0 {
		gen := stockgen.New(svc, cfg.StockEventSeed, srv.Logger())
		go func() {
			defer close(genDone)
			_ = gen.Run(runCtx, cfg.StockEventInterval) // only fails for a non-positive interval
		}()
	} else {
		close(genDone)
	}

	var errRun error
	select {
	case errRun = <-runErr:
	case err := <-adminErr:
		// The admin listener failed: stop the gRPC side too.
		cancelRun()
		<-runErr
		errRun = fmt.Errorf("admin http: %w", err)
	}
	cancelRun()
	<-genDone
	shutdownCtx, cancelShutdown := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancelShutdown()
	if err := adminSrv.Shutdown(shutdownCtx); err != nil && errRun == nil {
		errRun = fmt.Errorf("admin http shutdown: %w", err)
	}
	return errRun
}
