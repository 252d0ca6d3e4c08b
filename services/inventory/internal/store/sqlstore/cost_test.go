package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/services/inventory/internal/inventory"
	"github.com/transload/transload/services/inventory/internal/store/sqlstore"
	"github.com/transload/transload/services/inventory/internal/store/storetest"
)

// cost is what one operation cost the database: SQL statements run
// (compiled or served from the statement cache), read-write transactions
// committed and outbox events written.
type cost struct{ statements, commits, events uint64 }

// measure runs fn and returns its cost on db (SQLite: sqldb's
// StatementStats and CommitStats, and the outbox_events rows; nothing
// else uses db meanwhile).
func measure(t *testing.T, db *sqldb.DB, fn func()) cost {
	t.Helper()
	events := func() uint64 {
		var n uint64
		if err := db.SQL().QueryRowContext(t.Context(), `SELECT COUNT(*) FROM outbox_events`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	e0 := events()
	p0, r0 := db.StatementStats()
	c0, _ := db.CommitStats()
	fn()
	p1, r1 := db.StatementStats()
	c1, _ := db.CommitStats()
	return cost{statements: p1 + r1 - p0 - r0, commits: c1 - c0, events: events() - e0}
}

// migratedSQLite opens a migrated SQLite database of the test's own.
func migratedSQLite(t *testing.T) *sqldb.DB {
	t.Helper()
	db := sqldbtest.OpenSQLite(t)
	if err := sqlstore.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	return db
}

// loadStock loads the test warehouses and 100 units of each of skus in
// WH-HAM, WH-MUC and WH-BER through st, the ERP feed cursor at "c0".
func loadStock(t *testing.T, st *sqlstore.Store, skus ...string) {
	t.Helper()
	snap := inventory.Snapshot{ID: "cost", EventCursor: "c0"}
	for _, sku := range skus {
		for _, wh := range []string{"WH-HAM", "WH-MUC", "WH-BER"} {
			snap.Rows = append(snap.Rows, inventory.InitialStock{SKU: sku, WarehouseCode: wh, OnHand: 100, SourceSequence: 1})
		}
	}
	if _, err := st.LoadInitial(t.Context(), storetest.Warehouses(), snap, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// oneFeedPage is a StockFeed that serves its events once from cursor
// "c0", then nothing from "c1".
type oneFeedPage struct{ events []inventory.StockEvent }

func (f oneFeedPage) StockEvents(_ context.Context, cursor string, _ int) (inventory.FeedPage, error) {
	if cursor == "c0" {
		return inventory.FeedPage{Events: f.events, NextCursor: "c1"}, nil
	}
	return inventory.FeedPage{NextCursor: cursor}, nil
}

// TestCostPerOperation counts the statements and commits of the inventory
// operations of an order's life on SQLite: the reservation of a two-line
// order (order's ReserveStock), the commit of its shipment with a request
// id (fulfillment's CommitReservation), a release (a cancelled order) and
// one pushed ERP feed message (one event, then the cursor). The bounds are
// the counts this store reached; more fails, so a change that adds a
// statement or a transaction to these paths has to say so here.
//
// Before issue #12's inventory pass the same run counted: reserve 15
// statements, commit 17, release 18 (each one commit), feed message 23
// statements in 2 commits (the cursor saved in a transaction of its own).
// The reservation's warehouse read left with txWarehouses (9 → 8).
func TestCostPerOperation(t *testing.T) {
	ctx := t.Context()
	db := migratedSQLite(t)
	st := sqlstore.New(db)
	loadStock(t, st, "SKU-1", "SKU-2", "SKU-3")
	svc := inventory.NewService(st)
	svc.MarkLoaded()

	reserve := func(i int) inventory.Reservation {
		t.Helper()
		r, created, err := svc.Reserve(ctx, inventory.ReserveParams{
			RequestID: fmt.Sprintf("req-%d", i), ReferenceID: fmt.Sprintf("order-%d", i), Channel: "web", AllowSplit: true,
			Lines: []inventory.ReserveLine{{SKU: "SKU-1", Quantity: 1}, {SKU: "SKU-2", Quantity: 2}},
		})
		if err != nil || !created {
			t.Fatalf("reserve %d: created %v, %v", i, created, err)
		}
		return r
	}
	// Warm the statement cache and the outbox counters' pages.
	warm := reserve(0)
	if _, err := svc.Release(ctx, inventory.ReleaseParams{ID: warm.ID, RequestID: "warm-rel"}); err != nil {
		t.Fatal(err)
	}

	var r inventory.Reservation
	got := map[string]cost{}
	got["reserve"] = measure(t, db, func() { r = reserve(1) })
	got["commit"] = measure(t, db, func() {
		if _, err := svc.Commit(ctx, inventory.CommitParams{
			ID: r.ID, RequestID: "commit-1", WarehouseCode: "WH-HAM", ShipmentID: "ship-1",
			Lines: []inventory.CommitLine{{SKU: "SKU-1", Quantity: 1}, {SKU: "SKU-2", Quantity: 2}},
		}); err != nil {
			t.Fatal(err)
		}
	})
	r2 := reserve(2)
	got["release"] = measure(t, db, func() {
		if _, err := svc.Release(ctx, inventory.ReleaseParams{ID: r2.ID, RequestID: "rel-2"}); err != nil {
			t.Fatal(err)
		}
	})
	poller := inventory.NewFeedPoller(svc, oneFeedPage{events: []inventory.StockEvent{{
		EventID: "erp-1", SKU: "SKU-3", WarehouseCode: "WH-HAM", Sequence: 2, Kind: inventory.KindReceipt, Quantity: 5,
		OccurTime: time.Now(),
	}}}, "erp", time.Hour)
	got["feed message"] = measure(t, db, func() {
		if _, err := poller.PollOnce(ctx); err != nil {
			t.Fatal(err)
		}
	})

	// The effects all happened once.
	if l, err := st.GetStockLevel(ctx, "SKU-3", "WH-HAM"); err != nil || l.OnHand != 105 {
		t.Fatalf("feed event not applied: %+v, %v", l, err)
	}
	if cur, _, err := st.FeedCursor(ctx, "erp"); err != nil || cur != "c1" {
		t.Fatalf("feed cursor %q, %v; want c1", cur, err)
	}
	if l, err := st.GetStockLevel(ctx, "SKU-1", "WH-HAM"); err != nil || l.OnHand != 99 || l.Reserved != 0 {
		t.Fatalf("SKU-1@WH-HAM after commit: %+v, %v", l, err)
	}

	// Events: one StockChangedEvent per stock level the operation changed
	// (the contract gives each its level's revision as sequence, so they
	// cannot be folded into one), the reservation's own event and its
	// audit record. The two-line order changes two levels: 4 events for the
	// reservation, commit and release; the feed message changes one level
	// and has no reservation event.
	limits := map[string]cost{
		"reserve":      {statements: 8, commits: 1, events: 4},
		"commit":       {statements: 10, commits: 1, events: 4},
		"release":      {statements: 10, commits: 1, events: 4},
		"feed message": {statements: 16, commits: 1, events: 2},
	}
	for op, c := range got {
		t.Logf("%-12s %2d statements, %d commits, %d events", op, c.statements, c.commits, c.events)
		if lim := limits[op]; c.statements > lim.statements || c.commits > lim.commits || c.events > lim.events {
			t.Errorf("%s: %d statements, %d commits and %d events, want at most %d, %d and %d",
				op, c.statements, c.commits, c.events, lim.statements, lim.commits, lim.events)
		}
	}
}

// TestReservationsSeeWarehouseChanges checks that the warehouse table a
// reservation reads from txWarehouses is the committed one: a warehouse
// deactivated or reactivated after reservations filled the cache is
// allocated (or not) by the very next reservation, and a warehouse
// write that fails leaves the cache usable again. It also counts the
// warehouse reads: none while the table is unchanged.
func TestReservationsSeeWarehouseChanges(t *testing.T) {
	ctx := t.Context()
	db := migratedSQLite(t)
	st := sqlstore.New(db)
	// The loader's Store is another value over the same database, as in
	// cmd/inventory: its writes must reach the service Store's cache.
	loadStock(t, sqlstore.New(db), "SKU-1")
	svc := inventory.NewService(st)
	svc.MarkLoaded()
	n := 0
	reserveFrom := func() string {
		t.Helper()
		n++
		r, _, err := svc.Reserve(ctx, inventory.ReserveParams{
			RequestID: fmt.Sprintf("wh-req-%d", n), ReferenceID: fmt.Sprintf("wh-order-%d", n), Channel: "web",
			Strategy: inventory.StrategyPriority, Lines: []inventory.ReserveLine{{SKU: "SKU-1", Quantity: 1}},
		})
		if err != nil || len(r.Lines) != 1 || len(r.Lines[0].Allocations) != 1 {
			t.Fatalf("reserve %d: %+v, %v", n, r, err)
		}
		return r.Lines[0].Allocations[0].WarehouseCode
	}
	setActive := func(code string, active bool, req string) error {
		_, err := svc.UpdateWarehouse(ctx, inventory.UpdateWarehouseParams{
			RequestID: req, Warehouse: inventory.Warehouse{Code: code, Active: active}, Fields: []string{inventory.FieldActive},
		})
		return err
	}
	if got := reserveFrom(); got != "WH-HAM" { // priority 1
		t.Fatalf("first reservation from %s, want WH-HAM", got)
	}
	// Warm: the table is cached; a reservation now costs one statement
	// less than one that has to read it.
	cached := measure(t, db, func() { reserveFrom() })
	if err := setActive("WH-HAM", false, "wh-off"); err != nil {
		t.Fatal(err)
	}
	var got string
	uncached := measure(t, db, func() { got = reserveFrom() })
	if got != "WH-MUC" {
		t.Fatalf("after deactivating WH-HAM the reservation came from %s, want WH-MUC", got)
	}
	if uncached.statements != cached.statements+1 {
		t.Errorf("reservation after a warehouse change ran %d statements, a cached one %d; want one more (the warehouse read)",
			uncached.statements, cached.statements)
	}
	// A failed write (etag mismatch) changes nothing and the cache
	// refills.
	if _, err := svc.UpdateWarehouse(ctx, inventory.UpdateWarehouseParams{
		RequestID: "wh-bad", Warehouse: inventory.Warehouse{Code: "WH-MUC", Active: false}, Fields: []string{inventory.FieldActive}, Etag: "stale",
	}); err == nil {
		t.Fatal("update with a stale etag succeeded")
	}
	if got := reserveFrom(); got != "WH-MUC" {
		t.Fatalf("after a failed update the reservation came from %s, want WH-MUC", got)
	}
	if c := measure(t, db, func() { reserveFrom() }); c.statements != cached.statements {
		t.Errorf("reservation with the table unchanged ran %d statements, want %d", c.statements, cached.statements)
	}
	if err := setActive("WH-HAM", true, "wh-on"); err != nil {
		t.Fatal(err)
	}
	if got := reserveFrom(); got != "WH-HAM" {
		t.Fatalf("after reactivating WH-HAM the reservation came from %s, want WH-HAM", got)
	}
}
