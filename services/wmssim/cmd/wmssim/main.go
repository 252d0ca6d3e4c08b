// Command wmssim is the reference WMS simulator: it implements
// transload.wms.v1.WmsAdapterService for local runs, demos and
// fault-injection tests. See services/wmssim/README.md.
package main

import (
	"context"
	"fmt"
	"log/slog"

	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/services/wmssim/internal/config"
	"github.com/transload/transload/services/wmssim/internal/control"
	"github.com/transload/transload/services/wmssim/internal/faults"
	"github.com/transload/transload/services/wmssim/internal/grpcapi"
	"github.com/transload/transload/services/wmssim/internal/metrics"
	"github.com/transload/transload/services/wmssim/internal/store/sqlstore"
	"github.com/transload/transload/services/wmssim/internal/wms"
)

func main() { svcmain.Main("wmssim", run) }

// run is the binary: svcmain loads and logs the configuration and starts
// the runtime (logger, tracing, metrics, admin server), then runService runs.
var run = svcmain.Bind("wmssim", runService)

// runService wires the service and serves until ctx ends.
func runService(ctx context.Context, rt *svcmain.Runtime, loaded *config.Config) error {
	cfg := *loaded
	logger := rt.Logger()

	db, err := rt.OpenDB(ctx, cfg.DatabaseDSN(), sqlstore.Migrate) // synchronous=NORMAL unless configured
	if err != nil {
		return err
	}
	observer, err := metrics.New(rt.Registry())
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	faultSet := &faults.Set{}
	svc := wms.NewService(sqlstore.New(db), wms.WithStep(cfg.Step), wms.WithReturnReceiptDelay(cfg.ReturnReceiptDelay), wms.WithFaults(faultSet),
		wms.WithObserver(observer), wms.WithLogger(logger))
	if err := rt.Admin().Handle("/control/", control.New(svc, faultSet, logger)); err != nil {
		return fmt.Errorf("control API: %w", err)
	}

	srv, err := rt.NewServer(
		grpcserver.WithAddr(cfg.GRPCAddr),
		grpcserver.WithAdminAddr(cfg.AdminAddr),
		rt.Mesh(grpcapi.Callers), // mutual TLS and caller authorization when MESH_TLS_DIR is set
		grpcserver.WithUnaryInterceptors(grpcapi.FaultInterceptor(faultSet)),
	)
	if err != nil {
		return err
	}
	wmsv1.RegisterWmsAdapterServiceServer(srv, grpcapi.New(svc, srv.Logger()))

	progressCtx, stopProgress := context.WithCancel(ctx)
	defer stopProgress()
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		svc.RunProgression(progressCtx, cfg.TickInterval())
	}()

	logger.InfoContext(ctx, "serving", slog.String("grpc", srv.Addr().String()), slog.Duration("step", cfg.Step))
	err = srv.Run(ctx)
	stopProgress()
	<-progressDone
	logger.InfoContext(ctx, "stopped")
	return err
}
