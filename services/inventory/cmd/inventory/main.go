// Command inventory runs the Transload inventory service: stock per
// SKU×warehouse loaded from the ERP, availability, reservations with
// multi-warehouse allocation, release and commit, and StockChanged events
// through the transactional outbox to NATS JetStream.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/outbox/streamloss"
	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/services/inventory/internal/config"
	"github.com/transload/transload/services/inventory/internal/erpclient"
	"github.com/transload/transload/services/inventory/internal/grpcapi"
	"github.com/transload/transload/services/inventory/internal/inventory"
	"github.com/transload/transload/services/inventory/internal/kpi"
	"github.com/transload/transload/services/inventory/internal/store/sqlstore"
)

func main() { svcmain.Main("inventory", run) }

// run is the binary: svcmain loads and logs the configuration and starts
// the runtime (logger, tracing, metrics, admin server), then runService runs.
var run = svcmain.Bind("inventory", runService)

// runService wires the service and serves until ctx ends.
func runService(ctx context.Context, rt *svcmain.Runtime, loaded *config.Config) error {
	cfg := *loaded
	a, err := newApp(ctx, rt, cfg, deps{})
	if err != nil {
		return err
	}
	return a.run(ctx)
}

// deps lets tests replace the network edges of the app.
type deps struct {
	// grpcListener and adminListener replace GRPC_ADDR and ADMIN_ADDR.
	grpcListener, adminListener net.Listener
	// erpDialOptions are added to the ERP connection (e.g. a bufconn
	// dialer).
	erpDialOptions []grpc.DialOption
}

// app is the wired service. The runtime (rt) owns the logger, registry,
// admin server and database; the app closes what it opened itself.
type app struct {
	cfg     config.Config
	logger  *slog.Logger
	srv     *grpcserver.Server
	svc     *inventory.Service
	loader  *inventory.Loader
	feed    *inventory.FeedPoller
	watch   *inventory.FeedWatcher
	erpConn *grpc.ClientConn
	nc      *nats.Conn
	relay   *outbox.Relay
}

func newApp(ctx context.Context, rt *svcmain.Runtime, cfg config.Config, d deps) (a *app, err error) {
	logger := rt.Logger()
	a = &app{cfg: cfg, logger: logger}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	db, err := rt.OpenDB(ctx, cfg.DatabaseURL, sqlstore.Migrate)
	if err != nil {
		return nil, err
	}

	listen := []grpcserver.Option{grpcserver.WithAddr(cfg.GRPCAddr), grpcserver.WithAdminAddr(cfg.AdminAddr)}
	if d.grpcListener != nil {
		listen[0] = grpcserver.WithListener(d.grpcListener)
	}
	if d.adminListener != nil {
		listen[1] = grpcserver.WithAdminListener(d.adminListener)
	}
	a.srv, err = rt.NewServer(append(listen, rt.Mesh(grpcapi.Callers))...)
	if err != nil {
		return nil, err
	}

	// NATS is not a hard dependency: events wait in the outbox while it is
	// down, so the connection retries in the background, and the relay
	// ensures the stream once NATS answers.
	a.nc, err = nats.Connect(cfg.NATSURL, nats.Name(cfg.ServiceName), nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1), nats.ReconnectWait(time.Second))
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", cfg.NATSURL, err)
	}
	js, err := jetstream.New(a.nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	a.relay, err = outbox.NewRelay(db, js, outbox.WithRegisterer(rt.Registry()), outbox.WithLogger(logger),
		outbox.WithStreams(cfg.Streams.Apply(eventstreams.Inventory, eventstreams.Ops)...), streamloss.Reconcile("inventory"))
	if err != nil {
		return nil, err
	}

	a.erpConn, err = erpclient.Dial(cfg.ERPAddr, append(rt.ClientOptions(),
		grpcclient.WithDefaultTimeout(cfg.ERPTimeout), grpcclient.WithStreamTimeout(cfg.SnapshotTimeout),
		grpcclient.WithDialOptions(d.erpDialOptions...))...)
	if err != nil {
		return nil, err
	}
	erp := erpclient.New(a.erpConn)
	a.svc = inventory.NewService(sqlstore.New(db), inventory.WithLogger(logger),
		inventory.WithMaxHoldTTL(cfg.MaxHoldTTL), inventory.WithChangeHook(a.relay.Notify),
		inventory.WithSnapshotReader(erp), inventory.WithReconciliationTimeout(cfg.SnapshotTimeout+5*time.Minute),
		inventory.WithGapTimeout(cfg.GapTimeout), inventory.WithVarianceExceptionThreshold(cfg.ReconciliationExceptionThreshold))
	if n, err := a.svc.FailInterrupted(ctx); err != nil {
		return nil, err
	} else if n > 0 {
		logger.WarnContext(ctx, "inventory: reconciliations interrupted by the last shutdown marked FAILED", slog.Int("count", n))
	}
	a.loader = inventory.NewLoader(sqlstore.New(db), erp, a.svc, cfg.LoadRetryMin, cfg.LoadRetryMax, logger)
	if cfg.ERPFeedInterval > 0 || cfg.ERPFeedPush {
		// The watcher applies through the poller (one apply path, one
		// cursor); the poller itself runs only with an interval.
		a.feed = inventory.NewFeedPoller(a.svc, erp, "erp", cfg.ERPFeedInterval)
	}
	if cfg.ERPFeedPush {
		a.watch = inventory.NewFeedWatcher(a.feed, erp, cfg.ERPFeedStreamLifetime)
	}
	if _, err := a.loader.CheckExisting(ctx); err != nil {
		return nil, err
	}

	api, err := grpcapi.New(a.svc, logger, rt.Registry())
	if err != nil {
		return nil, err
	}
	a.srv.RegisterService(&inventoryv1.InventoryService_ServiceDesc, api)
	if err := kpi.Register(rt.Registry(), a.svc, cfg.GapTimeout, logger); err != nil {
		return nil, fmt.Errorf("register KPIs: %w", err)
	}
	rt.Admin().AddCheck("initial_load", func(context.Context) error {
		if !a.svc.Loaded() {
			return errors.New("initial stock load from the ERP not finished")
		}
		return nil
	})
	return a, nil
}

// run serves until ctx ends, with the initial load, housekeeping (hold
// expiry, overdue stock event gaps) and the outbox relay in the
// background.
func (a *app) run(ctx context.Context) error {
	defer a.close()
	bg, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if !a.svc.Loaded() {
		wg.Go(func() {
			if err := a.loader.Run(bg); err == nil {
				a.logger.InfoContext(bg, "inventory: ready")
			}
		})
	}
	wg.Go(func() { a.svc.RunHousekeeping(bg, a.cfg.ExpiryInterval) })
	wg.Go(func() {
		if err := a.relay.Run(bg); err != nil {
			a.logger.ErrorContext(bg, "inventory: outbox relay stopped", slog.Any("error", err))
		}
	})
	if a.feed != nil && a.cfg.ERPFeedInterval > 0 {
		wg.Go(func() { a.feed.Run(bg) })
	}
	if a.watch != nil {
		wg.Go(func() { a.watch.Run(bg) })
	}

	err := a.srv.Run(ctx)
	stop()
	wg.Wait()
	return err
}

func (a *app) close() {
	if a.svc != nil {
		a.svc.Close()
	}
	if a.erpConn != nil {
		_ = a.erpConn.Close()
	}
	if a.nc != nil {
		a.nc.Close()
	}
	if a.srv != nil {
		_ = a.srv.Close()
	}
}
