// Command ops is the Transload ops service: it serves
// transload.ops.v1 OpsService behind the gateway. It projects the
// exceptions and audit records every service raises (TRANSLOAD_OPS) and
// the dead letters of every consumer (DEADLETTER) into its own database,
// the exception desk and the append-only audit index, replays dead
// letters, and answers reconciliation, ERP queue and KPI calls from the
// inventory and order services and the mesh's metrics.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/services/ops/internal/config"
	"github.com/transload/transload/services/ops/internal/desk"
	"github.com/transload/transload/services/ops/internal/deskevents"
	"github.com/transload/transload/services/ops/internal/grpcapi"
	"github.com/transload/transload/services/ops/internal/store/sqlstore"
	"github.com/transload/transload/services/ops/internal/upstream"
)

func main() { svcmain.Main("ops", run) }

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
// Only the database is needed to start. NATS and the neighbours may be
// absent: the connections are lazy, and the consumers keep retrying in the
// background; readiness ("nats") reports them.
func runWithReady(ctx context.Context, getenv func(string) string, stdout io.Writer, ready func(Addrs)) error {
	return svcmain.Bind("ops", func(ctx context.Context, rt *svcmain.Runtime, cfg *config.Config) error {
		return runService(ctx, rt, cfg, ready)
	})(ctx, getenv, stdout)
}

// Read methods of the neighbours, safe to retry.
var (
	inventoryReads = []string{
		inventoryv1.InventoryService_GetReconciliation_FullMethodName,
		inventoryv1.InventoryService_ListReconciliations_FullMethodName,
		inventoryv1.InventoryService_ListReconciliationVariances_FullMethodName,
	}
	orderReads = []string{
		orderv1.OrderService_GetErpQueueStatus_FullMethodName,
		orderv1.OrderService_ListErpQueueEntries_FullMethodName,
		orderv1.OrderService_GetErpQueueEntry_FullMethodName,
	}
)

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

	// NATS may be down at start: connect in the background and keep
	// reconnecting; the consumers retry until it is there.
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

	d := desk.New(store, deskevents.NewReplayer(js, ""))
	copts := []events.ConsumerOption{events.WithStreams(cfg.Streams.Apply(eventstreams.Ops)...), events.WithConsumerLogger(logger),
		events.WithConsumerRegisterer(rt.Registry()), events.WithBatch(deskevents.ConsumerBatch), events.WithBatchLinger(deskevents.ConsumerLinger)}
	deskConsumer, err := events.NewConsumer(db, js, deskevents.DeskConfig(), deskevents.DeskHandler(d, store.Bind), copts...)
	if err != nil {
		return err
	}
	auditConsumer, err := events.NewConsumer(db, js, deskevents.AuditConfig(), deskevents.AuditHandler(d, store.Bind),
		append(slices.Clone(copts), deskevents.AuditOptions()...)...)
	if err != nil {
		return err
	}
	if err := events.RegisterGauges(rt.Registry(), js, deskConsumer, auditConsumer); err != nil {
		return err
	}
	deadLetters := deskevents.NewDeadLetters(js, store, d, "", deskevents.WithLogger(logger))
	rt.Admin().AddCheck("nats", deskevents.Check(js, deadLetters))

	var conns []*grpc.ClientConn
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	// dial connects to a neighbour with its deadline on the connection,
	// so a slow neighbour counts against its breaker.
	dial := func(name, addr string, timeout time.Duration, reads []string) (*grpc.ClientConn, error) {
		c, err := grpcclient.Dial(addr, append(rt.ClientOptions(), grpcclient.WithDefaultTimeout(timeout),
			grpcclient.WithIdempotentMethods(reads...), grpcclient.WithDependency(name))...)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", name, err)
		}
		conns = append(conns, c)
		return c, nil
	}
	invConn, err := dial("inventory", cfg.InventoryAddr, cfg.InventoryTimeout, inventoryReads)
	if err != nil {
		return err
	}
	orderConn, err := dial("order", cfg.OrderAddr, cfg.OrderTimeout, orderReads)
	if err != nil {
		return err
	}
	up, err := upstream.New(upstream.Config{
		Inventory: inventoryv1.NewInventoryServiceClient(invConn), Order: orderv1.NewOrderServiceClient(orderConn),
		Desk: store, Targets: cfg.Targets(), Interval: cfg.KPIScrapeInterval, ScrapeToken: cfg.AdminToken,
		Registry: rt.Registry(), Logger: logger,
	})
	if err != nil {
		return err
	}

	srv, err := rt.NewServer(grpcserver.WithAddr(cfg.GRPCAddr), grpcserver.WithAdminAddr(cfg.AdminAddr),
		grpcserver.WithShutdownTimeout(cfg.ShutdownTimeout), rt.Mesh(grpcapi.Callers))
	if err != nil {
		return err
	}
	opsv1.RegisterOpsServiceServer(srv, grpcapi.NewServer(d, store, up, logger))

	bgCtx, stopBG := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{deskConsumer.Run, auditConsumer.Run, deadLetters.Run, up.Run} {
		wg.Go(func() {
			if err := run(bgCtx); err != nil {
				logger.Error("ops: background worker stopped", slog.Any("error", err))
			}
		})
	}
	defer func() {
		stopBG()
		wg.Wait()
	}()

	if ready != nil {
		ready(Addrs{GRPC: srv.Addr().String(), Admin: srv.AdminAddr().String()})
	}
	return srv.Run(ctx)
}
