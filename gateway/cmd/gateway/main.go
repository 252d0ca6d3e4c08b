// Command gateway serves the storefront experience API (storefront.v1),
// composing the catalog-pricing, inventory, order and fulfillment services,
// and the operators' API (ops.v1), forwarded to the ops service, over gRPC
// (GRPC_ADDR) and REST/JSON (HTTP_ADDR), with the operator console at
// /console/ on the REST listener. See gateway/README.md.
package main

import (
	"context"
	"log/slog"

	"github.com/transload/transload/platform/svcmain"

	"github.com/transload/transload/gateway/internal/app"
	"github.com/transload/transload/gateway/internal/config"
)

func main() { svcmain.Main("gateway", run) }

// run is the binary: svcmain loads and logs the configuration and starts
// the runtime (logger, tracing, metrics, admin server), then runService runs.
var run = svcmain.Bind("gateway", runService)

// runService wires the service and serves until ctx ends.
func runService(ctx context.Context, rt *svcmain.Runtime, loaded *config.Config) error {
	cfg := *loaded

	g, err := app.New(ctx, cfg, rt, app.Deps{})
	if err != nil {
		return err
	}
	rt.Logger().InfoContext(ctx, "gateway ready to serve",
		slog.String("grpc", g.GRPCAddr().String()), slog.String("rest", g.HTTPAddr().String()))
	return g.Run(ctx)
}
