// Command catalog-pricing runs the catalog-pricing process service: the
// product catalog with versioned publication and list-price quotes
// (transload.catalog.v1), imported from the ERP adapter.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/services/catalog-pricing/internal/app"
	"github.com/transload/transload/services/catalog-pricing/internal/config"
)

func main() { svcmain.Main("catalog-pricing", run) }

// run is the binary: svcmain loads and logs the configuration and starts
// the runtime (logger, tracing, metrics, admin server), then runService runs.
var run = svcmain.Bind("catalog-pricing", runService)

// runService wires the service and serves until ctx ends.
func runService(ctx context.Context, rt *svcmain.Runtime, loaded *config.Config) error {
	cfg := *loaded
	return app.Run(ctx, cfg, app.Deps{Runtime: rt, SyncTrigger: hangups(ctx)})
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
