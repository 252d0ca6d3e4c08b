// Command gateway serves the storefront experience API (storefront.v1) over
// gRPC (GRPC_ADDR) and REST/JSON (HTTP_ADDR), composing the catalog-pricing,
// inventory, order and fulfillment services. See gateway/README.md.
package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/transload/transload/platform/svcmain"

	"github.com/transload/transload/gateway/internal/app"
	"github.com/transload/transload/gateway/internal/config"
)

func main() { svcmain.Main("gateway", run) }

// run loads the configuration, starts the gateway and blocks until ctx ends.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	var cfg config.Config
	rt, err := svcmain.Start(ctx, "gateway", getenv, stdout, &cfg)
	if err != nil {
		return err
	}
	defer func() { _ = rt.Close() }() // Close logs what it could not release

	g, err := app.New(ctx, cfg, rt, app.Deps{})
	if err != nil {
		return err
	}
	rt.Logger().InfoContext(ctx, "gateway ready to serve",
		slog.String("grpc", g.GRPCAddr().String()), slog.String("rest", g.HTTPAddr().String()))
	return g.Run(ctx)
}
