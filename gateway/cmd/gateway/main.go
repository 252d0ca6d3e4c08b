// Command gateway serves the storefront experience API (storefront.v1) over
// gRPC (GRPC_ADDR) and REST/JSON (HTTP_ADDR), composing the catalog-pricing,
// inventory, order and fulfillment services. See gateway/README.md.
package main

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/platform/tracing"

	"github.com/transload/transload/gateway/internal/app"
	"github.com/transload/transload/gateway/internal/config"
)

func main() { svcmain.Main("gateway", run) }

// run loads the configuration, starts the gateway and blocks until ctx ends.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	logger, err := svcmain.NewLogger(stdout, cfg.ServiceName, cfg.LogLevel)
	if err != nil {
		return err
	}
	slog.SetDefault(logger)
	svcmain.LogConfig(ctx, logger, "gateway starting", &cfg)

	tcfg, err := tracing.ConfigFromEnv(cfg.ServiceName, getenv)
	if err != nil {
		return err
	}
	tp, shutdownTracing, err := tracing.Setup(ctx, tcfg)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdownTracing(sctx); err != nil {
			logger.Warn("tracing shutdown", slog.Any("error", err))
		}
	}()

	g, err := app.New(ctx, cfg, app.Deps{Logger: logger, TracerProvider: tp})
	if err != nil {
		return err
	}
	logger.Info("gateway ready to serve",
		slog.String("grpc", g.GRPCAddr().String()), slog.String("rest", g.HTTPAddr().String()))
	return g.Run(ctx)
}
