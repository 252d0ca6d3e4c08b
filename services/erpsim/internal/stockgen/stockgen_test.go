package stockgen

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/services/erpsim/internal/erp"
)

// fakeRecorder keeps on-hand per SKU×warehouse and applies the movement
// rules that matter here (no negative on-hand).
type fakeRecorder struct {
	mu     sync.Mutex
	onHand map[string]int64
	events []erp.StockEvent
}

func newFake(start int64) *fakeRecorder {
	f := &fakeRecorder{onHand: map[string]int64{}}
	for n := 1; n <= erp.DemoSKUs; n++ {
		for _, w := range erp.DemoWarehouses {
			f.onHand[erp.SKU(n)+"/"+w] = start
		}
	}
	return f
}

func (f *fakeRecorder) RecordStockEvent(_ context.Context, ev erp.StockEvent) (erp.StockEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := ev.SKU + "/" + ev.WarehouseCode
	if f.onHand[key]+ev.Quantity < 0 {
		return erp.StockEvent{}, fmt.Errorf("%w: negative", erp.ErrInvalidStockEvent)
	}
	f.onHand[key] += ev.Quantity
	f.events = append(f.events, ev)
	return ev, nil
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestStepIsDeterministicAndSparesScarceSKU(t *testing.T) {
	t.Parallel()
	a, b := newFake(500), newFake(500)
	ga, gb := New(a, 7, discard()), New(b, 7, discard())
	for range 500 {
		if _, err := ga.Step(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := gb.Step(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(a.events, b.events); diff != "" {
		t.Errorf("same seed, different movements:\n%s", diff)
	}
	kinds := map[erp.StockEventKind]int{}
	for _, ev := range a.events {
		if ev.SKU == erp.ScarceSKU {
			t.Fatalf("generator moved %s", erp.ScarceSKU)
		}
		kinds[ev.Kind]++
	}
	if kinds[erp.StockReceipt] == 0 || kinds[erp.StockAdjustment] == 0 {
		t.Errorf("kinds = %v, want receipts and adjustments", kinds)
	}
}

func TestStepFallsBackToReceiptWhenStockIsLow(t *testing.T) {
	t.Parallel()
	f := newFake(0)
	g := New(f, 1, discard())
	for range 200 {
		ev, err := g.Step(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if ev.Quantity <= 0 && f.onHand[ev.SKU+"/"+ev.WarehouseCode] < 0 {
			t.Fatalf("negative stock after %+v", ev)
		}
	}
}

func TestRunTicks(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := newFake(500)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- New(f, 3, discard()).Run(ctx, time.Second) }()
		time.Sleep(10*time.Second + time.Millisecond)
		synctest.Wait()
		f.mu.Lock()
		n := len(f.events)
		f.mu.Unlock()
		if n != 10 {
			t.Errorf("%d events after 10 intervals, want 10", n)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	if err := New(newFake(0), 1, discard()).Run(t.Context(), 0); err == nil {
		t.Error("Run with interval 0 did not fail")
	}
}
