// Command order runs the Transload order service: the order.v1 OrderService
// over gRPC, the durable ERP submission queue worker, the customer snapshot
// sync and the outbox relay to the NATS JetStream streams TRANSLOAD_ORDER
// (order events) and TRANSLOAD_OPS (exceptions and audit records).
// Configuration comes from the environment (see internal/config and the
// service README); with none at all it starts on its default ports and
// keeps retrying neighbours and NATS in the background.
package main

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/outbox/streamloss"
	"github.com/transload/transload/platform/sqldb"
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

// run is the binary: svcmain loads and logs the configuration and starts
// the runtime (logger, tracing, metrics, admin server), then runService runs.
var run = svcmain.Bind("order", runService)

// runService wires the service and serves until ctx ends.
func runService(ctx context.Context, rt *svcmain.Runtime, loaded *config.Config) error {
	cfg := *loaded
	db, err := rt.OpenDB(ctx, cfg.DatabaseURL, sqlstore.Migrate)
	if err != nil {
		return err
	}
	srv, err := rt.NewServer(grpcserver.WithAddr(cfg.GRPCAddr), grpcserver.WithAdminAddr(cfg.AdminAddr), rt.Mesh(grpcapi.Callers))
	if err != nil {
		return err
	}
	n, err := dialNeighbours(rt, cfg)
	if err != nil {
		return err
	}
	defer n.close()
	nc, err := connectNATS(cfg)
	if err != nil {
		return err
	}
	defer nc.Close()
	relay, err := newRelay(rt, cfg, db, nc)
	if err != nil {
		return err
	}
	m, err := metrics.New(rt.Registry())
	if err != nil {
		return err
	}
	svc, worker := newService(cfg, db, n, relay, m, rt.Logger())
	returns, err := newReturns(cfg, db, svc)
	if err != nil {
		return err
	}
	poster, err := newPoster(cfg, db, n, relay, rt.Logger())
	if err != nil {
		return err
	}
	orderv1.RegisterOrderServiceServer(srv, grpcapi.New(svc, worker, rt.Logger()).WithReturns(returns).WithPoster(poster))
	return serve(ctx, srv, rt.Logger(), map[string]func(context.Context) error{
		"outbox-relay": relay.Run,
		"erp-queue":    worker.Run,
		"posting":      poster.Run,
		"customer-sync": func(ctx context.Context) error {
			return svc.RunCustomerSync(ctx, cfg.CustomerSyncInterval)
		},
		"return-credits": func(ctx context.Context) error {
			return returns.RunCredits(ctx, returnCreditInterval)
		},
		"return-expiry": func(ctx context.Context) error {
			return returns.RunExpiry(ctx, returnExpiryInterval(cfg.ReturnAuthorizationTTL), returnExpiryLeaseTTL)
		},
	})
}

// neighbours are the connections to the services order calls. The ERP has
// two, one per budget (ERP_READ_TIMEOUT for customer reads,
// ERP_SUBMIT_TIMEOUT for the queue's submissions and cancellations), behind
// one breaker.
type neighbours struct {
	erpRead, erpQueue, catalog, inventory, fulfillment *grpc.ClientConn
	// erpBreaker guards both ERP connections; the queue status shows it.
	erpBreaker *breaker.Breaker
}

// dialNeighbours dials every neighbour with its deadline from cfg; calls
// start failing fast (and retrying in the background) while one is down.
func dialNeighbours(rt *svcmain.Runtime, cfg config.Config) (*neighbours, error) {
	dial := func(addr string, timeout time.Duration, opts ...grpcclient.Option) (*grpc.ClientConn, error) {
		return grpcclient.Dial(addr, append(append(rt.ClientOptions(), grpcclient.WithDefaultTimeout(timeout)), opts...)...)
	}
	erpBreaker, err := newERPBreaker(rt, cfg)
	if err != nil {
		return nil, err
	}
	n := &neighbours{erpBreaker: erpBreaker}
	var errs [5]error
	n.erpRead, errs[0] = dial(cfg.ERPAddr, cfg.ERPReadTimeout, grpcclient.WithBreaker(erpBreaker),
		grpcclient.WithIdempotentMethods(
			erpv1.ErpAdapterService_GetCustomer_FullMethodName,
			erpv1.ErpAdapterService_ListCustomers_FullMethodName,
		))
	n.erpQueue, errs[1] = dial(cfg.ERPAddr, cfg.ERPSubmitTimeout, grpcclient.WithBreaker(erpBreaker),
		grpcclient.WithIdempotentMethods(
			erpv1.ErpAdapterService_SubmitSalesOrder_FullMethodName,
			erpv1.ErpAdapterService_CancelSalesOrder_FullMethodName,
		))
	n.catalog, errs[2] = dial(cfg.CatalogAddr, cfg.CatalogTimeout, grpcclient.WithDependency("catalog-pricing"),
		grpcclient.WithIdempotentMethods(catalogv1.PricingService_QuotePrices_FullMethodName,
			// Coupons: idempotent on the reservation id (the order id).
			catalogv1.PricingService_ReservePromotions_FullMethodName,
			catalogv1.PricingService_RedeemPromotionReservation_FullMethodName,
			catalogv1.PricingService_ReleasePromotionReservation_FullMethodName))
	n.inventory, errs[3] = dial(cfg.InventoryAddr, cfg.InventoryTimeout, grpcclient.WithDependency("inventory"),
		grpcclient.WithIdempotentMethods(
			inventoryv1.InventoryService_ReserveStock_FullMethodName,
			inventoryv1.InventoryService_ReleaseReservation_FullMethodName,
			inventoryv1.InventoryService_ListReservations_FullMethodName,
			inventoryv1.InventoryService_GetReservation_FullMethodName,
		))
	n.fulfillment, errs[4] = dial(cfg.FulfillmentAddr, cfg.FulfillmentTimeout, grpcclient.WithDependency("fulfillment"),
		grpcclient.WithIdempotentMethods(fulfillmentv1.FulfillmentService_CancelFulfillment_FullMethodName))
	if err := errors.Join(errs[:]...); err != nil {
		n.close()
		return nil, err
	}
	return n, nil
}

// newERPBreaker is the one breaker of both ERP connections, tuned by
// ORDER_ERP_BREAKER_*.
func newERPBreaker(rt *svcmain.Runtime, cfg config.Config) (*breaker.Breaker, error) {
	bm, err := breaker.NewMetrics(rt.Registry())
	if err != nil {
		return nil, err
	}
	bs := breaker.DefaultSettings()
	bs.ConsecutiveFailures = uint32(min(cfg.ERPBreakerFailures, 1<<32-1))
	bs.OpenTimeout = cfg.ERPBreakerOpenTimeout
	bs.IsFailure = grpcclient.IsTargetFailure
	return breaker.New("erp", bs, breaker.WithLogger(rt.Logger()), breaker.WithMetrics(bm)), nil
}

func (n *neighbours) close() {
	for _, c := range []*grpc.ClientConn{n.erpRead, n.erpQueue, n.catalog, n.inventory, n.fulfillment} {
		if c != nil {
			_ = c.Close()
		}
	}
}

// connectNATS connects in the background and keeps reconnecting: NATS may
// be down at start, and the outbox keeps events until the relay can
// publish.
func connectNATS(cfg config.Config) (*nats.Conn, error) {
	nc, err := nats.Connect(cfg.NATSURL, nats.Name(cfg.ServiceName), nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true), nats.ReconnectWait(500*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	return nc, nil
}

// streamBackoff paces the relay's attempts to ensure TRANSLOAD_ORDER while
// NATS is unreachable.
var streamBackoff = eventstreams.Backoff{Base: 200 * time.Millisecond, Max: 5 * time.Second}

// newRelay is the outbox relay to TRANSLOAD_ORDER (order events) and
// TRANSLOAD_OPS (exceptions and audit records), which it ensures first.
func newRelay(rt *svcmain.Runtime, cfg config.Config, db *sqldb.DB, nc *nats.Conn) (*outbox.Relay, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return outbox.NewRelay(db, js, outbox.WithRegisterer(rt.Registry()), outbox.WithLogger(rt.Logger()),
		outbox.WithPollInterval(cfg.RelayPollInterval), outbox.WithPurgeAfter(cfg.OutboxRetention),
		outbox.WithStreams(cfg.Streams.Apply(eventstreams.Order, eventstreams.Ops)...), outbox.WithStreamBackoff(streamBackoff),
		streamloss.Reconcile("order"))
}

// newService wires the domain to the store and the neighbours' adapters;
// a commit that queued ERP work wakes the worker and the relay, one that
// wrote events only wakes the relay.
func newService(cfg config.Config, db *sqldb.DB, n *neighbours, relay *outbox.Relay, m *metrics.Metrics, log *slog.Logger) (*order.Service, *order.Worker) {
	var worker *order.Worker
	svc := order.NewService(order.Config{
		ClaimLease: cfg.ClaimLease, ClaimWait: cfg.ClaimWait, AbandonAfter: cfg.ClaimAbandonAfter,
		CustomerMaxStaleness: cfg.CustomerMaxStaleness,
		CustomerLocalMaxAge:  cfg.CustomerLocalMaxAge,
	}, order.Deps{
		Store:       sqlstore.New(db, orderpb.Encoder{}),
		Customers:   erpclient.New(n.erpRead),
		Pricer:      catalogclient.New(n.catalog),
		Inventory:   inventoryclient.New(n.inventory),
		Fulfillment: fulfillmentclient.New(n.fulfillment),
		Logger:      log,
		Metrics:     m,
		OnCommit: func() {
			relay.Notify()
			worker.Notify()
		},
		OnPublish: relay.Notify,
	})
	worker = order.NewWorker(order.WorkerConfig{
		PollInterval: cfg.QueuePollInterval, BackoffBase: cfg.QueueBackoffBase, BackoffMax: cfg.QueueBackoffMax,
		LeaseTTL: cfg.QueueLeaseTTL, KeyRetention: cfg.IdempotencyRetention,
		ResumeTrace: tracing.WithTraceparent, FailureExceptionAfter: cfg.ERPFailureExceptionAfter,
		BreakerState: erpclient.BreakerState(n.erpBreaker),
		Concurrency:  cfg.QueueConcurrency,
		MaxStrikes:   cfg.QueueMaxStrikes,
	}, svc, erpclient.New(n.erpQueue))
	return svc, worker
}

// returnCreditInterval is how often returns whose credit memos the poster
// posted are completed (CREDITED, then CLOSED): a query of the received
// returns with a credit each time.
const returnCreditInterval = time.Second

// returnExpiryInterval is how often AUTHORIZED returns past
// ORDER_RETURN_AUTHORIZATION_TTL are closed: a quarter of the TTL, between
// 100 ms and a minute (an indexed read of the expired ones each time).
func returnExpiryInterval(ttl time.Duration) time.Duration {
	return min(max(ttl/4, 100*time.Millisecond), time.Minute)
}

// returnExpiryLeaseTTL is the expiry task's singleton lease: a replica
// that died holding it is replaced at most this long after its last pass.
const returnExpiryLeaseTTL = 30 * time.Second

// newReturns wires the return (RMA) use cases with the ORDER_RETURN_*
// policy, over the same database as the orders.
func newReturns(cfg config.Config, db *sqldb.DB, svc *order.Service) (*order.Returns, error) {
	windows, err := cfg.ReturnChannelWindows()
	if err != nil {
		return nil, err
	}
	return order.NewReturns(svc, sqlstore.New(db, orderpb.Encoder{}), order.ReturnConfig{
		Window: cfg.ReturnWindow, ChannelWindows: windows, AllowShipped: cfg.ReturnAllowShipped,
		AutoApproveMaxMinor: cfg.ReturnAutoApproveMaxMinor, AuthorizationTTL: cfg.ReturnAuthorizationTTL,
	}), nil
}

// serve runs srv until ctx ends, with tasks beside it; it stops the tasks
// and waits for them before it returns srv's error.
func serve(ctx context.Context, srv *grpcserver.Server, log *slog.Logger, tasks map[string]func(context.Context) error) error {
	taskCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for name, task := range tasks {
		wg.Go(func() {
			if err := task(taskCtx); err != nil && !errors.Is(err, context.Canceled) {
				log.Error("background task stopped", slog.String("task", name), slog.Any("error", err))
			}
		})
	}
	err := srv.Run(ctx)
	cancel()
	wg.Wait()
	return err
}
