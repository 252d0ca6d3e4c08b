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

// seedTimeout bounds loading the demo data into a fresh database.
const seedTimeout = time.Minute

// runWithReady is run that calls ready, when not nil, with the bound
// addresses once the simulator serves (tests use it with port 0).
func runWithReady(ctx context.Context, getenv func(string) string, stdout io.Writer, ready func(Addrs)) error {
	return svcmain.Bind("erpsim", func(ctx context.Context, rt *svcmain.Runtime, cfg *config.Config) error {
		return runService(ctx, rt, cfg, ready)
	})(ctx, getenv, stdout)
}

// runService wires the service and serves until ctx ends, calling ready,
// when not nil, once it listens.
func runService(ctx context.Context, rt *svcmain.Runtime, loaded *config.Config, ready func(Addrs)) error {
	cfg := *loaded

	db, err := rt.OpenDB(ctx, cfg.DatabaseURL, sqlstore.Migrate)
	if err != nil {
		return err
	}
	store := sqlstore.New(db)
	flt := faults.New()
	svc := erp.NewService(store, erp.WithRejector(flt), erp.WithJournalRejector(flt))
	seedCtx, cancelSeed := context.WithTimeout(ctx, seedTimeout)
	seeded, err := svc.SeedDemo(seedCtx)
	cancelSeed()
	if err != nil {
		return fmt.Errorf("seed demo data: %w", err)
	}
	rt.Logger().InfoContext(ctx, "erpsim demo data", slog.Bool("seeded_now", seeded))

	metrics, err := grpcapi.NewMetrics(rt.Registry())
	if err != nil {
		return err
	}
	if err := faults.RegisterMetrics(rt.Registry(), flt); err != nil {
		return err
	}
	if err := rt.Admin().Handle("/control/", control.New(flt, svc, rt.Logger())); err != nil {
		return fmt.Errorf("control API: %w", err)
	}
	// Readiness covers the simulator itself (database, seed), never the
	// simulated ERP's faults: a "down" ERP is still a ready simulator.
	rt.Admin().AddCheck("seed", func(ctx context.Context) error {
		ok, err := store.Seeded(ctx)
		if err == nil && !ok {
			err = errors.New("demo data not seeded")
		}
		return err
	})

	srv, err := rt.NewServer(
		grpcserver.WithAddr(cfg.GRPCAddr),
		grpcserver.WithAdminAddr(cfg.AdminAddr),
		grpcserver.WithShutdownTimeout(cfg.ShutdownTimeout),
		rt.Mesh(grpcapi.Callers), // mutual TLS and caller authorization when MESH_TLS_DIR is set
		grpcserver.WithUnaryInterceptors(grpcapi.UnaryFaults(flt)),
		grpcserver.WithStreamInterceptors(grpcapi.StreamFaults(flt)),
	)
	if err != nil {
		return err
	}
	erpv1.RegisterErpAdapterServiceServer(srv, grpcapi.NewServer(svc, srv.Logger(), metrics, grpcapi.WithStopping(ctx.Done())))

	if ready != nil {
		ready(Addrs{GRPC: srv.Addr().String(), Admin: srv.AdminAddr().String()})
	}
	runCtx, stopGenerator := context.WithCancel(ctx)
	defer stopGenerator()
	genDone := make(chan struct{})
	go func() {
		defer close(genDone)
		if cfg.StockEventInterval > 0 {
			// Run fails only for a non-positive interval.
			_ = stockgen.New(svc, cfg.StockEventSeed, srv.Logger()).Run(runCtx, cfg.StockEventInterval)
		}
	}()
	err = srv.Run(ctx)
	stopGenerator()
	<-genDone
	return err
}
