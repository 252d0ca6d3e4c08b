package grpcserver_test

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/grpcserver/grpcservertest"
	"github.com/transload/transload/platform/logging"
	"github.com/transload/transload/platform/tracing"
)

// Example shows how a service's run function wires a server and a client
// to a neighbour. A real service registers its generated server
// (inventoryv1.RegisterInventoryServiceServer(srv, api)) where this example
// registers the test Probe service.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := logging.New(os.Stdout, "inventory", slog.LevelInfo)

	tcfg, err := tracing.ConfigFromEnv("inventory", os.Getenv)
	if err != nil {
		logger.Error("tracing config", slog.Any("error", err))
		return
	}
	_, shutdownTracing, err := tracing.Setup(ctx, tcfg)
	if err != nil {
		logger.Error("tracing", slog.Any("error", err))
		return
	}
	defer shutdownTracing(context.WithoutCancel(ctx))

	srv, err := grpcserver.New(
		grpcserver.WithAddr(":8080"), grpcserver.WithAdminAddr(":9090"), grpcserver.WithLogger(logger))
	if err != nil {
		logger.Error("grpc server", slog.Any("error", err))
		return
	}
	grpcservertest.Register(srv, &grpcservertest.Probe{})
	srv.Admin().AddCheck("database", func(ctx context.Context) error { return nil /* db.PingContext(ctx) */ })

	conn, err := grpcclient.Dial("dns:///catalog-pricing:8080",
		grpcclient.WithRegistry(srv.Registry()), grpcclient.WithLogger(logger),
		grpcclient.WithIdempotentMethods(grpcservertest.MethodGet))
	if err != nil {
		logger.Error("dial catalog-pricing", slog.Any("error", err))
		return
	}
	defer conn.Close()
	_ = grpcservertest.NewClient(conn) // catalogv1.NewCatalogServiceClient(conn)

	if err := srv.Run(ctx); err != nil {
		logger.Error("server stopped", slog.Any("error", err))
	}
}
