// Command inventory runs the Transload inventory service: stock per
// SKU×warehouse loaded from the ERP, availability, reservations with
// multi-warehouse allocation, release and commit, and StockChanged events
// through the transactional outbox to NATS JetStream.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	platformconfig "github.com/transload/transload/platform/config"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/platform/tracing"
	"github.com/transload/transload/services/inventory/internal/config"
	"github.com/transload/transload/services/inventory/internal/erpclient"
	"github.com/transload/transload/services/inventory/internal/grpcapi"
	"github.com/transload/transload/services/inventory/internal/inventory"
	"github.com/transload/transload/services/inventory/internal/kpi"
	"github.com/transload/transload/services/inventory/internal/store/sqlstore"
)

func main() { svcmain.Main("inventory", run) }

// run loads the configuration from getenv, logs JSON to stdout and serves
// until ctx ends.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	var cfg config.Config
	if err := platformconfig.Load(&cfg, getenv); err != nil {
		return err
	}
	logger, err := svcmain.NewLogger(stdout, cfg.ServiceName, cfg.LogLevel)
	if err != nil {
		return err
	}
	logger.Info("starting", slog.String("config", platformconfig.Describe(&cfg)))

	tcfg, err := tracing.ConfigFromEnv(cfg.ServiceName, getenv)
	if err != nil {
		return err
	}
	_, shutdownTracing, err := tracing.Setup(ctx, tcfg)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = shutdownTracing(sctx)
	}()

	a, err := newApp(ctx, cfg, logger, deps{})
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

// app is the wired service.
type app struct {
	cfg     config.Config
	logger  *slog.Logger
	db      *sqldb.DB
	srv     *grpcserver.Server
	svc     *inventory.Service
	loader  *inventory.Loader
	feed    *inventory.FeedPoller
	erpConn *grpc.ClientConn
	nc      *nats.Conn
	relay   *outbox.Relay
	js      jetstream.JetStream
}

func newApp(ctx context.Context, cfg config.Config, logger *slog.Logger, d deps) (a *app, err error) {
	a = &app{cfg: cfg, logger: logger}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	a.db, err = svcmain.OpenDB(ctx, cfg.DatabaseURL, logger, sqlstore.Migrate)
	if err != nil {
		return nil, err
	}

	srvOpts := []grpcserver.Option{grpcserver.WithLogger(logger)}
	if d.grpcListener != nil {
		srvOpts = append(srvOpts, grpcserver.WithListener(d.grpcListener))
	} else {
		srvOpts = append(srvOpts, grpcserver.WithAddr(cfg.GRPCAddr))
	}
	if d.adminListener != nil {
		srvOpts = append(srvOpts, grpcserver.WithAdminListener(d.adminListener))
	} else {
		srvOpts = append(srvOpts, grpcserver.WithAdminAddr(cfg.AdminAddr))
	}
	a.srv, err = grpcserver.New(srvOpts...)
	if err != nil {
		return nil, err
	}

	// NATS is not a hard dependency: events wait in the outbox while it is
	// down, so the connection retries in the background.
	a.nc, err = nats.Connect(cfg.NATSURL, nats.Name(cfg.ServiceName), nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1), nats.ReconnectWait(time.Second))
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", cfg.NATSURL, err)
	}
	a.js, err = jetstream.New(a.nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	// The relay ensures the stream first, retrying until NATS answers.
	a.relay, err = outbox.NewRelay(a.db, a.js, outbox.WithRegisterer(a.srv.Registry()), outbox.WithLogger(logger),
		outbox.WithStreams(eventstreams.Inventory))
	if err != nil {
		return nil, err
	}

	erpOpts := []grpcclient.Option{
		grpcclient.WithLogger(logger), grpcclient.WithRegistry(a.srv.Registry()),
		grpcclient.WithDefaultTimeout(cfg.ERPTimeout),
	}
	if len(d.erpDialOptions) > 0 {
		erpOpts = append(erpOpts, grpcclient.WithDialOptions(d.erpDialOptions...))
	}
	a.erpConn, err = erpclient.Dial(cfg.ERPAddr, erpOpts...)
	if err != nil {
		return nil, err
	}
	erp := erpclient.New(a.erpConn, cfg.SnapshotTimeout)
	a.svc = inventory.NewService(sqlstore.New(a.db), inventory.WithLogger(logger),
		inventory.WithMaxHoldTTL(cfg.MaxHoldTTL), inventory.WithChangeHook(a.relay.Notify),
		inventory.WithSnapshotReader(erp), inventory.WithReconciliationTimeout(cfg.SnapshotTimeout+5*time.Minute))
	if n, err := a.svc.FailInterrupted(ctx); err != nil {
		return nil, err
	} else if n > 0 {
		logger.WarnContext(ctx, "inventory: reconciliations interrupted by the last shutdown marked FAILED", slog.Int("count", n))
	}
	a.loader = inventory.NewLoader(sqlstore.New(a.db), erp, a.svc, cfg.LoadRetryMin, cfg.LoadRetryMax, logger)
	if cfg.ERPFeedInterval > 0 {
		a.feed = inventory.NewFeedPoller(a.svc, erp, "erp", cfg.ERPFeedInterval)
	}
	if _, err := a.loader.CheckExisting(ctx); err != nil {
		return nil, err
	}

	api, err := grpcapi.New(a.svc, logger, a.srv.Registry())
	if err != nil {
		return nil, err
	}
	a.srv.RegisterService(&inventoryv1.InventoryService_ServiceDesc, api)
	if err := kpi.Register(a.srv.Registry(), a.svc, cfg.GapTimeout, logger); err != nil {
		return nil, fmt.Errorf("register KPIs: %w", err)
	}
	a.srv.Admin().AddCheck("database", a.db.Ping)
	a.srv.Admin().AddCheck("initial_load", func(context.Context) error {
		if !a.svc.Loaded() {
			return errors.New("initial stock load from the ERP not finished")
		}
		return nil
	})
	return a, nil
}

// run serves until ctx ends, with the initial load, hold expiry and the
// outbox relay in the background.
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
	wg.Go(func() { a.svc.RunExpiry(bg, a.cfg.ExpiryInterval) })
	wg.Go(func() {
		if err := a.relay.Run(bg); err != nil {
			a.logger.ErrorContext(bg, "inventory: outbox relay stopped", slog.Any("error", err))
		}
	})
	if a.feed != nil {
		wg.Go(func() { a.feed.Run(bg) })
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
	if a.db != nil {
		_ = a.db.Close()
	}
}
