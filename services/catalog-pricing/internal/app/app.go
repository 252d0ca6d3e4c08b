// Package app wires the catalog-pricing service on the runtime svcmain
// gives every binary: database and migrations, domains, cache, the gRPC
// server with its readiness checks, the ERP importer and the outbox relay
// to NATS JetStream. cmd/catalog-pricing calls Run; the component tests
// call it too, with in-memory listeners and a fake ERP.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
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
	"github.com/transload/transload/platform/outbox/streamloss"
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

// Deps is what Run takes besides the configuration: the runtime, and
// replacements tests use for what Run would otherwise make from it.
type Deps struct {
	// Runtime is the binary's svcmain runtime (required): its logger,
	// registry, tracer provider and admin server serve the gRPC server and
	// the ERP client, and it opens (and at Close closes) the database.
	Runtime *svcmain.Runtime
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
	rt := deps.Runtime
	if rt == nil {
		return errors.New("app: Deps.Runtime is required")
	}
	log := rt.Logger()
	db, err := rt.OpenDB(ctx, cfg.DatabaseURL, sqlstore.Migrate)
	if err != nil {
		return err
	}
	store := sqlstore.New(db)

	quotes, closeCache, err := newQuoteCache(cfg.Cache, log, rt.Registry())
	if err != nil {
		return err
	}
	defer closeCache()
	relay, closeNATS, err := newRelay(cfg.NATSURL, cfg.Streams, db, log, rt.Registry())
	if err != nil {
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
	// The quote memo takes at most a quarter of the Go memory limit
	// svcmain set (MEMORY_LIMIT_MB), so it cannot keep the collector busy.
	priceSvc := pricing.NewService(store.Pricing(), store.Catalog(), pricing.WithCache(quotes), pricing.WithQuoteTTL(cfg.QuoteTTL),
		pricing.WithEventsCommitted(notify), pricing.WithQuoteMemoBytes(pricing.QuoteMemoBytesFor(debug.SetMemoryLimit(-1))))
	catAPI, err := grpcapi.NewCatalogServer(catSvc, log)
	if err != nil {
		return err
	}
	priceAPI, err := grpcapi.NewPricingServer(priceSvc, log, rt.Registry())
	if err != nil {
		return err
	}
	rt.Admin().AddCheck("published_catalog", func(ctx context.Context) error {
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
	erpConn, err := grpcclient.Dial(cfg.ERPAddr, append(append(rt.ClientOptions(),
		grpcclient.WithDefaultTimeout(cfg.ERPTimeout), grpcclient.WithBreakerSettings(bs), grpcclient.WithDependency("erp"),
		grpcclient.WithDialOptions(deps.ERPDialOptions...)), erpclient.Options(cfg.ExportTimeout)...)...)
	if err != nil {
		return fmt.Errorf("dial erp: %w", err)
	}
	defer erpConn.Close()
	syncer := erpsync.New(erpclient.New(erpConn, cfg.DefaultChannels), catSvc, priceSvc, log, cfg.SyncRetryMin, cfg.SyncRetryMax)
	// The price feed resumes from the cursor it saved here (keyed by the
	// ERP's address), so a restart costs no full price export.
	syncer.SetCursorStore(store.FeedCursors(), cfg.ERPAddr)

	// grpcapi.Codec sends memoized quote responses as the bytes they were
	// marshalled to once, instead of marshalling them on every call.
	srv, err := rt.NewServer(append(listen(cfg, deps), grpcserver.WithServerOptions(grpc.ForceServerCodecV2(grpcapi.Codec())), rt.Mesh(grpcapi.Callers))...)
	if err != nil {
		return fmt.Errorf("grpc server: %w", err)
	}
	catalogv1.RegisterCatalogServiceServer(srv, catAPI)
	// QuotePrices checks its requests with a pre-check equivalent to
	// protovalidate (grpcapi.PricingServiceDesc).
	srv.RegisterService(grpcapi.PricingServiceDesc(), priceAPI)

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

// listen returns the server's listen options: the test's listeners when
// given, else the configured addresses.
func listen(cfg config.Config, deps Deps) []grpcserver.Option {
	opts := []grpcserver.Option{grpcserver.WithAddr(cfg.GRPCAddr), grpcserver.WithAdminAddr(cfg.AdminAddr)}
	if deps.GRPCListener != nil {
		opts[0] = grpcserver.WithListener(deps.GRPCListener)
	}
	if deps.AdminListener != nil {
		opts[1] = grpcserver.WithAdminListener(deps.AdminListener)
	}
	return opts
}

// newQuoteCache returns the quote cache (Redis or in-process, as cfg
// says) and what closes its store.
func newQuoteCache(cfg cache.Config, log *slog.Logger, reg prometheus.Registerer) (pricing.QuoteCache, func(), error) {
	m, err := cache.NewMetrics(reg)
	if err != nil {
		return nil, nil, fmt.Errorf("cache metrics: %w", err)
	}
	st, err := cache.New(cfg, cache.WithLogger(log), cache.WithMetrics(m))
	if err != nil {
		return nil, nil, fmt.Errorf("cache: %w", err)
	}
	quotes, err := cache.NewCache(st, QuoteCacheName, cache.JSONCodec[pricing.Quote](), cache.WithLogger(log), cache.WithMetrics(m))
	if err != nil {
		_ = st.Close()
		return nil, nil, fmt.Errorf("quote cache: %w", err)
	}
	return quotes, func() { _ = st.Close() }, nil
}

// newRelay returns the outbox relay to the NATS server at url, or nil
// for an empty url, and what closes its connection. The connection is
// made in the background and retried forever, and the relay ensures its
// streams (eventstreams.Catalog, and eventstreams.Ops for the audit
// trail), with the replicas of streams (NATS_STREAM_REPLICAS), before it
// publishes, so a NATS that is down at start delays events but not the
// service. It runs the outbox reconciler (OUTBOX_RECONCILE_INTERVAL,
// OUTBOX_RECONCILE_LOOKBACK) as the other services' relays do: events the
// stream lost are republished and raise an EVENT_STREAM_LOSS exception.
func newRelay(url string, streams eventstreams.Settings, db *sqldb.DB, log *slog.Logger, reg prometheus.Registerer) (*outbox.Relay, func(), error) {
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
	relay, err := outbox.NewRelay(db, js, outbox.WithLogger(log), outbox.WithRegisterer(reg),
		outbox.WithStreams(streams.Apply(eventstreams.Catalog, eventstreams.Ops)...), streamloss.Reconcile("catalog-pricing"))
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("outbox relay: %w", err)
	}
	return relay, nc.Close, nil
}
