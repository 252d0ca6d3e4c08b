package grpcserver_test

import (
	"context"

	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/grpcserver/grpcservertest"
	"github.com/transload/transload/platform/svcmain"
)

// exampleConfig is a service's configuration: what every binary shares
// (GRPC_ADDR, ADMIN_ADDR, LOG_LEVEL, OTEL_*, with defaults from the mesh's
// port plan) from svcmain, then the service's own settings.
type exampleConfig struct {
	svcmain.Base
	CatalogAddr string `env:"CATALOG_ADDR" default:"127.0.0.1:9003"`
}

// Example shows how a service's runService (bound by svcmain.Bind) wires a
// server and a client to a neighbour. A real service registers its
// generated server (inventoryv1.RegisterInventoryServiceServer(srv, api))
// where this example registers the test Probe service.
func Example() {
	runService := func(ctx context.Context, rt *svcmain.Runtime, cfg *exampleConfig) error {
		srv, err := rt.NewServer(grpcserver.WithAddr(cfg.GRPCAddr), grpcserver.WithAdminAddr(cfg.AdminAddr))
		if err != nil {
			return err
		}
		grpcservertest.Register(srv, &grpcservertest.Probe{})
		rt.Admin().AddCheck("database", func(ctx context.Context) error { return nil /* db.Ping(ctx) */ })

		conn, err := grpcclient.Dial(cfg.CatalogAddr, append(rt.ClientOptions(),
			grpcclient.WithIdempotentMethods(grpcservertest.MethodGet))...)
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = grpcservertest.NewClient(conn) // catalogv1.NewCatalogServiceClient(conn)

		return srv.Run(ctx)
	}
	run := svcmain.Bind("inventory", runService)
	_ = run // in package main: func main() { svcmain.Main("inventory", run) }
}
