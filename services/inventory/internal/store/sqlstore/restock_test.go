package sqlstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/fakeclock"
	"github.com/transload/transload/services/inventory/internal/inventory"
	"github.com/transload/transload/services/inventory/internal/store/storetest"
)

// TestReturnRestockFromFulfillment: the fulfillment service puts returned
// units back with RETURN_RESTOCK stock events of its own source system
// ("fulfillment-returns") and its own (SKU, warehouse) sequence. Each one
// raises on-hand and availability in its warehouse once (a redelivery is
// a duplicate), a later sequence waits for the earlier one, and the
// warehouse's own stock feed keeps its sequence.
func TestReturnRestockFromFulfillment(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		st := open(t, db)
		ctx := t.Context()
		clock := fakeclock.New(fakeclock.Start)
		svc := inventory.NewService(st, inventory.WithClock(clock.Now), inventory.WithMaxHoldTTL(time.Hour))
		t.Cleanup(svc.Close)
		if _, err := st.LoadInitial(ctx, storetest.Warehouses(), storetest.Snapshot(), clock.Now()); err != nil {
			t.Fatal(err)
		}
		svc.MarkLoaded()
		var applyAs func(requestID, source string, evs ...inventory.StockEvent) []inventory.StockEventOutcome
		available := func() int64 {
			t.Helper()
			av, _, err := svc.CheckAvailability(ctx, inventory.AvailabilityQuery{SKUs: []string{storetest.SKUA}, WarehouseCodes: []string{"WH-HAM"}})
			if err != nil || len(av) != 1 {
				t.Fatalf("availability: %v, %v", av, err)
			}
			return av[0].TotalAvailable
		}
		requests := 0
		apply := func(source string, evs ...inventory.StockEvent) []inventory.StockEventOutcome {
			t.Helper()
			requests++
			return applyAs(fmt.Sprint("req-", requests), source, evs...)
		}
		applyAs = func(requestID, source string, evs ...inventory.StockEvent) []inventory.StockEventOutcome {
			t.Helper()
			res, err := svc.ApplyStockEvents(ctx, inventory.ApplyStockEventsParams{RequestID: requestID, SourceSystem: source, Events: evs})
			if err != nil {
				t.Fatal(err)
			}
			var out []inventory.StockEventOutcome
			for _, r := range res {
				out = append(out, r.Outcome)
			}
			return out
		}
		restock := func(id string, seq, qty int64) inventory.StockEvent {
			return inventory.StockEvent{EventID: id, SKU: storetest.SKUA, WarehouseCode: "WH-HAM", Sequence: seq,
				Kind: inventory.KindReturnRestock, Quantity: qty, OccurTime: clock.Now(), Reference: "RMA-1"}
		}
		before := available()
		// The WMS's own feed is at some sequence of its own.
		if got := apply("wms", inventory.StockEvent{EventID: "w-7", SKU: storetest.SKUA, WarehouseCode: "WH-HAM", Sequence: 7,
			Kind: inventory.KindReceipt, Quantity: 10, OccurTime: clock.Now()}); got[0] != inventory.OutcomeApplied {
			t.Fatalf("wms receipt: %v", got)
		}
		if got := applyAs("RR-1", "fulfillment-returns", restock("RR-1/SKU-A", 1, 1)); got[0] != inventory.OutcomeApplied {
			t.Fatalf("first restock: %v", got)
		}
		// The effect runner's retry of the same call replays its answer.
		if got := applyAs("RR-1", "fulfillment-returns", restock("RR-1/SKU-A", 1, 1)); got[0] != inventory.OutcomeApplied {
			t.Fatalf("retried restock call: %v, want the original answer", got)
		}
		if got := available(); got != before+10+1 {
			t.Fatalf("available %d, want %d", got, before+11)
		}
		if got := apply("fulfillment-returns", restock("RR-1/SKU-A", 1, 1)); got[0] != inventory.OutcomeDuplicate {
			t.Fatalf("redelivered restock: %v, want duplicate", got)
		}
		if got := apply("fulfillment-returns", restock("RR-3/SKU-A", 3, 2)); got[0] != inventory.OutcomeBuffered {
			t.Fatalf("restock ahead of its sequence: %v, want buffered", got)
		}
		if got := available(); got != before+11 {
			t.Fatalf("available %d after a buffered restock, want %d", got, before+11)
		}
		if got := apply("fulfillment-returns", restock("RR-2/SKU-A", 2, 1)); got[0] != inventory.OutcomeApplied {
			t.Fatalf("restock closing the gap: %v", got)
		}
		if got := available(); got != before+11+1+2 {
			t.Fatalf("available %d, want %d", got, before+14)
		}
		if got := apply("wms", inventory.StockEvent{EventID: "w-8", SKU: storetest.SKUA, WarehouseCode: "WH-HAM", Sequence: 8,
			Kind: inventory.KindReceipt, Quantity: 1, OccurTime: clock.Now()}); got[0] != inventory.OutcomeApplied {
			t.Fatalf("the wms feed's next event after the restocks: %v", got)
		}
	})
}
