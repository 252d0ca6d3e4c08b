// Command fulfillment is the Transload fulfilment service: it turns
// confirmed orders (OrderConfirmedEvent from NATS) into fulfilment
// requests per allocated warehouse, sends them to the WMS, polls the WMS
// shipment event feed, records shipments, commits reservations in
// inventory, reports shipment progress to the order service, publishes
// ShipmentUpdatedEvent and serves transload.fulfillment.v1 over gRPC.
package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"

	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	"github.com/transload/transload/platform/breaker"
	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/outbox/streamloss"
	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/services/fulfillment/internal/config"
	"github.com/transload/transload/services/fulfillment/internal/grpcapi"
	"github.com/transload/transload/services/fulfillment/internal/inventoryclient"
	"github.com/transload/transload/services/fulfillment/internal/orderclient"
	"github.com/transload/transload/services/fulfillment/internal/orderevents"
	"github.com/transload/transload/services/fulfillment/internal/store/sqlstore"
	"github.com/transload/transload/services/fulfillment/internal/wmsclient"
	"github.com/transload/transload/services/fulfillment/internal/worker"
)

func main() { svcmain.Main("fulfillment", run) }

// run starts the service and serves until ctx ends (SIGTERM), then shuts
// down gracefully.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	return runWithReady(ctx, getenv, stdout, nil)
}

// Addrs are the addresses the service listens on.
type Addrs struct {
	GRPC, Admin string
}

// runWithReady is run that calls ready, when not nil, with the bound
// addresses once the service serves (tests use it with port 0).
//
// Only the database is a hard dependency (readiness "database", from
// Runtime.OpenDB). The neighbours and NATS may be absent at start: the
// connections are lazy, and the relay, the consumer and the workers keep
// retrying in the background.
func runWithReady(ctx context.Context, getenv func(string) string, stdout io.Writer, ready func(Addrs)) error {
	return svcmain.Bind("fulfillment", func(ctx context.Context, rt *svcmain.Runtime, cfg *config.Config) error {
		return runService(ctx, rt, cfg, ready)
	})(ctx, getenv, stdout)
}

// runService wires the service and serves until ctx ends, calling ready,
// when not nil, once it listens.
func runService(ctx context.Context, rt *svcmain.Runtime, loaded *config.Config, ready func(Addrs)) error {
	cfg := *loaded
	logger := rt.Logger()

	db, err := rt.OpenDB(ctx, cfg.DatabaseURL, sqlstore.Migrate)
	if err != nil {
		return err
	}
	store := sqlstore.New(db)

	breakerSettings := breaker.DefaultSettings()
	breakerSettings.OpenTimeout = cfg.BreakerOpenTimeout
	var conns []*grpc.ClientConn
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	// dial connects to a neighbour with its deadline on the connection, so
	// a slow neighbour counts against its breaker.
	dial := func(name, addr string, timeout time.Duration, methods []string) (*grpc.ClientConn, error) {
		c, err := grpcclient.Dial(addr, append(rt.ClientOptions(), grpcclient.WithDefaultTimeout(timeout),
			grpcclient.WithBreakerSettings(breakerSettings), grpcclient.WithIdempotentMethods(methods...),
			grpcclient.WithDependency(name))...)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", name, err)
		}
		conns = append(conns, c)
		return c, nil
	}
	wmsConn, err := dial(wmsclient.Dependency, cfg.WMSAddr, cfg.WMSTimeout, wmsclient.IdempotentMethods)
	if err != nil {
		return err
	}
	invConn, err := dial(inventoryclient.Dependency, cfg.InventoryAddr, cfg.InventoryTimeout, inventoryclient.IdempotentMethods)
	if err != nil {
		return err
	}
	orderConn, err := dial(orderclient.Dependency, cfg.OrderAddr, cfg.OrderTimeout, orderclient.IdempotentMethods)
	if err != nil {
		return err
	}

	// NATS may be down at start: connect in the background and keep
	// reconnecting; the consumer and relay retry until it is there.
	nc, err := nats.Connect(cfg.NATSURL, nats.Name(cfg.ServiceName), nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true), nats.ReconnectWait(250*time.Millisecond))
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	relay, err := outbox.NewRelay(db, js, outbox.WithStreams(cfg.Streams.Apply(eventstreams.Fulfillment, eventstreams.Ops)...),
		outbox.WithLogger(logger), outbox.WithRegisterer(rt.Registry()), streamloss.Reconcile("fulfillment"))
	if err != nil {
		return err
	}

	schedule := worker.Schedule{Interval: cfg.DispatchInterval, Backoff: worker.Backoff{Base: cfg.RetryBackoffBase, Max: cfg.RetryBackoffMax}}
	wms := wmsclient.New(wmsConn)
	effects := worker.NewEffectRunner(store, inventoryclient.New(invConn), orderclient.New(orderConn), wms, worker.EffectRunnerConfig{
		Common: worker.Common{Logger: logger}, Schedule: schedule,
	})
	metrics, err := worker.NewMetrics(rt.Registry(), store)
	if err != nil {
		return err
	}
	common := worker.Common{Logger: logger, Published: relay.Notify, EffectsQueued: effects.Notify, Metrics: metrics}
	dispatcher := worker.NewDispatcher(store, wms, worker.DispatcherConfig{
		Common: common, Schedule: schedule, MaxAttempts: cfg.WMSMaxAttempts,
	})
	poller := worker.NewPoller(store, wms, worker.PollerConfig{
		Common: common, Source: cfg.WMSSource, Interval: cfg.WMSPollInterval,
	})
	// The return receipt feed has its own cursor and event ids: source
	// "{FULFILLMENT_WMS_SOURCE}.returns".
	returnPoller := worker.NewPoller(store, wms, worker.PollerConfig{
		Common: common, Source: cfg.WMSSource + ".returns", Interval: cfg.WMSPollInterval, Returns: true,
	})
	// The consumer continues the trace each order event carries
	// (platform/events), so a trace runs from the order into fulfillment.
	consumer, err := events.NewConsumer(db, js, orderevents.ConsumerConfig(),
		orderevents.Handler(store.Bind, nil, logger, dispatcher.Notify, orderevents.NewRoutes(cfg.WMSWarehouses)), events.WithStreams(cfg.Streams.Apply(eventstreams.Order)...),
		events.WithConsumerLogger(logger), events.WithConsumerRegisterer(rt.Registry()))
	if err != nil {
		return err
	}
	returnsConsumer, err := events.NewConsumer(db, js, orderevents.ReturnsConsumerConfig(),
		orderevents.ReturnsHandler(store.Bind, nil, logger, effects.Notify), events.WithStreams(cfg.Streams.Apply(eventstreams.Order)...),
		events.WithConsumerLogger(logger), events.WithConsumerRegisterer(rt.Registry()))
	if err != nil {
		return err
	}
	// Returns closed without receipt withdraw their expected returns at
	// the WMS.
	closedConsumer, err := events.NewConsumer(db, js, orderevents.ReturnClosedConsumerConfig(),
		orderevents.ReturnClosedHandler(store.Bind, nil, logger, effects.Notify), events.WithStreams(cfg.Streams.Apply(eventstreams.Order)...),
		events.WithConsumerLogger(logger), events.WithConsumerRegisterer(rt.Registry()))
	if err != nil {
		return err
	}
	if err := events.RegisterGauges(rt.Registry(), js, consumer, returnsConsumer, closedConsumer); err != nil {
		return err
	}

	srv, err := rt.NewServer(grpcserver.WithAddr(cfg.GRPCAddr), grpcserver.WithAdminAddr(cfg.AdminAddr),
		grpcserver.WithShutdownTimeout(cfg.ShutdownTimeout), rt.Mesh(grpcapi.Callers))
	if err != nil {
		return err
	}
	fulfillmentv1.RegisterFulfillmentServiceServer(srv,
		grpcapi.NewServer(store, dispatcher, logger, grpcapi.WithPusher(worker.NewPushApplier(store, common)),
			grpcapi.WithCanceller(worker.NewCanceller(store, wms, common))))

	bgCtx, stopBG := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = relay.Run(bgCtx) })
	wg.Go(func() { _ = consumer.Run(bgCtx) })
	wg.Go(func() { _ = returnsConsumer.Run(bgCtx) })
	wg.Go(func() { _ = closedConsumer.Run(bgCtx) })
	wg.Go(func() { dispatcher.Run(bgCtx) })
	wg.Go(func() { poller.Run(bgCtx) })
	wg.Go(func() { returnPoller.Run(bgCtx) })
	wg.Go(func() { effects.Run(bgCtx) })
	defer func() {
		stopBG()
		wg.Wait()
	}()

	if ready != nil {
		ready(Addrs{GRPC: srv.Addr().String(), Admin: srv.AdminAddr().String()})
	}
	return srv.Run(ctx)
}
