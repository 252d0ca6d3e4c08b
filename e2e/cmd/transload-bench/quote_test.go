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
// kinds, and every measured call succeeds. It is also the way to measure
// the quote scenario alone, with TRANSLOAD_BENCH_QUOTE_DURATION as the
// time per variant and level (300ms by default):
//
//	make build
//	cd e2e && TRANSLOAD_BENCH_BIN=$PWD/../bin TRANSLOAD_BENCH_QUOTE_DURATION=3s \
//	  go test ./cmd/transload-bench -run TestQuoteScenarioOnMesh -count=1 -v
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
	d := 300 * time.Millisecond
	if v := os.Getenv("TRANSLOAD_BENCH_QUOTE_DURATION"); v != "" {
		if d, err = time.ParseDuration(v); err != nil || d <= 0 {
			t.Fatalf("TRANSLOAD_BENCH_QUOTE_DURATION=%q: want a positive duration", v)
		}
	}
	dial, err := mesh.DialOptions(launcher.Catalog) // the operator's mutual TLS, the mesh's default
	if err != nil {
		t.Fatal(err)
	}
	results, notes, err := runQuoteScenario(ctx, mesh.Proc(launcher.Catalog).GRPCAddr, []int{1, 16}, d, w, dial...)
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
		t.Logf("%s c=%d: %.0f/s p99 %v, CPU per call: catalog-pricing %v, harness %v", r.Name, r.Concurrency, r.RPS, r.P99,
			r.CPU.PerProc[launcher.Catalog], r.CPU.Harness)
	}
	t.Log(notes[0])
}
