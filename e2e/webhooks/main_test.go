// Package webhooks is the end-to-end suite of issue #10: a mesh of real
// processes (launcher, as `make run`), real HTTP receivers in the test
// that verify every Standard Webhooks signature, and the six scenarios of
// the issue. The outage of scenario 2 and the burst of scenario 4 are small
// here; `make chaos` sets TRANSLOAD_WEBHOOK_OUTAGE=20s and
// TRANSLOAD_WEBHOOK_BURST=100 for the sizes.
package webhooks

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
)

var mesh *launcher.Mesh

// customer2Key is a storefront key of channel web bound to customer C0002.
const customer2Key = "e2e-c0002-key"

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	work, err := os.MkdirTemp("", "transload-webhooks-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhooks:", err)
		return 1
	}
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(work)
		}
	}()
	bin := filepath.Join(work, "bin")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	if err := launcher.Build(ctx, bin); err != nil {
		fmt.Fprintln(os.Stderr, "webhooks: build:", err)
		return 1
	}
	startCtx, startCancel := context.WithTimeout(ctx, 3*time.Minute)
	defer startCancel()
	mesh, err = launcher.Start(startCtx, launcher.Config{
		BinDir: bin, DataDir: filepath.Join(work, "data"), FreePorts: true, Log: os.Stderr,
		ExtraEnv: map[string][]string{
			launcher.WMSSim: {"WMSSIM_STEP=150ms"},
			launcher.Gateway: {"API_KEYS=" + launcher.DemoAPIKey + ":web," + launcher.DemoCustomerAPIKey + ":web:C0001," +
				customer2Key + ":web:C0002," + launcher.DemoOperatorAPIKey + ":ops:operator"},
			// Short retry delays and a threshold the scenarios reach in
			// seconds; the breaker is exercised by the unit tests.
			launcher.Notify: {"WEBHOOK_BACKOFF_BASE=100ms", "WEBHOOK_BACKOFF_MAX=300ms", "WEBHOOK_DISABLE_AFTER=20",
				"WEBHOOK_BREAKER_THRESHOLD=1000"},
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhooks: start mesh:", err)
		keep = true
		return 1
	}
	defer mesh.Stop()
	return m.Run()
}
