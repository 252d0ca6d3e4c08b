// Command catalog-pricing runs the catalog-pricing process service: the
// product catalog with versioned publication and list-price quotes
// (transload.catalog.v1), imported from the ERP adapter.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	pconfig "github.com/transload/transload/platform/config"
	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/platform/tracing"
	"github.com/transload/transload/services/catalog-pricing/internal/app"
	"github.com/transload/transload/services/catalog-pricing/internal/config"
)

func main() { svcmain.Main("catalog-pricing", run) }

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	var cfg config.Config
	if err := pconfig.Load(&cfg, getenv); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	log, err := svcmain.NewLogger(stdout, cfg.ServiceName, cfg.LogLevel)
	if err != nil {
		return err
	}
	slog.SetDefault(log)
	svcmain.LogConfig(ctx, log, "starting", &cfg)

	tcfg, err := tracing.ConfigFromEnv(cfg.ServiceName, getenv)
	if err != nil {
		return fmt.Errorf("tracing config: %w", err)
	}
	_, shutdownTracing, err := tracing.Setup(ctx, tcfg)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = shutdownTracing(sctx)
	}()
	return app.Run(ctx, cfg, app.Deps{Logger: log, SyncTrigger: hangups(ctx)})
}

// hangups turns SIGHUP into on-demand ERP syncs (`kill -HUP <pid>`); a
// signal arriving while a sync is pending is folded into it.
func hangups(ctx context.Context) <-chan struct{} {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP)
	out := make(chan struct{}, 1)
	go func() {
		defer signal.Stop(sig)
		for {
			select {
			case <-ctx.Done():
				return
			case <-sig:
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out
}
