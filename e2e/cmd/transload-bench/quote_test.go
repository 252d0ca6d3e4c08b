package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
)

// TestQuoteScenarioOnMesh runs the quote scenario briefly on a real mesh
// (binaries built here, or TRANSLOAD_BENCH_BIN): the rules are written
// through the PricingService RPCs, the warm-up quote applies several rule
// kinds, and every measured call succeeds.
func TestQuoteScenarioOnMesh(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	bin := os.Getenv("TRANSLOAD_BENCH_BIN")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "bin")
		if err := launcher.BuildMesh(ctx, bin); err != nil {
			t.Fatal(err)
		}
	}
	mesh, err := launcher.Start(ctx, launcher.Config{BinDir: bin, DataDir: t.TempDir(), FreePorts: true, Log: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer mesh.Stop()
	w := cpuWatch{pids: mesh.PIDs(), counted: map[string]bool{}}
	for name := range w.pids {
		w.counted[name] = !simulators[name]
	}
	results, notes, err := runQuoteScenario(ctx, mesh.Proc(launcher.Catalog).GRPCAddr, []int{1, 16}, 300*time.Millisecond, w)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2*(1+len(quoteVariants)) || len(notes) != 1 {
		t.Fatalf("results %d, notes %v", len(results), notes)
	}
	for _, r := range results {
		if r.Requests == 0 || r.Errors != 0 {
			t.Errorf("%s c=%d: %d requests, %d errors", r.Name, r.Concurrency, r.Requests, r.Errors)
		}
		t.Logf("%s c=%d: %.0f/s p99 %v", r.Name, r.Concurrency, r.RPS, r.P99)
	}
	t.Log(notes[0])
}
