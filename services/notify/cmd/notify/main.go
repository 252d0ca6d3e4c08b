// Command notify is the Transload notification service: it owns webhook
// subscriptions, turns order and shipment events (NATS, durable
// consumers) into a durable per-subscription delivery queue in its own
// database, delivers it signed per Standard Webhooks with retries, keeps
// the delivery log, raises exceptions for the ops desk through its
// outbox, and serves transload.notify.v1 NotificationService, which the
// gateway exposes as the storefront.v1 webhook routes.
package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	notifyv1 "github.com/transload/transload/gen/transload/notify/v1"
	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/outbox/streamloss"
	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/services/notify/internal/config"
	"github.com/transload/transload/services/notify/internal/deliver"
	"github.com/transload/transload/services/notify/internal/eventsin"
	"github.com/transload/transload/services/notify/internal/grpcapi"
	"github.com/transload/transload/services/notify/internal/store/sqlstore"
)

func main() { svcmain.Main("notify", run) }

// run starts the service and serves until ctx ends (SIGTERM).
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	return runWithReady(ctx, getenv, stdout, nil)
}

// Addrs are the addresses the service listens on.
type Addrs struct {
	GRPC, Admin string
}

// runWithReady is run that calls ready, when not nil, with the bound
// addresses once the service serves. Only the database is needed to
// start; NATS may come later (the consumers and the relay retry).
func runWithReady(ctx context.Context, getenv func(string) string, stdout io.Writer, ready func(Addrs)) error {
	return svcmain.Bind("notify", func(ctx context.Context, rt *svcmain.Runtime, cfg *config.Config) error {
		return runService(ctx, rt, cfg, ready)
	})(ctx, getenv, stdout)
}

func runService(ctx context.Context, rt *svcmain.Runtime, loaded *config.Config, ready func(Addrs)) error {
	cfg := *loaded
	logger := rt.Logger()

	db, err := rt.OpenDB(ctx, cfg.DatabaseURL, sqlstore.Migrate)
	if err != nil {
		return err
	}
	store := sqlstore.New(db)

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
	relay, err := outbox.NewRelay(db, js, outbox.WithStreams(cfg.Streams.Apply(eventstreams.Ops)...),
		outbox.WithLogger(logger), outbox.WithRegisterer(rt.Registry()), streamloss.Reconcile("notify"))
	if err != nil {
		return err
	}

	dcfg := cfg.Dispatcher()
	dcfg.Logger, dcfg.Registry = logger, rt.Registry()
	disp, err := deliver.New(store, dcfg)
	if err != nil {
		return err
	}
	wake := func() { disp.Wake(); relay.Notify() }
	handler := eventsin.Handler(store, nil, wake)
	copts := append([]events.ConsumerOption{events.WithConsumerLogger(logger), events.WithConsumerRegisterer(rt.Registry())},
		eventsin.Options(eventsin.NewInterests(store))...)
	orderConsumer, err := events.NewConsumer(db, js, eventsin.OrderConfig(), handler,
		append(copts, events.WithStreams(cfg.Streams.Apply(eventstreams.Order)...))...)
	if err != nil {
		return err
	}
	shipmentConsumer, err := events.NewConsumer(db, js, eventsin.ShipmentConfig(), handler,
		append(copts, events.WithStreams(cfg.Streams.Apply(eventstreams.Fulfillment)...))...)
	if err != nil {
		return err
	}
	if err := events.RegisterGauges(rt.Registry(), js, orderConsumer, shipmentConsumer); err != nil {
		return err
	}

	srv, err := rt.NewServer(grpcserver.WithAddr(cfg.GRPCAddr), grpcserver.WithAdminAddr(cfg.AdminAddr),
		grpcserver.WithShutdownTimeout(cfg.ShutdownTimeout), rt.Mesh(grpcapi.Callers))
	if err != nil {
		return err
	}
	notifyv1.RegisterNotificationServiceServer(srv, grpcapi.New(store, disp, cfg.Policy(), logger))

	bgCtx, stopBG := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = relay.Run(bgCtx) })
	wg.Go(func() { _ = orderConsumer.Run(bgCtx) })
	wg.Go(func() { _ = shipmentConsumer.Run(bgCtx) })
	wg.Go(func() { disp.Run(bgCtx) })
	retention := &deliver.Retention{Store: store, Keep: cfg.DeliveryLogRetention, Logger: logger}
	wg.Go(func() { retention.Run(bgCtx) })
	defer func() {
		stopBG()
		wg.Wait()
	}()

	if ready != nil {
		ready(Addrs{GRPC: srv.Addr().String(), Admin: srv.AdminAddr().String()})
	}
	return srv.Run(ctx)
}
