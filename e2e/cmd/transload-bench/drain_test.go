package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
)

func TestDrainSKUs(t *testing.T) {
	t.Parallel()
	skus := drainSKUs()
	if len(skus) != drainSKUCount {
		t.Fatalf("%d SKUs, want %d", len(skus), drainSKUCount)
	}
	price := func(sku string) int {
		n, err := strconv.Atoi(sku[len("SKU-"):])
		if err != nil {
			t.Fatal(err)
		}
		return 999 + (n*7919)%500*100
	}
	highest := 0
	for _, s := range skus {
		if s == "SKU-00500" || s == freshnessSKU {
			t.Errorf("%s is reserved for another scenario", s)
		}
		highest = max(highest, price(s))
	}
	// The cheapest 16 of PL-EUR: one per price step of 1 EUR above 9.99
	// (SKU-00500 alone costs 9.99).
	if highest != 999+drainSKUCount*100 {
		t.Errorf("most expensive drain SKU costs %d cents, want %d", highest, 999+drainSKUCount*100)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(skus)))) != len(skus) {
		t.Errorf("duplicate SKUs: %v", skus)
	}
}

func TestWaitDepthZero(t *testing.T) {
	t.Parallel()
	t.Run("first out and empty", func(t *testing.T) {
		t.Parallel()
		depths := []int64{5, 5, 3, 1, 0}
		var reads []time.Time
		depth := func() (int64, error) {
			reads = append(reads, time.Now())
			d := depths[0]
			depths = depths[1:]
			return d, nil
		}
		firstOut, empty, err := waitDepthZero(t.Context(), depth, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(reads) != 5 {
			t.Fatalf("%d reads, want 5", len(reads))
		}
		// Each time is taken just after its read returned.
		if firstOut.Before(reads[2]) || !firstOut.Before(reads[3]) || empty.Before(reads[4]) {
			t.Fatalf("first out %v (want after the 3rd read %v, before the 4th %v), empty %v (want after the 5th %v)",
				firstOut, reads[2], reads[3], empty, reads[4])
		}
		if gap := reads[1].Sub(reads[0]); gap < drainPollMin {
			t.Errorf("read again after %s, want at least %s", gap, drainPollMin)
		}
	})
	t.Run("a queue that never empties is an error", func(t *testing.T) {
		t.Parallel()
		_, _, err := waitDepthZero(t.Context(), func() (int64, error) { return 7, nil }, 120*time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), "still holds 7 entries") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a failed read is an error", func(t *testing.T) {
		t.Parallel()
		_, _, err := waitDepthZero(t.Context(), func() (int64, error) { return 0, errors.New("unavailable") }, time.Minute)
		if err == nil {
			t.Fatal("no error")
		}
	})
}

// TestScenariosOnMesh runs the freshness, price propagation, webhook,
// backlog-drain and oversold
// scenarios against a real mesh, so the functions `make bench` relies on
// are proven end to end in `make test` too: at a small size by default
// (3 stock changes, 60 queued orders), with binaries it builds itself.
// TRANSLOAD_BENCH_BIN names a folder of prebuilt binaries instead and
// TRANSLOAD_BENCH_DRAIN_N the backlog size, for a larger manual run.
func TestScenariosOnMesh(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Minute)
	defer cancel()
	bin := os.Getenv("TRANSLOAD_BENCH_BIN")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "bin")
		if err := launcher.BuildMesh(ctx, bin); err != nil {
			t.Fatal(err)
		}
	}
	drainN, freshN := 60, 3
	if v := os.Getenv("TRANSLOAD_BENCH_DRAIN_N"); v != "" {
		var err error
		if drainN, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
		freshN = 10
	}
	data := t.TempDir()
	mesh, err := launcher.Start(ctx, launcher.Config{
		BinDir: bin, DataDir: data, FreePorts: true, Log: os.Stderr,
		ExtraEnv: map[string][]string{launcher.Gateway: {"RATE_LIMIT_RPS=0"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer mesh.Stop()

	fresh, err := measureFreshness(ctx, mesh, freshN)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(fresh)
	prices, err := measurePricePropagation(ctx, mesh, freshN)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(prices)
	hooks, err := measureWebhooks(ctx, mesh, 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(hooks)
	if hooks.Webhook.N != 20 || hooks.Baseline.N == 0 {
		t.Errorf("webhook scenario timed %d webhooks (want 20) and %d baseline events", hooks.Webhook.N, hooks.Baseline.N)
	}
	drain, err := measureBacklogDrain(ctx, mesh, drainN)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(drain)
	if drain.Orders+drain.PlaceErrors != drainN {
		t.Errorf("%d placed + %d failed of %d", drain.Orders, drain.PlaceErrors, drainN)
	}
	checkStart := time.Now()
	over, err := checkOversoldStores(ctx, filepath.Join(data, launcher.Inventory+".db"), filepath.Join(data, launcher.Order+".db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v (read in %s)", over, time.Since(checkStart).Round(time.Millisecond))
	if over.Count != 0 {
		t.Error(fmt.Sprint(over))
	}
	if over.Orders < drain.Orders {
		t.Errorf("the check saw %d accepted orders, the drain placed %d", over.Orders, drain.Orders)
	}
}
