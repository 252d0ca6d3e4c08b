// Package app wires the catalog-pricing service: database and migrations,
// domains, cache, gRPC server with readiness checks, the ERP importer and
// the outbox relay to NATS JetStream. cmd/catalog-pricing calls Run; the
// component tests call it too, with in-memory listeners and a fake ERP.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	"github.com/transload/transload/platform/breaker"
	"github.com/transload/transload/platform/cache"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/config"
	"github.com/transload/transload/services/catalog-pricing/internal/erpclient"
	"github.com/transload/transload/services/catalog-pricing/internal/erpsync"
	"github.com/transload/transload/services/catalog-pricing/internal/grpcapi"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
	"github.com/transload/transload/services/catalog-pricing/internal/store/sqlstore"
)

// QuoteCacheName names the quote cache (key prefix and metric label).
const QuoteCacheName = "price-quote"

// Deps are optional replacements for what Run would otherwise create from
// the configuration; tests use them for in-memory listeners.
type Deps struct {
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// GRPCListener replaces listening on cfg.GRPCAddr.
	GRPCListener net.Listener
	// AdminListener replaces listening on cfg.AdminAddr.
	AdminListener net.Listener
	// ERPDialOptions are added when dialing the ERP (e.g. a bufconn dialer).
	ERPDialOptions []grpc.DialOption
	// SyncTrigger, when it fires, imports from the ERP and publishes now
	// (main wires SIGHUP to it).
	SyncTrigger <-chan struct{}
}

// Run serves the service until ctx ends. Neighbours (ERP, NATS, Redis) may
// be down: the importer and the relay retry in the background and the
// cache fails open; only the database is required to start.
func Run(ctx context.Context, cfg config.Config, deps Deps) error {
	log := deps.Logger
	if log == nil {
		log = slog.Default()
	}
	db, err := svcmain.OpenDB(ctx, cfg.DatabaseURL, log, sqlstore.Migrate)
	if err != nil {
		return err
	}
	defer db.Close()
	store := sqlstore.New(db)

	srvOpts := []grpcserver.Option{grpcserver.WithLogger(log)}
	if deps.GRPCListener != nil {
		srvOpts = append(srvOpts, grpcserver.WithListener(deps.GRPCListener))
	} else {
		srvOpts = append(srvOpts, grpcserver.WithAddr(cfg.GRPCAddr))
	}
	if deps.AdminListener != nil {
		srvOpts = append(srvOpts, grpcserver.WithAdminListener(deps.AdminListener))
	} else {
		srvOpts = append(srvOpts, grpcserver.WithAdminAddr(cfg.AdminAddr))
	}
	srv, err := grpcserver.New(srvOpts...)
	if err != nil {
		return fmt.Errorf("grpc server: %w", err)
	}

	cacheMetrics, err := cache.NewMetrics(srv.Registry())
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("cache metrics: %w", err)
	}
	cacheStore, err := cache.New(cfg.Cache, cache.WithLogger(log), cache.WithMetrics(cacheMetrics))
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("cache: %w", err)
	}
	defer cacheStore.Close()
	quotes, err := cache.NewCache(cacheStore, QuoteCacheName, cache.JSONCodec[pricing.Quote](),
		cache.WithLogger(log), cache.WithMetrics(cacheMetrics))
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("quote cache: %w", err)
	}

	relay, closeNATS, err := newRelay(cfg.NATSURL, db, log, srv.Registry())
	if err != nil {
		_ = srv.Close()
		return err
	}
	defer closeNATS()
	// Committed events wake the relay at once instead of at its next poll.
	notify := func() {}
	if relay != nil {
		notify = relay.Notify
	}
	catSvc := catalog.NewService(store.Catalog(), nil)
	catSvc.OnEventsCommitted(notify)
	priceSvc := pricing.NewService(store.Pricing(), store.Catalog(), pricing.WithCache(quotes), pricing.WithQuoteTTL(cfg.QuoteTTL),
		pricing.WithEventsCommitted(notify))
	catAPI, err := grpcapi.NewCatalogServer(catSvc, log)
	if err != nil {
		_ = srv.Close()
		return err
	}
	catalogv1.RegisterCatalogServiceServer(srv, catAPI)
	priceAPI, err := grpcapi.NewPricingServer(priceSvc, log, srv.Registry())
	if err != nil {
		_ = srv.Close()
		return err
	}
	catalogv1.RegisterPricingServiceServer(srv, priceAPI)

	srv.Admin().AddCheck("database", db.Ping)
	srv.Admin().AddCheck("published_catalog", func(ctx context.Context) error {
		ok, err := catSvc.HasPublished(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("no catalog version published yet (initial ERP import pending)")
		}
		return nil
	})

	bs := breaker.DefaultSettings()
	bs.OpenTimeout = cfg.ERPBreakerOpenTimeout
	erpConn, err := grpcclient.Dial(cfg.ERPAddr, append([]grpcclient.Option{
		grpcclient.WithLogger(log), grpcclient.WithRegistry(srv.Registry()),
		grpcclient.WithDefaultTimeout(cfg.ERPTimeout), grpcclient.WithBreakerSettings(bs),
		grpcclient.WithDialOptions(deps.ERPDialOptions...)}, erpclient.Options(cfg.ExportTimeout)...)...)
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("dial erp: %w", err)
	}
	defer erpConn.Close()
	syncer := erpsync.New(erpclient.New(erpConn, cfg.DefaultChannels), catSvc, priceSvc, log,
		cfg.SyncRetryMin, cfg.SyncRetryMax)

	bg, stopBG := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stopBG()
		wg.Wait()
	}()
	wg.Go(func() { _ = syncer.Run(bg, cfg.SyncInterval, deps.SyncTrigger) })
	if relay != nil {
		wg.Go(func() {
			if err := relay.Run(bg); err != nil {
				log.Error("outbox relay stopped", slog.Any("error", err))
			}
		})
	} else {
		log.Warn("NATS_URL empty: events stay in the outbox until a relay runs")
	}
	log.Info("catalog-pricing serving", slog.String("grpc", srv.Addr().String()))
	return srv.Run(ctx)
}

// newRelay returns the outbox relay to the NATS server at url, or nil
// for an empty url, and what closes its connection. The connection is
// made in the background and retried forever, and the relay ensures its
// stream (eventstreams.Catalog) before it publishes, so a NATS that is
// down at start delays events but not the service.
func newRelay(url string, db *sqldb.DB, log *slog.Logger, reg prometheus.Registerer) (*outbox.Relay, func(), error) {
	if url == "" {
		return nil, func() {}, nil
	}
	nc, err := nats.Connect(url, nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1), nats.Name("catalog-pricing"))
	if err != nil {
		return nil, nil, fmt.Errorf("nats %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	relay, err := outbox.NewRelay(db, js, outbox.WithLogger(log), outbox.WithRegisterer(reg), outbox.WithStreams(eventstreams.Catalog))
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("outbox relay: %w", err)
	}
	return relay, nc.Close, nil
}
