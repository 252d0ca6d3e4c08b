// Command order runs the Transload order service: the order.v1 OrderService
// over gRPC, the durable ERP submission queue worker and the outbox relay to
// the NATS JetStream stream TRANSLOAD_ORDER. Configuration comes from the
// environment (see internal/config and the service README).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/breaker"
	platformconfig "github.com/transload/transload/platform/config"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/platform/tracing"
	"github.com/transload/transload/services/order/internal/catalogclient"
	"github.com/transload/transload/services/order/internal/config"
	"github.com/transload/transload/services/order/internal/erpclient"
	"github.com/transload/transload/services/order/internal/fulfillmentclient"
	"github.com/transload/transload/services/order/internal/grpcapi"
	"github.com/transload/transload/services/order/internal/inventoryclient"
	"github.com/transload/transload/services/order/internal/metrics"
	"github.com/transload/transload/services/order/internal/order"
	"github.com/transload/transload/services/order/internal/orderpb"
	"github.com/transload/transload/services/order/internal/store/sqlstore"
)

func main() { svcmain.Main("order", run) }

// streamBackoff paces the relay's attempts to ensure TRANSLOAD_ORDER while
// NATS is unreachable.
var streamBackoff = eventstreams.Backoff{Base: 200 * time.Millisecond, Max: 5 * time.Second}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	var cfg config.Config
	if err := platformconfig.Load(&cfg, getenv); err != nil {
		return err
	}
	log, err := svcmain.NewLogger(stdout, cfg.ServiceName, cfg.LogLevel)
	if err != nil {
		return err
	}
	slog.SetDefault(log)

	tcfg, err := tracing.ConfigFromEnv(cfg.ServiceName, getenv)
	if err != nil {
		return err
	}
	tp, shutdownTracing, err := tracing.Setup(ctx, tcfg)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = shutdownTracing(sctx)
	}()

	db, err := svcmain.OpenDB(ctx, cfg.DatabaseURL, log, sqlstore.Migrate)
	if err != nil {
		return err
	}
	defer db.Close()

	srv, err := grpcserver.New(
		grpcserver.WithLogger(log),
		grpcserver.WithAddr(cfg.GRPCAddr),
		grpcserver.WithAdminAddr(cfg.AdminAddr),
		grpcserver.WithTracerProvider(tp),
	)
	if err != nil {
		return err
	}
	reg := srv.Registry()
	m, err := metrics.New(reg)
	if err != nil {
		return err
	}

	dial := func(addr string, timeout time.Duration, extra ...grpcclient.Option) (*grpc.ClientConn, error) {
		opts := append([]grpcclient.Option{
			grpcclient.WithRegistry(reg), grpcclient.WithLogger(log),
			grpcclient.WithDefaultTimeout(timeout), grpcclient.WithTracerProvider(tp),
		}, extra...)
		return grpcclient.Dial(addr, opts...)
	}
	bs := breaker.DefaultSettings()
	bs.ConsecutiveFailures = uint32(cfg.ERPBreakerFailures)
	bs.OpenTimeout = cfg.ERPBreakerOpenTimeout
	erpConn, err := dial(cfg.ERPAddr, cfg.ERPReadTimeout,
		grpcclient.WithBreakerSettings(bs),
		grpcclient.WithIdempotentMethods(
			erpv1.ErpAdapterService_GetCustomer_FullMethodName,
			erpv1.ErpAdapterService_SubmitSalesOrder_FullMethodName,
			erpv1.ErpAdapterService_CancelSalesOrder_FullMethodName,
		))
	if err != nil {
		return err
	}
	defer erpConn.Close()
	catalogConn, err := dial(cfg.CatalogAddr, cfg.CatalogTimeout,
		grpcclient.WithIdempotentMethods(catalogv1.PricingService_QuotePrices_FullMethodName))
	if err != nil {
		return err
	}
	defer catalogConn.Close()
	inventoryConn, err := dial(cfg.InventoryAddr, cfg.InventoryTimeout,
		grpcclient.WithIdempotentMethods(
			inventoryv1.InventoryService_ReserveStock_FullMethodName,
			inventoryv1.InventoryService_ReleaseReservation_FullMethodName,
			inventoryv1.InventoryService_ListReservations_FullMethodName,
			inventoryv1.InventoryService_GetReservation_FullMethodName,
		))
	if err != nil {
		return err
	}
	defer inventoryConn.Close()
	fulfillmentConn, err := dial(cfg.FulfillmentAddr, cfg.FulfillmentTimeout,
		grpcclient.WithIdempotentMethods(fulfillmentv1.FulfillmentService_CancelFulfillment_FullMethodName))
	if err != nil {
		return err
	}
	defer fulfillmentConn.Close()

	// NATS may be down at start: connect in the background and keep
	// reconnecting; the outbox keeps events until the relay can publish.
	nc, err := nats.Connect(cfg.NATSURL, nats.Name(cfg.ServiceName), nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true), nats.ReconnectWait(500*time.Millisecond))
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	relay, err := outbox.NewRelay(db, js, outbox.WithRegisterer(reg), outbox.WithLogger(log),
		outbox.WithPollInterval(cfg.RelayPollInterval), outbox.WithPurgeAfter(cfg.OutboxRetention),
		outbox.WithStreams(eventstreams.Order), outbox.WithStreamBackoff(streamBackoff))
	if err != nil {
		return err
	}

	store := sqlstore.New(db, orderpb.Event)
	erp := erpclient.New(erpConn)
	var worker *order.Worker
	svc := order.NewService(order.Config{
		ClaimLease: cfg.ClaimLease, ClaimWait: cfg.ClaimWait, CustomerMaxStaleness: cfg.CustomerMaxStaleness,
	}, order.Deps{
		Store: store, Customers: erp, Pricer: catalogclient.New(catalogConn), Inventory: inventoryclient.New(inventoryConn),
		Fulfillment: fulfillmentclient.New(fulfillmentConn), Logger: log, Metrics: m,
		OnCommit: func() {
			relay.Notify()
			if worker != nil {
				worker.Notify()
			}
		},
	})
	worker = order.NewWorker(order.WorkerConfig{
		PollInterval: cfg.QueuePollInterval, CallTimeout: cfg.ERPSubmitTimeout,
		BackoffBase: cfg.QueueBackoffBase, BackoffMax: cfg.QueueBackoffMax,
		LeaseTTL: cfg.QueueLeaseTTL, KeyRetention: cfg.IdempotencyRetention,
	}, svc, erp)

	orderv1.RegisterOrderServiceServer(srv, grpcapi.New(svc, log))
	srv.Admin().AddCheck("database", db.Ping)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	background := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(runCtx); err != nil && !errors.Is(err, context.Canceled) {
				log.Error("background task stopped", slog.String("task", name), slog.Any("error", err))
			}
		}()
	}
	background("outbox-relay", relay.Run)
	background("erp-queue", worker.Run)
	background("customer-sync", func(ctx context.Context) error { return svc.RunCustomerSync(ctx, cfg.CustomerSyncInterval) })

	err = srv.Run(ctx)
	cancel()
	wg.Wait()
	return err
}
