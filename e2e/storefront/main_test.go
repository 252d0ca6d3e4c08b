// Package storefront is the end-to-end suite: it builds the binaries, starts
// the whole mesh as separate processes through the same launcher `make run`
// uses, and drives it over REST as a storefront and an operator would.
package storefront

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
	"github.com/transload/transload/platform/tracing/tracingtest"
)

// mesh is the running mesh every test in this package drives.
var mesh *launcher.Mesh

// traces receives the spans of every process of the mesh.
var traces *tracingtest.Receiver

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	work, err := os.MkdirTemp("", "transload-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
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
		fmt.Fprintln(os.Stderr, "e2e: build:", err)
		return 1
	}
	// Every process exports its spans to one in-process OTLP receiver, so
	// a test can follow a trace across the mesh (TestTraceCrossesTheMesh).
	traces, err = tracingtest.NewReceiver()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: otlp receiver:", err)
		return 1
	}
	defer traces.Close()
	for _, kv := range traces.Env() {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	startCtx, startCancel := context.WithTimeout(ctx, 3*time.Minute)
	defer startCancel()
	cfg := launcher.Config{
		BinDir:    bin,
		DataDir:   filepath.Join(work, "data"),
		FreePorts: true,
		Log:       os.Stderr,
		ExtraEnv: map[string][]string{
			// Shipments move one WMS step every 150ms so an order is
			// delivered within seconds.
			launcher.WMSSim: {"WMSSIM_STEP=150ms"},
			// The demo warehouses only: TestOperationsDesk's poison event
			// allocates to one more, which an operator then adds.
			launcher.Fulfillment: {"FULFILLMENT_WMS_WAREHOUSES=WH-HAM,WH-MUC,WH-BER"},
			// The page of TestBrowserCrossOriginFetch may call the REST API.
			launcher.Gateway: {corsAllowedOriginEnv()},
		},
	}
	if os.Getenv("TRANSLOAD_E2E_SCALE") == "1" {
		stop, err := onScaleTopology(startCtx, work, &cfg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e: scale topology:", err)
			return 1
		}
		defer stop()
	}
	mesh, err = launcher.Start(startCtx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: start mesh:", err)
		keep = true
		fmt.Fprintln(os.Stderr, "e2e: logs kept in", filepath.Join(work, "data", "logs"))
		return 1
	}
	code := m.Run()
	mesh.Stop()
	if code != 0 {
		keep = true
		fmt.Fprintln(os.Stderr, "e2e: logs kept in", filepath.Join(work, "data", "logs"))
	}
	return code
}

// onScaleTopology turns cfg into issue #13's scale topology
// (TRANSLOAD_E2E_SCALE=1): a PostgreSQL cluster in work (initdb as the
// postgres user), one database per service, three NATS nodes and two
// replicas of catalog-pricing, inventory, order, fulfillment and the
// gateway. The tests drive the first gateway (mesh.RESTURL); a test that
// takes a service down or reconfigures it does so to every replica
// (killAll, restartAll), one that crashes a process mid-run to its first
// replica. stop stops PostgreSQL.
func onScaleTopology(ctx context.Context, work string, cfg *launcher.Config) (stop func(), err error) {
	// The postgres user must reach its cluster folder inside work.
	if err := os.Chmod(work, 0o755); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	pg, err := launcher.StartPostgres(ctx, filepath.Join(work, "postgres"), port, os.Stderr)
	if err != nil {
		return nil, err
	}
	stop = func() { _ = pg.Stop() }
	if err := launcher.CreateDatabases(ctx, pg.Addr, os.Stderr); err != nil {
		stop()
		return nil, err
	}
	for name, env := range launcher.PostgresEnv(pg.Addr) {
		cfg.ExtraEnv[name] = append(cfg.ExtraEnv[name], env...)
	}
	cfg.Scale = true
	return stop, nil
}
