package grpcserver_test

import (
	"context"
	"io"

	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/grpcserver/grpcservertest"
	"github.com/transload/transload/platform/svcmain"
)

// exampleConfig is a service's configuration: the common part from
// svcmain, the addresses with the service's own defaults.
type exampleConfig struct {
	svcmain.Base
	GRPCAddr    string `env:"GRPC_ADDR" default:"127.0.0.1:9004"`
	AdminAddr   string `env:"ADMIN_ADDR" default:"127.0.0.1:9104"`
	CatalogAddr string `env:"CATALOG_ADDR" default:"127.0.0.1:9003"`
}

// Example shows how a service's run function (called by svcmain.Main)
// wires a server and a client to a neighbour. A real service registers its
// generated server (inventoryv1.RegisterInventoryServiceServer(srv, api))
// where this example registers the test Probe service.
func Example() {
	run := func(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
		var cfg exampleConfig
		rt, err := svcmain.Start(ctx, "inventory", getenv, stdout, &cfg)
		if err != nil {
			return err
		}
		defer rt.Close()

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
	_ = run // in package main: func main() { svcmain.Main("inventory", run) }
}
