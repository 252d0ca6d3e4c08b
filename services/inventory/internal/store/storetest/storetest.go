// Package storetest is the conformance suite every inventory.Store
// implementation passes. It drives the store through inventory.Service so
// the suite checks the behaviour callers rely on: allocation, idempotency,
// release, commit, expiry and, above all, that concurrent reservations
// never oversell.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/platform/testharness/fakeclock"
	"github.com/transload/transload/services/inventory/internal/inventory"
)

// Warehouses are the fixture warehouses: three active ones serving web and
// b2b in priority order HAM, MUC, BER, and an inactive one with the best
// priority that must never be allocated from.
func Warehouses() []inventory.Warehouse {
	return []inventory.Warehouse{
		{Code: "WH-BER", DisplayName: "Berlin", Region: "de-east", Priority: 3, Channels: []string{"b2b", "web"}, Active: true},
		{Code: "WH-HAM", DisplayName: "Hamburg", Region: "de-north", Priority: 1, Channels: []string{"b2b", "web"}, Active: true},
		{Code: "WH-MUC", DisplayName: "Munich", Region: "de-south", Priority: 2, Channels: []string{"b2b", "web"}, Active: true,
			Address: inventory.Address{Lines: []string{"Lager 1"}, Locality: "München", PostalCode: "80331", RegionCode: "DE"}},
		{Code: "WH-OLD", DisplayName: "Closed site", Region: "de-north", Priority: 0, Channels: []string{"web"}, Active: false},
	}
}

// Fixture SKUs and their on-hand per warehouse.
const (
	SKUA      = "SKU-A"      // HAM 5, MUC 8, BER 20, OLD 50
	SKUB      = "SKU-B"      // HAM 100, MUC 0
	SKUScarce = "SKU-SCARCE" // HAM 4, MUC 3, BER 3: 10 in total
)

// Snapshot is the fixture stock.
func Snapshot() inventory.Snapshot {
	row := func(sku, wh string, n int64) inventory.InitialStock {
		return inventory.InitialStock{SKU: sku, WarehouseCode: wh, OnHand: n, SourceSequence: 7}
	}
	a := row(SKUA, "WH-HAM", 5)
	a.Inbound = []inventory.InboundSupply{
		{Quantity: 10, ExpectedDate: inventory.Date{Year: 2026, Month: 12, Day: 3}, Reference: "PO-2"},
		{Quantity: 5, ExpectedDate: inventory.Date{Year: 2026, Month: 12, Day: 1}, Reference: "PO-1"},
	}
	return inventory.Snapshot{ID: "snap-1", Time: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC), Rows: []inventory.InitialStock{
		a, row(SKUA, "WH-MUC", 8), row(SKUA, "WH-BER", 20), row(SKUA, "WH-OLD", 50),
		row(SKUB, "WH-HAM", 100), row(SKUB, "WH-MUC", 0),
		row(SKUScarce, "WH-HAM", 4), row(SKUScarce, "WH-MUC", 3), row(SKUScarce, "WH-BER", 3),
	}}
}

// Factory returns a new, empty, migrated store for one test.
type Factory func(t *testing.T) inventory.Store

type env struct {
	store inventory.Store
	svc   *inventory.Service
	clock *fakeclock.Clock
}

func setup(t *testing.T, newStore Factory) env {
	t.Helper()
	st := newStore(t)
	clock := fakeclock.New(fakeclock.Start)
	n := 0
	var mu sync.Mutex
	svc := inventory.NewService(st, inventory.WithClock(clock.Now), inventory.WithMaxHoldTTL(time.Hour),
		inventory.WithIDs(func() string {
			mu.Lock()
			defer mu.Unlock()
			n++
			return fmt.Sprintf("r-%04d", n)
		}))
	loaded, err := st.LoadInitial(t.Context(), Warehouses(), Snapshot(), clock.Now())
	if err != nil || !loaded {
		t.Fatalf("LoadInitial = %v, %v; want true, nil", loaded, err)
	}
	svc.MarkLoaded()
	return env{store: st, svc: svc, clock: clock}
}

// level returns on_hand and reserved of sku in wh.
func (e env) level(t *testing.T, sku, wh string) inventory.StockLevel {
	t.Helper()
	l, err := e.store.GetStockLevel(t.Context(), sku, wh)
	if err != nil {
		t.Fatalf("GetStockLevel(%s, %s): %v", sku, wh, err)
	}
	return l
}

func (e env) reserve(t *testing.T, p inventory.ReserveParams) inventory.Reservation {
	t.Helper()
	if p.Channel == "" {
		p.Channel = "web"
	}
	if p.ReferenceID == "" {
		p.ReferenceID = "ref-" + p.RequestID
	}
	r, _, err := e.svc.Reserve(t.Context(), p)
	if err != nil {
		t.Fatalf("Reserve(%+v): %v", p, err)
	}
	return r
}

type alloc = inventory.Allocation

func allocs(r inventory.Reservation) map[string][]alloc {
	out := map[string][]alloc{}
	for _, l := range r.Lines {
		out[l.SKU] = l.Allocations
	}
	return out
}

// Run runs the whole suite.
func Run(t *testing.T, newStore Factory) {
	t.Run("InitialLoad", func(t *testing.T) { testInitialLoad(t, newStore) })
	t.Run("PriorityAllocation", func(t *testing.T) { testPriority(t, newStore) })
	t.Run("SplitAllocation", func(t *testing.T) { testSplit(t, newStore) })
	t.Run("InsufficientStockReservesNothing", func(t *testing.T) { testInsufficient(t, newStore) })
	t.Run("IdempotentReserve", func(t *testing.T) { testIdempotentReserve(t, newStore) })
	t.Run("ConcurrentSameRequestID", func(t *testing.T) { testConcurrentSameRequest(t, newStore) })
	t.Run("Release", func(t *testing.T) { testRelease(t, newStore) })
	t.Run("Commit", func(t *testing.T) { testCommit(t, newStore) })
	t.Run("HoldExpiry", func(t *testing.T) { testHoldExpiry(t, newStore) })
	t.Run("Oversell", func(t *testing.T) { testOversell(t, newStore) })
	t.Run("UpdateWarehouse", func(t *testing.T) { testUpdateWarehouse(t, newStore) })
	t.Run("WarehouseCache", func(t *testing.T) { testWarehouseCache(t, newStore) })
	t.Run("ListReservations", func(t *testing.T) { testListReservations(t, newStore) })
	t.Run("StockEvents", func(t *testing.T) { testStockEvents(t, newStore) })
	t.Run("StockLossUnderReservations", func(t *testing.T) { testStockLoss(t, newStore) })
	t.Run("ShipmentEventCommits", func(t *testing.T) { testShipmentEvent(t, newStore) })
	t.Run("SequenceGapsRaisedOnce", func(t *testing.T) { testSequenceGaps(t, newStore) })
	t.Run("Reconciliation", func(t *testing.T) { testReconciliation(t, newStore) })
	t.Run("ConcurrentMixedOperations", func(t *testing.T) { testConcurrentMixed(t, newStore) })
	t.Run("Backorders", func(t *testing.T) { testBackorders(t, newStore) })
	t.Run("ReconciliationInProgress", func(t *testing.T) { testReconciliationInProgress(t, newStore) })
	t.Run("ConcurrentDuplicateCommits", func(t *testing.T) { testConcurrentDuplicateCommits(t, newStore) })
	t.Run("FeedCursorWithBatch", func(t *testing.T) { testFeedCursorWithBatch(t, newStore) })
}

// testConcurrentDuplicateCommits sends the same shipment commit (same
// request id, then same shipment under other request ids) from many
// goroutines at once: every call succeeds with the same reservation and
// on-hand moves once.
func testConcurrentDuplicateCommits(t *testing.T, newStore Factory) {
	e := setup(t, newStore)
	ctx := t.Context()
	r := e.reserve(t, inventory.ReserveParams{RequestID: "dc", Lines: []inventory.ReserveLine{{SKU: SKUB, Quantity: 10}}})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			req := "ship-req"
			if i%2 == 1 {
				req = fmt.Sprintf("ship-req-%d", i)
			}
			got, err := e.svc.Commit(ctx, inventory.CommitParams{ID: r.ID, RequestID: req, WarehouseCode: "WH-HAM",
				ShipmentID: "ship-1", Lines: []inventory.CommitLine{{SKU: SKUB, Quantity: 10}}})
			if err == nil && got.State != inventory.StateCommitted {
				err = fmt.Errorf("state %v after the commit", got.State)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("duplicate commit: %v", err)
		}
	}
	if l := e.level(t, SKUB, "WH-HAM"); l.OnHand != 90 || l.Reserved != 0 {
		t.Errorf("SKU-B@HAM = on_hand %d reserved %d, want 90 and 0 (committed once)", l.OnHand, l.Reserved)
	}
}

// testFeedCursorWithBatch: a batch with a cursor moves it in its
// transaction, compare-and-set, also as a replay; a refused batch or one
// read from a cursor that is no longer saved changes nothing.
func testFeedCursorWithBatch(t *testing.T, newStore Factory) {
	e := setup(t, newStore)
	ctx := t.Context()
	ev := inventory.StockEvent{EventID: "f-1", SKU: SKUB, WarehouseCode: "WH-HAM", Sequence: 8, Kind: inventory.KindReceipt,
		Quantity: 3, OccurTime: e.clock.Now()}
	p := inventory.ApplyStockEventsParams{RequestID: "feed-b1", SourceSystem: "erp", Events: []inventory.StockEvent{ev},
		Cursor: &inventory.FeedCursorUpdate{Feed: "erp", From: "", Next: "cur-1"}}
	cursor := func() string {
		t.Helper()
		c, _, err := e.store.FeedCursor(ctx, "erp")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if _, err := e.svc.ApplyStockEvents(ctx, p); err != nil {
		t.Fatal(err)
	}
	if c := cursor(); c != "cur-1" {
		t.Errorf("cursor after the batch = %q, want cur-1", c)
	}
	// Replayed with another cursor (another replica's read): the stored
	// results, the cursor saved.
	p.Cursor = &inventory.FeedCursorUpdate{Feed: "erp", From: "cur-1", Next: "cur-2"}
	if _, err := e.svc.ApplyStockEvents(ctx, p); err != nil {
		t.Fatal(err)
	}
	if c := cursor(); c != "cur-2" {
		t.Errorf("cursor after the replay = %q, want cur-2", c)
	}
	// The same request id with other events is refused: nothing saved.
	bad := p
	bad.Events = []inventory.StockEvent{{EventID: "f-2", SKU: SKUB, WarehouseCode: "WH-HAM", Sequence: 9,
		Kind: inventory.KindReceipt, Quantity: 1, OccurTime: e.clock.Now()}}
	bad.Cursor = &inventory.FeedCursorUpdate{Feed: "erp", From: "cur-2", Next: "cur-3"}
	if _, err := e.svc.ApplyStockEvents(ctx, bad); !errors.Is(err, inventory.ErrIdempotencyKeyReused) {
		t.Errorf("reused request id error = %v", err)
	}
	if c := cursor(); c != "cur-2" {
		t.Errorf("cursor after a refused batch = %q, want cur-2", c)
	}
	// A page read from a cursor the feed has moved on from: not applied.
	stale := bad
	stale.RequestID = "feed-b2"
	stale.Cursor = &inventory.FeedCursorUpdate{Feed: "erp", From: "cur-1", Next: "cur-9"}
	if _, err := e.svc.ApplyStockEvents(ctx, stale); !errors.Is(err, inventory.ErrFeedCursorMoved) {
		t.Errorf("stale cursor error = %v, want ErrFeedCursorMoved", err)
	}
	// Nor on a feed with no cursor saved when the page claims one.
	stale.Cursor = &inventory.FeedCursorUpdate{Feed: "wms", From: "w-1", Next: "w-2"}
	if _, err := e.svc.ApplyStockEvents(ctx, stale); !errors.Is(err, inventory.ErrFeedCursorMoved) {
		t.Errorf("cursor of an unsaved feed: error = %v, want ErrFeedCursorMoved", err)
	}
	if c := cursor(); c != "cur-2" {
		t.Errorf("cursor after a stale page = %q, want cur-2", c)
	}
	if l := e.level(t, SKUB, "WH-HAM"); l.OnHand != 103 {
		t.Errorf("SKU-B@HAM on_hand %d, want 103 (the event applied once)", l.OnHand)
	}
}

func testInitialLoad(t *testing.T, newStore Factory) {
	e := setup(t, newStore)
	ctx := t.Context()
	again, err := e.store.LoadInitial(ctx, Warehouses(), Snapshot(), e.clock.Now())
	if err != nil || again {
		t.Fatalf("second LoadInitial = %v, %v; want false, nil", again, err)
	}
	has, err := e.store.HasWarehouses(ctx)
	if err != nil || !has {
		t.Fatalf("HasWarehouses = %v, %v", has, err)
	}
	ws, err := e.store.ListWarehouses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, w := range ws {
		codes = append(codes, w.Code)
	}
	if diff := cmp.Diff([]string{"WH-OLD", "WH-HAM", "WH-MUC", "WH-BER"}, codes); diff != "" {
		t.Errorf("warehouse order (-want +got):\n%s", diff)
	}
	muc, err := e.store.GetWarehouse(ctx, "WH-MUC")
	if err != nil {
		t.Fatal(err)
	}
	if muc.Address.Locality != "München" || !muc.Active || muc.Priority != 2 || len(muc.Channels) != 2 {
		t.Errorf("GetWarehouse(WH-MUC) = %+v", muc)
	}
	if _, err := e.store.GetWarehouse(ctx, "WH-NOPE"); !errors.Is(err, inventory.ErrWarehouseNotFound) {
		t.Errorf("GetWarehouse(unknown) error = %v, want ErrWarehouseNotFound", err)
	}
	l := e.level(t, SKUA, "WH-HAM")
	if l.OnHand != 5 || l.Reserved != 0 || l.Revision != 1 || l.InboundTotal != 15 || l.Sequence != 7 || l.SourceSystem != "erp" {
		t.Errorf("level SKU-A@WH-HAM = %+v", l)
	}
	if got := l.NextInboundDate(); got != (inventory.Date{Year: 2026, Month: 12, Day: 1}) {
		t.Errorf("next inbound date = %v", got)
	}
	if _, err := e.store.GetStockLevel(ctx, SKUB, "WH-BER"); !errors.Is(err, inventory.ErrStockLevelNotFound) {
		t.Errorf("GetStockLevel(missing) error = %v, want ErrStockLevelNotFound", err)
	}
	page1, err := e.store.ListStockLevels(ctx, inventory.StockLevelQuery{Limit: 2})
	if err != nil || len(page1) != 2 {
		t.Fatalf("ListStockLevels page 1 = %d, %v", len(page1), err)
	}
	last := page1[len(page1)-1]
	rest, err := e.store.ListStockLevels(ctx, inventory.StockLevelQuery{Limit: 100, AfterSKU: last.SKU, AfterWarehouse: last.WarehouseCode})
	if err != nil || len(rest) != 7 {
		t.Fatalf("ListStockLevels rest = %d, %v; want 7", len(rest), err)
	}
	avail, err := e.store.ListStockLevels(ctx, inventory.StockLevelQuery{Limit: 100, SKU: SKUB, AvailableOnly: true})
	if err != nil || len(avail) != 1 || avail[0].WarehouseCode != "WH-HAM" {
		t.Errorf("ListStockLevels(sku=SKU-B, available>0) = %+v, %v", avail, err)
	}
}

func testPriority(t *testing.T, newStore Factory) {
	e := setup(t, newStore)
	r := e.reserve(t, inventory.ReserveParams{RequestID: "p1", Lines: []inventory.ReserveLine{{SKU: SKUA, Quantity: 3}}})
	if r.State != inventory.StateConfirmed || !r.FullyAllocated() {
		t.Errorf("reservation = %+v", r)
	}
	if diff := cmp.Diff(map[string][]alloc{SKUA: {{WarehouseCode: "WH-HAM", Quantity: 3}}}, allocs(r)); diff != "" {
		t.Errorf("allocations (-want +got):\n%s", diff)
	}
	l := e.level(t, SKUA, "WH-HAM")
	if l.Reserved != 3 || l.Available() != 2 || l.Revision != 2 {
		t.Errorf("SKU-A@WH-HAM after reserve = %+v", l)
	}
	if l := e.level(t, SKUA, "WH-OLD"); l.Reserved != 0 {
		t.Errorf("inactive warehouse was allocated: %+v", l)
	}
	got, err := e.svc.GetReservation(t.Context(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Errorf("GetReservation (-created +read):\n%s", diff)
	}
	if _, err := e.svc.GetReservation(t.Context(), "nope"); !errors.Is(err, inventory.ErrReservationNotFound) {
		t.Errorf("GetReservation(unknown) error = %v", err)
	}
}

func testSplit(t *testing.T, newStore Factory) {
	e := setup(t, newStore)
	// 12 of SKU-A: HAM has 5, MUC 8. Split: HAM 5 + MUC 7.
	r := e.reserve(t, inventory.ReserveParams{RequestID: "s1", AllowSplit: true, Lines: []inventory.ReserveLine{{SKU: SKUA, Quantity: 12}}})
	want := map[string][]alloc{SKUA: {{WarehouseCode: "WH-HAM", Quantity: 5}, {WarehouseCode: "WH-MUC", Quantity: 7}}}
	if diff := cmp.Diff(want, allocs(r)); diff != "" {
		t.Errorf("split allocations (-want +got):\n%s", diff)
	}
	// Without split: 10 units, HAM has 0 left and MUC 1, BER 20 covers
	// in full.
	r2 := e.reserve(t, inventory.ReserveParams{RequestID: "s2", Lines: []inventory.ReserveLine{{SKU: SKUA, Quantity: 10}}})
	if diff := cmp.Diff(map[string][]alloc{SKUA: {{WarehouseCode: "WH-BER", Quantity: 10}}}, allocs(r2)); diff != "" {
		t.Errorf("no-split allocations (-want +got):\n%s", diff)
	}
	// Without split and no warehouse covering 11 (BER has 10 left): REJECT.
	_, _, err := e.svc.Reserve(t.Context(), inventory.ReserveParams{RequestID: "s3", ReferenceID: "s3", Channel: "web",
		Lines: []inventory.ReserveLine{{SKU: SKUA, Quantity: 11}}})
	var ise *inventory.InsufficientStockError
	if !errors.As(err, &ise) || ise.Available != 11 {
		t.Errorf("no-split shortfall error = %v, want InsufficientStockError with available 11", err)
	}
	// PARTIAL and BACKORDER_REMAINDER keep what is there.
	r4 := e.reserve(t, inventory.ReserveParams{RequestID: "s4", AllowSplit: true, BackorderPolicy: inventory.BackorderRemainder,
		Lines: []inventory.ReserveLine{{SKU: SKUScarce, Quantity: 12}}})
	if l := r4.Lines[0]; l.Allocated() != 10 || l.Backordered != 2 || r4.FullyAllocated() {
		t.Errorf("backorder line = %+v", l)
	}
	// SINGLE_WAREHOUSE_PREFERRED puts both lines in the first warehouse
	// holding them all (MUC has SKU-A 1 and SKU-B 0, so none: falls back).
	r5 := e.reserve(t, inventory.ReserveParams{RequestID: "s5", Strategy: inventory.StrategySingleWarehousePreferred,
		Lines: []inventory.ReserveLine{{SKU: SKUA, Quantity: 1}, {SKU: SKUB, Quantity: 1}}})
	want5 := map[string][]alloc{SKUA: {{WarehouseCode: "WH-MUC", Quantity: 1}}, SKUB: {{WarehouseCode: "WH-HAM", Quantity: 1}}}
	if diff := cmp.Diff(want5, allocs(r5)); diff != "" {
		t.Errorf("single-warehouse fallback allocations (-want +got):\n%s", diff)
	}
	// NEAREST_REGION prefers the destination's warehouse.
	r6 := e.reserve(t, inventory.ReserveParams{RequestID: "s6", Strategy: inventory.StrategyNearestRegion, DestinationRegion: "de-east",
		Lines: []inventory.ReserveLine{{SKU: SKUA, Quantity: 2}}})
	if diff := cmp.Diff(map[string][]alloc{SKUA: {{WarehouseCode: "WH-BER", Quantity: 2}}}, allocs(r6)); diff != "" {
		t.Errorf("nearest-region allocations (-want +got):\n%s", diff)
	}
}

func testInsufficient(t *testing.T, newStore Factory) {
	e := setup(t, newStore)
	ctx := t.Context()
	// The first line fits, the second does not: nothing is reserved.
	_, _, err := e.svc.Reserve(ctx, inventory.ReserveParams{RequestID: "i1", ReferenceID: "o1", Channel: "web", AllowSplit: true,
		Lines: []inventory.ReserveLine{{SKU: SKUA, Quantity: 2}, {SKU: SKUScarce, Quantity: 11}}})
	var ise *inventory.InsufficientStockError
	if !errors.As(err, &ise) {
		t.Fatalf("Reserve error = %v, want InsufficientStockError", err)
	}
	if diff := cmp.Diff(inventory.InsufficientStockError{SKU: SKUScarce, Requested: 11, Available: 10}, *ise); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
	if l := e.level(t, SKUA, "WH-HAM"); l.Reserved != 0 || l.Revision != 1 {
		t.Errorf("first line was reserved despite the rejection: %+v", l)
	}
	var ue *inventory.UnknownSKUError
	if _, _, err := e.svc.Reserve(ctx, inventory.ReserveParams{RequestID: "i2", ReferenceID: "o2", Channel: "web",
		Lines: []inventory.ReserveLine{{SKU: "SKU-NOPE", Quantity: 1}}}); !errors.As(err, &ue) {
		t.Errorf("unknown SKU error = %v", err)
	}
	var nw *inventory.NoWarehouseForChannelError
	if _, _, err := e.svc.Reserve(ctx, inventory.ReserveParams{RequestID: "i3", ReferenceID: "o3", Channel: "marketplace",
		Lines: []inventory.ReserveLine{{SKU: SKUA, Quantity: 1}}}); !errors.As(err, &nw) {
		t.Errorf("unknown channel error = %v", err)
	}
	// The retry of a rejected request id may succeed once stock allows.
	e.reserve(t, inventory.ReserveParams{RequestID: "i1", ReferenceID: "o1", AllowSplit: true,
		Lines: []inventory.ReserveLine{{SKU: SKUA, Quantity: 2}, {SKU: SKUScarce, Quantity: 10}}})
}

func testIdempotentReserve(t *testing.T, newStore Factory) {
	e := setup(t, newStore)
	ctx := t.Context()
	p := inventory.ReserveParams{RequestID: "same", ReferenceID: "order-1", Channel: "web", Lines: []inventory.ReserveLine{{SKU: SKUA, Quantity: 2}}}
	first, created, err := e.svc.Reserve(ctx, p)
	if err != nil || !created {
		t.Fatalf("first Reserve = %v, %v", created, err)
	}
	second, created, err := e.svc.Reserve(ctx, p)
	if err != nil || created {
		t.Fatalf("replayed Reserve = created %v, %v; want false, nil", created, err)
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("replay returned another reservation (-first +replay):\n%s", diff)
	}
	if l := e.level(t, SKUA, "WH-HAM"); l.Reserved != 2 {
		t.Errorf("reserved after replay = %d, want 2", l.Reserved)
	}
	changed := p
	changed.Lines = []inventory.ReserveLine{{SKU: SKUA, Quantity: 3}}
	if _, _, err := e.svc.Reserve(ctx, changed); !errors.Is(err, inventory.ErrIdempotencyKeyReused) {
		t.Errorf("reused request id error = %v, want ErrIdempotencyKeyReused", err)
	}
	other := p
	other.RequestID = "other"
	var exists *inventory.ReservationExistsForReferenceError
	if _, _, err := e.svc.Reserve(ctx, other); !errors.As(err, &exists) || exists.Reservation != first.Name() {
		t.Errorf("second reservation for the reference error = %v", err)
	}
}

func testConcurrentSameRequest(t *testing.T, newStore Factory) {
	e := setup(t, newStore)
	p := inventory.ReserveParams{RequestID: "dup", ReferenceID: "order-dup", Channel: "web", Lines: []inventory.ReserveLine{{SKU: SKUB, Quantity: 1}}}
	const n = 8
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, _, err := e.svc.Reserve(t.Context(), p)
			ids[i], errs[i] = r.ID, err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("concurrent Reserve %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Errorf("concurrent duplicates got reservations %s and %s", ids[0], ids[i])
		}
	}
	if l := e.level(t, SKUB, "WH-HAM"); l.Reserved != 1 {
		t.Errorf("reserved = %d after %d duplicate calls, want 1", l.Reserved, n)
	}
}

func testRelease(t *testing.T, newStore Factory) {
	e := setup(t, newStore)
	ctx := t.Context()
	r := e.reserve(t, inventory.ReserveParams{RequestID: "r1", AllowSplit: true, Lines: []inventory.ReserveLine{{SKU: SKUA, Quantity: 7}}})
	// Partial: 3 units come back from the last allocation (MUC 2, then HAM 1).
	got, err := e.svc.Release(ctx, inventory.ReleaseParams{ID: r.ID, RequestID: "rel-1", Lines: []inventory.ReleaseLine{{SKU: SKUA, Quantity: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []alloc{{WarehouseCode: "WH-HAM", Quantity: 5, Released: 1}, {WarehouseCode: "WH-MUC", Quantity: 2, Released: 2}}
	if diff := cmp.Diff(want, got.Lines[0].Allocations); diff != "" || got.State != inventory.StateConfirmed {
		t.Errorf("after partial release state %v, allocations (-want +got):\n%s", got.State, diff)
	}
	// Replaying the same release request changes nothing.
	again, err := e.svc.Release(ctx, inventory.ReleaseParams{ID: r.ID, RequestID: "rel-1", Lines: []inventory.ReleaseLine{{SKU: SKUA, Quantity: 3}}})
	if err != nil || again.Version != got.Version {
		t.Errorf("replayed release = version %d, %v; want %d", again.Version, err, got.Version)
	}
	if l := e.level(t, SKUA, "WH-HAM"); l.Reserved != 4 {
		t.Errorf("HAM reserved = %d, want 4", l.Reserved)
	}
	var exceed *inventory.ReleaseExceedsOpenError
	if _, err := e.svc.Release(ctx, inventory.ReleaseParams{ID: r.ID, RequestID: "rel-x", Lines: []inventory.ReleaseLine{{SKU: SKUA, Quantity: 5}}}); !errors.As(err, &exceed) {
		t.Errorf("over-release error = %v", err)
	}
	all, err := e.svc.Release(ctx, inventory.ReleaseParams{ID: r.ID, RequestID: "rel-2", Reason: "order_cancelled"})
	if err != nil || all.State != inventory.StateReleased {
		t.Fatalf("full release = %v, %v", all.State, err)
	}
	for _, wh := range []string{"WH-HAM", "WH-MUC"} {
		if l := e.level(t, SKUA, wh); l.Reserved != 0 {
			t.Errorf("%s reserved = %d after full release", wh, l.Reserved)
		}
	}
	// Releasing a released reservation is a no-op, even with a new id.
	if again, err := e.svc.Release(ctx, inventory.ReleaseParams{ID: r.ID, RequestID: "rel-3"}); err != nil || again.State != inventory.StateReleased {
		t.Errorf("release of released = %v, %v", again.State, err)
	}
	if _, err := e.svc.Release(ctx, inventory.ReleaseParams{ID: "nope", RequestID: "rel-4"}); !errors.Is(err, inventory.ErrReservationNotFound) {
		t.Errorf("release unknown error = %v", err)
	}
	// The reference is free again.
	e.reserve(t, inventory.ReserveParams{RequestID: "r1-again", ReferenceID: "ref-r1", Lines: []inventory.ReserveLine{{SKU: SKUA, Quantity: 1}}})
}

func testCommit(t *testing.T, newStore Factory) {
	e := setup(t, newStore)
	ctx := t.Context()
	r := e.reserve(t, inventory.ReserveParams{RequestID: "c1", AllowSplit: true,
		Lines: []inventory.ReserveLine{{SKU: SKUA, Quantity: 7}, {SKU: SKUB, Quantity: 4}}})
	ship := inventory.CommitParams{ID: r.ID, RequestID: "ship-1-req", WarehouseCode: "WH-HAM", ShipmentID: "ship-1",
		Lines: []inventory.CommitLine{{SKU: SKUA, Quantity: 5}, {SKU: SKUB, Quantity: 4}}}
	got, err := e.svc.Commit(ctx, ship)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != inventory.StateConfirmed || got.Lines[0].Allocations[0].Committed != 5 {
		t.Errorf("after first shipment: %+v", got)
	}
	if l := e.level(t, SKUA, "WH-HAM"); l.OnHand != 0 || l.Reserved != 0 {
		t.Errorf("SKU-A@HAM after commit = %+v, want on_hand 0 reserved 0", l)
	}
	if l := e.level(t, SKUB, "WH-HAM"); l.OnHand != 96 || l.Reserved != 0 {
		t.Errorf("SKU-B@HAM after commit = %+v, want on_hand 96 reserved 0", l)
	}
	// Same shipment again (another request id, as a WMS event would be):
	// nothing changes.
	dup := ship
	dup.RequestID = "ship-1-other"
	again, err := e.svc.Commit(ctx, dup)
	if err != nil || again.Version != got.Version {
		t.Errorf("duplicate shipment = version %d, %v; want %d", again.Version, err, got.Version)
	}
	if l := e.level(t, SKUB, "WH-HAM"); l.OnHand != 96 {
		t.Errorf("duplicate shipment decremented again: %+v", l)
	}
	var exceed *inventory.CommitExceedsAllocationError
	if _, err := e.svc.Commit(ctx, inventory.CommitParams{ID: r.ID, RequestID: "ship-2-req", WarehouseCode: "WH-MUC", ShipmentID: "ship-2",
		Lines: []inventory.CommitLine{{SKU: SKUA, Quantity: 3}}}); !errors.As(err, &exceed) || exceed.Open != 2 {
		t.Errorf("over-commit error = %v", err)
	}
	done, err := e.svc.Commit(ctx, inventory.CommitParams{ID: r.ID, RequestID: "ship-3-req", WarehouseCode: "WH-MUC", ShipmentID: "ship-3",
		Lines: []inventory.CommitLine{{SKU: SKUA, Quantity: 2}}})
	if err != nil || done.State != inventory.StateCommitted {
		t.Fatalf("last shipment = %v, %v; want COMMITTED", done.State, err)
	}
	if l := e.level(t, SKUA, "WH-MUC"); l.OnHand != 6 || l.Reserved != 0 {
		t.Errorf("SKU-A@MUC = %+v, want on_hand 6 reserved 0", l)
	}
	var conflict *inventory.StateConflictError
	if _, err := e.svc.Release(ctx, inventory.ReleaseParams{ID: r.ID, RequestID: "rel-c"}); !errors.As(err, &conflict) {
		t.Errorf("release of committed error = %v", err)
	}
}

func testHoldExpiry(t *testing.T, newStore Factory) {
	e := setup(t, newStore)
	ctx := t.Context()
	if _, _, err := e.svc.Reserve(ctx, inventory.ReserveParams{RequestID: "h0", ReferenceID: "cart-0", Channel: "web",
		HoldTTL: 2 * time.Hour, Lines: []inventory.ReserveLine{{SKU: SKUA, Quantity: 1}}}); !errors.Is(err, inventory.ErrInvalidArgument) {
		t.Errorf("too long TTL error = %v", err)
	}
	r := e.reserve(t, inventory.ReserveParams{RequestID: "h1", ReferenceID: "cart-1", HoldTTL: 15 * time.Minute,
		Lines: []inventory.ReserveLine{{SKU: SKUA, Quantity: 4}}})
	if r.State != inventory.StateHeld || !r.ExpireTime.Equal(e.clock.Now().Add(15*time.Minute)) {
		t.Fatalf("hold = %v expiring %v", r.State, r.ExpireTime)
	}
	ext, err := e.svc.Extend(ctx, inventory.ExtendParams{ID: r.ID, RequestID: "ext-1", TTL: 30 * time.Minute})
	if err != nil || !ext.ExpireTime.Equal(e.clock.Now().Add(30*time.Minute)) {
		t.Fatalf("extend = %v, %v", ext.ExpireTime, err)
	}
	e.clock.Advance(29 * time.Minute)
	if n, err := e.svc.ExpireDue(ctx, 10); err != nil || n != 0 {
		t.Fatalf("ExpireDue before expiry = %d, %v", n, err)
	}
	e.clock.Advance(time.Minute)
	if n, err := e.svc.ExpireDue(ctx, 10); err != nil || n != 1 {
		t.Fatalf("ExpireDue at expiry = %d, %v", n, err)
	}
	got, err := e.svc.GetReservation(ctx, r.ID)
	if err != nil || got.State != inventory.StateExpired {
		t.Fatalf("after expiry = %v, %v", got.State, err)
	}
	if l := e.level(t, SKUA, "WH-HAM"); l.Reserved != 0 {
		t.Errorf("expired hold still reserves %d", l.Reserved)
	}
	var expired *inventory.ReservationExpiredError
	if _, err := e.svc.Confirm(ctx, inventory.ConfirmParams{ID: r.ID, RequestID: "conf-1"}); !errors.As(err, &expired) {
		t.Errorf("confirm of expired error = %v", err)
	}
	// A hold that is confirmed in time stays.
	h2 := e.reserve(t, inventory.ReserveParams{RequestID: "h2", ReferenceID: "cart-2", HoldTTL: time.Minute,
		Lines: []inventory.ReserveLine{{SKU: SKUA, Quantity: 1}}})
	c, err := e.svc.Confirm(ctx, inventory.ConfirmParams{ID: h2.ID, RequestID: "conf-2", ReferenceID: "order-2"})
	if err != nil || c.State != inventory.StateConfirmed || !c.ExpireTime.IsZero() || c.ReferenceID != "order-2" {
		t.Fatalf("confirm = %+v, %v", c, err)
	}
	var conflict *inventory.StateConflictError
	if _, err := e.svc.Extend(ctx, inventory.ExtendParams{ID: h2.ID, RequestID: "ext-2", TTL: time.Minute}); !errors.As(err, &conflict) {
		t.Errorf("extend of confirmed error = %v", err)
	}
	e.clock.Advance(time.Hour)
	if n, err := e.svc.ExpireDue(ctx, 10); err != nil || n != 0 {
		t.Errorf("ExpireDue after confirm = %d, %v", n, err)
	}
	// A due hold not yet swept does not block a new reservation of its
	// reference: it is expired first.
	h3 := e.reserve(t, inventory.ReserveParams{RequestID: "h3", ReferenceID: "cart-3", HoldTTL: time.Minute,
		Lines: []inventory.ReserveLine{{SKU: SKUB, Quantity: 10}}})
	e.clock.Advance(2 * time.Minute)
	e.reserve(t, inventory.ReserveParams{RequestID: "h4", ReferenceID: "cart-3", Lines: []inventory.ReserveLine{{SKU: SKUB, Quantity: 1}}})
	if got, _ := e.svc.GetReservation(ctx, h3.ID); got.State != inventory.StateExpired {
		t.Errorf("due hold state = %v, want EXPIRED", got.State)
	}
	if l := e.level(t, SKUB, "WH-HAM"); l.Reserved != 1 {
		t.Errorf("SKU-B reserved = %d, want 1", l.Reserved)
	}
}

// testOversell: 10 units across three warehouses, 50 concurrent
// single-unit reservations with distinct request ids: exactly 10 succeed.
func testOversell(t *testing.T, newStore Factory) {
	e := setup(t, newStore)
	const callers = 50
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var (
		wg           sync.WaitGroup
		mu           sync.Mutex
		ok, short    int
		unexpected   []error
		allocatedPer = map[string]int64{}
	)
	start := make(chan struct{})
	for i := range callers {
		wg.Go(func() {
			<-start
			r, _, err := e.svc.Reserve(ctx, inventory.ReserveParams{
				RequestID: fmt.Sprintf("oversell-%02d", i), ReferenceID: fmt.Sprintf("order-%02d", i), Channel: "web",
				AllowSplit: true, Lines: []inventory.ReserveLine{{SKU: SKUScarce, Quantity: 1}},
			})
			mu.Lock()
			defer mu.Unlock()
			var ise *inventory.InsufficientStockError
			switch {
			case err == nil:
				ok++
				for _, a := range r.Lines[0].Allocations {
					allocatedPer[a.WarehouseCode] += a.Quantity
				}
			case errors.As(err, &ise):
				short++
			default:
				unexpected = append(unexpected, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(unexpected) > 0 {
		t.Fatalf("unexpected errors: %v", unexpected)
	}
	if ok != 10 || short != 40 {
		t.Errorf("succeeded %d, insufficient %d; want 10 and 40", ok, short)
	}
	if diff := cmp.Diff(map[string]int64{"WH-HAM": 4, "WH-MUC": 3, "WH-BER": 3}, allocatedPer); diff != "" {
		t.Errorf("allocations per warehouse (-want +got):\n%s", diff)
	}
	var reserved, available int64
	for _, wh := range []string{"WH-HAM", "WH-MUC", "WH-BER"} {
		l := e.level(t, SKUScarce, wh)
		if l.Reserved > l.OnHand || l.Reserved < 0 {
			t.Errorf("%s: reserved %d, on hand %d", wh, l.Reserved, l.OnHand)
		}
		reserved += l.Reserved
		available += l.Available()
	}
	if reserved != 10 || available != 0 {
		t.Errorf("final reserved %d, available %d; want 10 and 0", reserved, available)
	}
}

func testUpdateWarehouse(t *testing.T, newStore Factory) {
	e := setup(t, newStore)
	ctx := t.Context()
	cur, err := e.store.GetWarehouse(ctx, "WH-BER")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	p := inventory.UpdateWarehouseParams{
		RequestID: "uw-1",
		Warehouse: inventory.Warehouse{Code: "WH-BER", DisplayName: "Berlin Nord", Region: "ignored", Priority: 0, Active: false},
		Fields:    []string{inventory.FieldDisplayName, inventory.FieldPriority, inventory.FieldActive},
		Etag:      cur.Etag(),
	}
	w, err := e.svc.UpdateWarehouse(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if w.DisplayName != "Berlin Nord" || w.Priority != 0 || w.Active || w.Region != "de-east" || len(w.Channels) != 2 {
		t.Errorf("updated warehouse = %+v", w)
	}
	if w.Etag() == cur.Etag() {
		t.Error("etag did not change")
	}
	again, err := e.svc.UpdateWarehouse(ctx, p)
	if err != nil || again.Etag() != w.Etag() {
		t.Errorf("replay = %v, %v", again.Etag(), err)
	}
	p2 := p
	p2.Warehouse.DisplayName = "other"
	if _, err := e.svc.UpdateWarehouse(ctx, p2); !errors.Is(err, inventory.ErrIdempotencyKeyReused) {
		t.Errorf("reused request id: %v", err)
	}
	p3 := p
	p3.RequestID = "uw-2" // stale etag
	if _, err := e.svc.UpdateWarehouse(ctx, p3); !errors.Is(err, inventory.ErrConcurrentModification) {
		t.Errorf("stale etag: %v", err)
	}
	missing := inventory.UpdateWarehouseParams{RequestID: "uw-3", Warehouse: inventory.Warehouse{Code: "WH-KOE", DisplayName: "Köln", Region: "de-west", Priority: 4, Channels: []string{"web"}, Active: true}}
	if _, err := e.svc.UpdateWarehouse(ctx, missing); !errors.Is(err, inventory.ErrWarehouseNotFound) {
		t.Errorf("update of a missing warehouse: %v", err)
	}
	missing.RequestID, missing.AllowMissing = "uw-4", true
	created, err := e.svc.UpdateWarehouse(ctx, missing)
	if err != nil || created.CreateTime.IsZero() {
		t.Fatalf("upsert = %+v, %v", created, err)
	}
	if got, err := e.store.GetWarehouse(ctx, "WH-KOE"); err != nil || got.DisplayName != "Köln" || got.Priority != 4 {
		t.Errorf("created warehouse = %+v, %v", got, err)
	}
	// WH-BER is inactive now: no more allocations from it.
	r := e.reserve(t, inventory.ReserveParams{RequestID: "after-uw", AllowSplit: true, Lines: []inventory.ReserveLine{{SKU: SKUScarce, Quantity: 7}}})
	if diff := cmp.Diff(map[string][]alloc{SKUScarce: {{WarehouseCode: "WH-HAM", Quantity: 4}, {WarehouseCode: "WH-MUC", Quantity: 3}}}, allocs(r)); diff != "" {
		t.Errorf("allocations (-want +got):\n%s", diff)
	}
	var unknown *inventory.UnknownFieldError
	if _, err := e.svc.UpdateWarehouse(ctx, inventory.UpdateWarehouseParams{RequestID: "uw-5", Warehouse: inventory.Warehouse{Code: "WH-HAM"}, Fields: []string{"code"}}); !errors.As(err, &unknown) {
		t.Errorf("unknown mask field: %v", err)
	}
}

// countingStore counts ListWarehouses calls.
type countingStore struct {
	inventory.Store
	listWarehouses atomic.Int64
}

func (c *countingStore) ListWarehouses(ctx context.Context) ([]inventory.Warehouse, error) {
	c.listWarehouses.Add(1)
	return c.Store.ListWarehouses(ctx)
}

// testWarehouseCache: availability reads the warehouse table once, not on
// every call, and a warehouse change shows in the next answer.
func testWarehouseCache(t *testing.T, newStore Factory) {
	st := &countingStore{Store: newStore(t)}
	ctx := t.Context()
	clock := fakeclock.New(fakeclock.Start)
	svc := inventory.NewService(st, inventory.WithClock(clock.Now))
	if loaded, err := st.LoadInitial(ctx, Warehouses(), Snapshot(), clock.Now()); err != nil || !loaded {
		t.Fatalf("LoadInitial = %v, %v", loaded, err)
	}
	svc.MarkLoaded()
	total := func() int64 {
		t.Helper()
		res, _, err := svc.CheckAvailability(ctx, inventory.AvailabilityQuery{SKUs: []string{SKUScarce}, Channel: "web"})
		if err != nil {
			t.Fatal(err)
		}
		return res[0].TotalAvailable
	}
	for range 20 {
		if got := total(); got != 10 {
			t.Fatalf("available %d, want 10", got)
		}
	}
	if n := st.listWarehouses.Load(); n != 1 {
		t.Errorf("20 availability checks read the warehouse table %d times, want 1", n)
	}
	// Each warehouse carries its level's revision (the gateway's stock
	// projection seeds from it).
	res, _, err := svc.CheckAvailability(ctx, inventory.AvailabilityQuery{SKUs: []string{SKUScarce}, Channel: "web"})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res[0].Warehouses {
		l, err := st.GetStockLevel(ctx, SKUScarce, w.WarehouseCode)
		if err != nil || w.Revision != l.Revision || w.Revision == 0 {
			t.Errorf("%s: revision %d, level revision %d (%v)", w.WarehouseCode, w.Revision, l.Revision, err)
		}
	}
	// Deactivating WH-BER (3 of SKU-SCARCE) drops it from the next answer.
	if _, err := svc.UpdateWarehouse(ctx, inventory.UpdateWarehouseParams{
		RequestID: "wc-1", Warehouse: inventory.Warehouse{Code: "WH-BER"}, Fields: []string{inventory.FieldActive},
	}); err != nil {
		t.Fatal(err)
	}
	if got := total(); got != 7 {
		t.Errorf("available after deactivating WH-BER: %d, want 7", got)
	}
}

func testListReservations(t *testing.T, newStore Factory) {
	e := setup(t, newStore)
	ctx := t.Context()
	var ids []string
	for i, sku := range []string{SKUA, SKUB, SKUA} {
		e.clock.Advance(time.Second)
		ch := "web"
		if i == 1 {
			ch = "b2b"
		}
		r := e.reserve(t, inventory.ReserveParams{RequestID: fmt.Sprintf("l%d", i), Channel: ch, Lines: []inventory.ReserveLine{{SKU: sku, Quantity: 1}}})
		ids = append(ids, r.ID)
	}
	if _, err := e.svc.Release(ctx, inventory.ReleaseParams{ID: ids[0], RequestID: "l-rel"}); err != nil {
		t.Fatal(err)
	}
	list := func(q inventory.ReservationQuery) []string {
		t.Helper()
		if q.Limit == 0 {
			q.Limit = 10
		}
		rs, err := e.svc.ListReservations(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	tests := []struct {
		name string
		q    inventory.ReservationQuery
		want []string
	}{
		{"all newest first", inventory.ReservationQuery{}, []string{ids[2], ids[1], ids[0]}},
		{"by sku", inventory.ReservationQuery{SKU: SKUA}, []string{ids[2], ids[0]}},
		// A LIKE wildcard in the filter must not match SKU-A.
		{"by sku with a wildcard", inventory.ReservationQuery{SKU: "SKU_A"}, nil},
		{"by state", inventory.ReservationQuery{State: inventory.StateReleased}, []string{ids[0]}},
		{"by channel", inventory.ReservationQuery{Channel: "b2b"}, []string{ids[1]}},
		{"by reference", inventory.ReservationQuery{ReferenceID: "ref-l2"}, []string{ids[2]}},
		{"page 1", inventory.ReservationQuery{Limit: 2}, []string{ids[2], ids[1]}},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, list(tc.q)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	second, err := e.svc.GetReservation(ctx, ids[1])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{ids[0]}, list(inventory.ReservationQuery{Limit: 2, BeforeCreate: second.CreateTime, BeforeID: second.ID})); diff != "" {
		t.Errorf("page 2 (-want +got):\n%s", diff)
	}
}

func ev(id, sku, wh string, seq int64, kind inventory.StockEventKind, q int64) inventory.StockEvent {
	return inventory.StockEvent{EventID: id, SKU: sku, WarehouseCode: wh, Sequence: seq, Kind: kind, Quantity: q,
		OccurTime: time.Date(2026, 11, 26, 8, 30, 0, 0, time.UTC)}
}

type outcome struct {
	ID      string
	Outcome inventory.StockEventOutcome
	Reason  inventory.RejectReason
	Seq     int64
}

func outcomes(rs []inventory.StockEventResult) []outcome {
	var out []outcome
	for _, r := range rs {
		out = append(out, outcome{r.EventID, r.Outcome, r.Reason, r.AppliedSequence})
	}
	return out
}

func testStockEvents(t *testing.T, newStore Factory) {
	e := setup(t, newStore)
	ctx := t.Context()
	adj0 := ev("e-bad", SKUA, "WH-HAM", 99, inventory.KindAdjustment, 0)
	batch := inventory.ApplyStockEventsParams{RequestID: "b1", SourceSystem: "erp", Events: []inventory.StockEvent{
		ev("e8", SKUA, "WH-HAM", 8, inventory.KindReceipt, 10),      // snapshot was at 7: applied
		ev("e8", SKUA, "WH-HAM", 8, inventory.KindReceipt, 10),      // same id: duplicate
		ev("e8b", SKUA, "WH-HAM", 8, inventory.KindReceipt, 1),      // same sequence, new id: stale
		ev("e10", SKUA, "WH-HAM", 10, inventory.KindAdjustment, -2), // ahead: buffered
		ev("e9", SKUA, "WH-HAM", 9, inventory.KindTransferOut, 3),   // closes the gap: 9 and 10 applied
		ev("e-wh", SKUA, "WH-NOPE", 1, inventory.KindReceipt, 1),    // unknown warehouse
		adj0, // invalid for its kind
		ev("e-new", "SKU-NEW", "WH-BER", 4, inventory.KindSetOnHand, 5), // first event of a new pair
		ev("e-neg", SKUB, "WH-MUC", 8, inventory.KindShipment, 3),       // MUC has 0: clamped
	}}
	res, err := e.svc.ApplyStockEvents(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	want := []outcome{
		{"e8", inventory.OutcomeApplied, 0, 10},
		{"e8", inventory.OutcomeDuplicate, 0, 10},
		{"e8b", inventory.OutcomeRejected, inventory.RejectStale, 10},
		{"e10", inventory.OutcomeBuffered, 0, 10},
		{"e9", inventory.OutcomeApplied, 0, 10},
		{"e-wh", inventory.OutcomeRejected, inventory.RejectWarehouseNotFound, 0},
		{"e-bad", inventory.OutcomeRejected, inventory.RejectInvalid, 10},
		{"e-new", inventory.OutcomeApplied, 0, 4},
		{"e-neg", inventory.OutcomeApplied, 0, 8},
	}
	if diff := cmp.Diff(want, outcomes(res)); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	l := e.level(t, SKUA, "WH-HAM")
	if l.OnHand != 5+10-3-2 || l.Sequence != 10 || l.SourceSystem != "erp" || l.Revision != 4 {
		t.Errorf("SKU-A@WH-HAM = %+v; want on_hand 10, sequence 10, revision 4", l)
	}
	if l := e.level(t, "SKU-NEW", "WH-BER"); l.OnHand != 5 || l.Revision != 1 || l.Sequence != 4 {
		t.Errorf("new level = %+v", l)
	}
	if l := e.level(t, SKUB, "WH-MUC"); l.OnHand != 0 || l.Revision != 2 {
		t.Errorf("clamped level = %+v", l)
	}
	again, err := e.svc.ApplyStockEvents(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(res, again); diff != "" {
		t.Errorf("replayed batch (-first +replay):\n%s", diff)
	}
	other := batch
	other.Events = other.Events[:1]
	if _, err := e.svc.ApplyStockEvents(ctx, other); !errors.Is(err, inventory.ErrIdempotencyKeyReused) {
		t.Errorf("reused batch id: %v", err)
	}
	// A gap: seq 12 waits for 11; it is overdue once older than the timeout.
	if res, err := e.svc.ApplyStockEvents(ctx, inventory.ApplyStockEventsParams{RequestID: "b-gap", SourceSystem: "erp",
		Events: []inventory.StockEvent{ev("e12", SKUA, "WH-HAM", 12, inventory.KindReceipt, 1)}}); err != nil || res[0].Outcome != inventory.OutcomeBuffered {
		t.Fatalf("gap event = %+v, %v", res, err)
	}
	if st, err := e.store.Stats(ctx, e.clock.Now()); err != nil || st.BufferedEvents != 1 || st.OverdueBufferedEvents != 0 {
		t.Errorf("Stats with a fresh gap = %+v, %v", st, err)
	}
	if st, err := e.store.Stats(ctx, e.clock.Now().Add(time.Second)); err != nil || st.OverdueBufferedEvents != 1 {
		t.Errorf("Stats with an overdue gap = %+v, %v", st, err)
	}
	// Another source has its own sequences; inbound schedules replace.
	in := ev("w1", SKUA, "WH-HAM", 1, inventory.KindInboundSet, 0)
	in.Inbound = []inventory.InboundSupply{{Quantity: 7, ExpectedDate: inventory.Date{Year: 2027, Month: 1, Day: 2}}}
	res, err = e.svc.ApplyStockEvents(ctx, inventory.ApplyStockEventsParams{RequestID: "b2", SourceSystem: "wms", Events: []inventory.StockEvent{in}})
	if err != nil || res[0].Outcome != inventory.OutcomeApplied {
		t.Fatalf("wms inbound = %+v, %v", res, err)
	}
	if l := e.level(t, SKUA, "WH-HAM"); l.InboundTotal != 7 || l.OnHand != 10 || l.SourceSystem != "wms" || l.Sequence != 1 {
		t.Errorf("after INBOUND_SET: %+v", l)
	}
}

func testStockLoss(t *testing.T, newStore Factory) {
	e := setup(t, newStore)
	ctx := t.Context()
	r := e.reserve(t, inventory.ReserveParams{RequestID: "loss", Lines: []inventory.ReserveLine{{SKU: SKUScarce, Quantity: 4}}})
	// 3 of the 4 reserved units at HAM are damaged.
	if _, err := e.svc.ApplyStockEvents(ctx, inventory.ApplyStockEventsParams{RequestID: "dmg", SourceSystem: "wms",
		Events: []inventory.StockEvent{ev("d1", SKUScarce, "WH-HAM", 1, inventory.KindAdjustment, -3)}}); err != nil {
		t.Fatal(err)
	}
	l := e.level(t, SKUScarce, "WH-HAM")
	if l.OnHand != 1 || l.Reserved != 4 || l.Available() != 0 || l.Oversold() != 3 {
		t.Fatalf("after loss: %+v; want on_hand 1, reserved 4, oversold 3", l)
	}
	if st, err := e.store.Stats(ctx, e.clock.Now()); err != nil || st.OversoldUnits != 3 || st.ConfirmedReservations != 1 || st.HeldReservations != 0 {
		t.Errorf("Stats after loss = %+v, %v", st, err)
	}
	// New reservations skip the oversold warehouse.
	r2 := e.reserve(t, inventory.ReserveParams{RequestID: "after-loss", AllowSplit: true, Lines: []inventory.ReserveLine{{SKU: SKUScarce, Quantity: 2}}})
	if diff := cmp.Diff(map[string][]alloc{SKUScarce: {{WarehouseCode: "WH-MUC", Quantity: 2}}}, allocs(r2)); diff != "" {
		t.Errorf("allocations (-want +got):\n%s", diff)
	}
	over, err := e.store.ListStockLevels(ctx, inventory.StockLevelQuery{OversoldOnly: true, Limit: 10})
	if err != nil || len(over) != 1 || over[0].WarehouseCode != "WH-HAM" {
		t.Errorf("oversold levels = %+v, %v", over, err)
	}
	// A receipt covers part of it; a release clears the rest.
	if _, err := e.svc.ApplyStockEvents(ctx, inventory.ApplyStockEventsParams{RequestID: "rcpt", SourceSystem: "wms",
		Events: []inventory.StockEvent{ev("d2", SKUScarce, "WH-HAM", 2, inventory.KindReceipt, 2)}}); err != nil {
		t.Fatal(err)
	}
	if l := e.level(t, SKUScarce, "WH-HAM"); l.OnHand != 3 || l.Reserved != 4 || l.Oversold() != 1 {
		t.Errorf("after receipt: %+v", l)
	}
	if _, err := e.svc.Release(ctx, inventory.ReleaseParams{ID: r.ID, RequestID: "rel-loss"}); err != nil {
		t.Fatal(err)
	}
	if l := e.level(t, SKUScarce, "WH-HAM"); l.OnHand != 3 || l.Reserved != 0 || l.Available() != 3 {
		t.Errorf("after release: %+v", l)
	}
}

// testSequenceGaps: a stock event gap is raised once it is overdue, once
// per gap (source, SKU, warehouse, expected sequence), however often the
// check runs and however many events wait behind it; a new gap of the same
// pair, or a gap of another source, is raised on its own.
func testSequenceGaps(t *testing.T, newStore Factory) {
	e := setup(t, newStore)
	ctx := t.Context()
	apply := func(id, source string, events ...inventory.StockEvent) {
		t.Helper()
		if _, err := e.svc.ApplyStockEvents(ctx, inventory.ApplyStockEventsParams{RequestID: id, SourceSystem: source, Events: events}); err != nil {
			t.Fatalf("ApplyStockEvents(%s): %v", id, err)
		}
	}
	raise := func(want int) {
		t.Helper()
		if n, err := e.svc.RaiseOverdueGaps(ctx); err != nil || n != want {
			t.Errorf("RaiseOverdueGaps = %d, %v; want %d", n, err, want)
		}
	}
	// The snapshot left SKU-A@WH-HAM at erp sequence 7: 9 waits for 8.
	apply("g1", "erp", ev("e9", SKUA, "WH-HAM", 9, inventory.KindReceipt, 1))
	raise(0) // not overdue yet
	e.clock.Advance(9 * time.Minute)
	apply("g2", "erp", ev("e10", SKUA, "WH-HAM", 10, inventory.KindReceipt, 1))
	raise(0)
	e.clock.Advance(2 * time.Minute) // e9 waited 11m > the 10m default
	raise(1)
	raise(0)
	e.clock.Advance(time.Hour) // e10 is overdue too: still the same gap
	raise(0)
	// A wms gap of the same pair is another gap.
	apply("g3", "wms", ev("w1", SKUA, "WH-HAM", 1, inventory.KindReceipt, 1), ev("w5", SKUA, "WH-HAM", 5, inventory.KindReceipt, 1))
	raise(0)
	e.clock.Advance(11 * time.Minute)
	raise(1)
	// 8 closes the erp gap (8, 9, 10 applied); 12 opens a new one.
	apply("g4", "erp", ev("e8", SKUA, "WH-HAM", 8, inventory.KindReceipt, 1), ev("e12", SKUA, "WH-HAM", 12, inventory.KindReceipt, 1))
	if l := e.level(t, SKUA, "WH-HAM"); l.SourceSystem != "erp" || l.Sequence != 10 {
		t.Fatalf("after closing the gap: %+v; want erp sequence 10", l)
	}
	e.clock.Advance(11 * time.Minute)
	raise(1)
	raise(0)
}

func testShipmentEvent(t *testing.T, newStore Factory) {
	e := setup(t, newStore)
	ctx := t.Context()
	r := e.reserve(t, inventory.ReserveParams{RequestID: "ship", AllowSplit: true, Lines: []inventory.ReserveLine{{SKU: SKUA, Quantity: 7}}})
	s1 := ev("s1", SKUA, "WH-HAM", 1, inventory.KindShipment, 5)
	s1.ReservationID, s1.ShipmentID = r.ID, "SHP-1"
	if _, err := e.svc.ApplyStockEvents(ctx, inventory.ApplyStockEventsParams{RequestID: "se1", SourceSystem: "wms", Events: []inventory.StockEvent{s1}}); err != nil {
		t.Fatal(err)
	}
	if l := e.level(t, SKUA, "WH-HAM"); l.OnHand != 0 || l.Reserved != 0 || l.Sequence != 1 {
		t.Errorf("after shipment event: %+v", l)
	}
	got, err := e.svc.GetReservation(ctx, r.ID)
	if err != nil || got.Lines[0].Allocations[0].Committed != 5 {
		t.Fatalf("reservation after shipment event: %+v, %v", got, err)
	}
	// CommitReservation for the same shipment arrives second: no change.
	if _, err := e.svc.Commit(ctx, inventory.CommitParams{ID: r.ID, RequestID: "c-shp-1", WarehouseCode: "WH-HAM", ShipmentID: "SHP-1",
		Lines: []inventory.CommitLine{{SKU: SKUA, Quantity: 5}}}); err != nil {
		t.Fatal(err)
	}
	if l := e.level(t, SKUA, "WH-HAM"); l.OnHand != 0 {
		t.Errorf("second commit of the shipment changed stock: %+v", l)
	}
	// The other way round: CommitReservation first, then the event.
	if _, err := e.svc.Commit(ctx, inventory.CommitParams{ID: r.ID, RequestID: "c-shp-2", WarehouseCode: "WH-MUC", ShipmentID: "SHP-2",
		Lines: []inventory.CommitLine{{SKU: SKUA, Quantity: 2}}}); err != nil {
		t.Fatal(err)
	}
	s2 := ev("s2", SKUA, "WH-MUC", 1, inventory.KindShipment, 2)
	s2.ReservationID, s2.ShipmentID = r.ID, "SHP-2"
	res, err := e.svc.ApplyStockEvents(ctx, inventory.ApplyStockEventsParams{RequestID: "se2", SourceSystem: "wms", Events: []inventory.StockEvent{s2}})
	if err != nil || res[0].Outcome != inventory.OutcomeApplied {
		t.Fatalf("second shipment event = %+v, %v", res, err)
	}
	if l := e.level(t, SKUA, "WH-MUC"); l.OnHand != 6 || l.Reserved != 0 || l.Sequence != 1 {
		t.Errorf("MUC after commit then event: %+v; want on_hand 6", l)
	}
	if got, _ := e.svc.GetReservation(ctx, r.ID); got.State != inventory.StateCommitted {
		t.Errorf("state = %v, want COMMITTED", got.State)
	}
}

func testReconciliation(t *testing.T, newStore Factory) {
	e := setup(t, newStore)
	ctx := t.Context()
	p := inventory.StartReconciliationParams{
		RequestID: "rec-1", SnapshotSource: "erp", ApplyCorrections: true, SKUs: []string{SKUB, SKUA},
		SnapshotTime: e.clock.Now(),
		Entries: []inventory.SnapshotEntry{
			{SKU: SKUA, WarehouseCode: "WH-HAM", OnHand: 5, Sequence: 7},   // matches
			{SKU: SKUA, WarehouseCode: "WH-MUC", OnHand: 6, Sequence: 8},   // 2 lost
			{SKU: SKUA, WarehouseCode: "WH-BER", OnHand: 20, Sequence: 5},  // snapshot older than Transload
			{SKU: SKUB, WarehouseCode: "WH-HAM", OnHand: 100, Sequence: 7}, // matches
			{SKU: SKUB, WarehouseCode: "WH-BER", OnHand: 3, Sequence: 1},   // unknown to Transload
			{SKU: SKUScarce, WarehouseCode: "WH-HAM", OnHand: 99},          // out of scope
		},
	}
	run, err := e.svc.StartReconciliation(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if run.State != inventory.ReconRunning {
		t.Errorf("started run state = %v, want RUNNING", run.State)
	}
	e.svc.Wait()
	got, err := e.svc.GetReconciliation(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := inventory.ReconciliationCounts{Compared: 7, Matched: 3, Variances: 4, Corrected: 3, Skipped: 1, AbsoluteVarianceTotal: 55}
	if diff := cmp.Diff(want, got.ReconciliationCounts); diff != "" || got.State != inventory.ReconSucceeded || got.EndTime.IsZero() {
		t.Errorf("run %v (%s), counts (-want +got):\n%s", got.State, got.ErrorMessage, diff)
	}
	again, err := e.svc.StartReconciliation(ctx, p)
	if err != nil || again.ID != run.ID {
		t.Errorf("replayed start = %s, %v; want %s", again.ID, err, run.ID)
	}
	vs, err := e.svc.ListVariances(ctx, inventory.VarianceQuery{ReconciliationID: run.ID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	type vv struct {
		Pair      string
		Kind      inventory.VarianceKind
		Delta     int64
		Corrected bool
	}
	var gotV []vv
	for _, v := range vs {
		gotV = append(gotV, vv{v.SKU + "@" + v.WarehouseCode, v.Kind, v.Delta(), v.Corrected})
	}
	wantV := []vv{
		{"SKU-A@WH-BER", inventory.KindSkippedSnapshotBehind, 0, false},
		{"SKU-A@WH-MUC", inventory.KindQuantityMismatch, -2, true},
		{"SKU-A@WH-OLD", inventory.KindMissingInSource, -50, true},
		{"SKU-B@WH-BER", inventory.KindMissingInTransload, 3, true},
	}
	if diff := cmp.Diff(wantV, gotV); diff != "" {
		t.Errorf("variances (-want +got):\n%s", diff)
	}
	if l := e.level(t, SKUA, "WH-MUC"); l.OnHand != 6 || l.Sequence != 8 || l.SourceSystem != "erp" {
		t.Errorf("corrected SKU-A@WH-MUC = %+v", l)
	}
	if l := e.level(t, SKUA, "WH-OLD"); l.OnHand != 0 {
		t.Errorf("corrected SKU-A@WH-OLD = %+v", l)
	}
	if l := e.level(t, SKUB, "WH-BER"); l.OnHand != 3 || l.Revision != 1 {
		t.Errorf("created SKU-B@WH-BER = %+v", l)
	}
	if l := e.level(t, SKUScarce, "WH-HAM"); l.OnHand != 4 {
		t.Errorf("out-of-scope level changed: %+v", l)
	}
	// ERP events continue after the corrected sequence.
	res, err := e.svc.ApplyStockEvents(ctx, inventory.ApplyStockEventsParams{RequestID: "after-rec", SourceSystem: "erp",
		Events: []inventory.StockEvent{ev("m9", SKUA, "WH-MUC", 9, inventory.KindReceipt, 1)}})
	if err != nil || res[0].Outcome != inventory.OutcomeApplied {
		t.Errorf("event after correction = %+v, %v", res, err)
	}
	corrected := true
	page, err := e.svc.ListVariances(ctx, inventory.VarianceQuery{ReconciliationID: run.ID, Corrected: &corrected, Limit: 1})
	if err != nil || len(page) != 1 || page[0].WarehouseCode != "WH-MUC" {
		t.Fatalf("corrected page 1 = %+v, %v", page, err)
	}
	page, err = e.svc.ListVariances(ctx, inventory.VarianceQuery{ReconciliationID: run.ID, Corrected: &corrected, Limit: 5,
		AfterSKU: page[0].SKU, AfterWarehouse: page[0].WarehouseCode})
	if err != nil || len(page) != 2 {
		t.Errorf("corrected page 2 = %+v, %v", page, err)
	}
	if v, err := e.svc.GetVariance(ctx, run.ID, SKUB, "WH-BER"); err != nil || v.Kind != inventory.KindMissingInTransload {
		t.Errorf("GetVariance = %+v, %v", v, err)
	}
	if _, err := e.svc.GetVariance(ctx, run.ID, SKUB, "WH-HAM"); !errors.Is(err, inventory.ErrVarianceNotFound) {
		t.Errorf("GetVariance(matched pair) = %v", err)
	}
	if _, err := e.svc.GetReconciliation(ctx, "nope"); !errors.Is(err, inventory.ErrReconciliationNotFound) {
		t.Errorf("GetReconciliation(unknown) = %v", err)
	}
	runs, err := e.svc.ListReconciliations(ctx, inventory.ReconciliationQuery{State: inventory.ReconSucceeded, Limit: 5})
	if err != nil || len(runs) != 1 || runs[0].ID != run.ID {
		t.Errorf("ListReconciliations = %+v, %v", runs, err)
	}
}

func testReconciliationInProgress(t *testing.T, newStore Factory) {
	e := setup(t, newStore)
	ctx := t.Context()
	base := inventory.Reconciliation{State: inventory.ReconRunning, SnapshotSource: "erp", CreateTime: e.clock.Now()}
	a := base
	a.ID, a.RequestID, a.SKUs = "run-a", "ra", []string{SKUA}
	if _, created, err := e.store.CreateReconciliation(ctx, a, "fa", inventory.ServiceActor); err != nil || !created {
		t.Fatalf("first run = %v, %v", created, err)
	}
	b := base
	b.ID, b.RequestID, b.WarehouseCodes = "run-b", "rb", []string{"WH-HAM"} // all SKUs in HAM: overlaps SKU-A
	var busy *inventory.ReconciliationInProgressError
	if _, _, err := e.store.CreateReconciliation(ctx, b, "fb", inventory.ServiceActor); !errors.As(err, &busy) || busy.Reconciliation != "reconciliations/run-a" {
		t.Errorf("overlapping run: %v", err)
	}
	c := base
	c.ID, c.RequestID, c.SKUs = "run-c", "rc", []string{SKUB}
	if _, created, err := e.store.CreateReconciliation(ctx, c, "fc", inventory.ServiceActor); err != nil || !created {
		t.Errorf("disjoint run = %v, %v", created, err)
	}
	if _, _, err := e.store.CreateReconciliation(ctx, c, "other", inventory.ServiceActor); !errors.Is(err, inventory.ErrIdempotencyKeyReused) {
		t.Errorf("reused request id: %v", err)
	}
	if n, err := e.svc.FailInterrupted(ctx); err != nil || n != 2 {
		t.Fatalf("FailInterrupted = %d, %v; want 2", n, err)
	}
	if _, created, err := e.store.CreateReconciliation(ctx, b, "fb", inventory.ServiceActor); err != nil || !created {
		t.Errorf("run after the others failed = %v, %v", created, err)
	}
}

// testConcurrentMixed runs reservations, releases, commits and stock events
// concurrently on the same SKUs and then checks that every level's reserved
// total equals the open allocations of the reservations, and that on-hand
// moved exactly by the applied events and commits.
func testConcurrentMixed(t *testing.T, newStore Factory) {
	e := setup(t, newStore)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	skus := []string{SKUA, SKUB, SKUScarce}
	whs := []string{"WH-HAM", "WH-MUC", "WH-BER"}
	type key struct{ sku, wh string }
	before := map[key]int64{}
	for _, sku := range skus {
		levels, err := e.store.StockLevelsForSKUs(ctx, []string{sku})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range levels {
			before[key{l.SKU, l.WarehouseCode}] = l.OnHand
		}
	}
	const workers, rounds = 8, 25
	var (
		mu         sync.Mutex
		delta      = map[key]int64{} // expected on-hand change (events and commits)
		unexpected []error
	)
	expected := func(err error) bool {
		var (
			ise *inventory.InsufficientStockError
			sce *inventory.StateConflictError
			cea *inventory.CommitExceedsAllocationError
		)
		return errors.As(err, &ise) || errors.As(err, &sce) || errors.As(err, &cea)
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			source := fmt.Sprintf("src-%d", w)
			seq := map[key]int64{}
			var mine []string
			for i := range rounds {
				var err error
				switch op := (w + i) % 4; {
				case op == 0 || len(mine) == 0:
					var r inventory.Reservation
					r, _, err = e.svc.Reserve(ctx, inventory.ReserveParams{
						RequestID: fmt.Sprintf("m-%d-%d", w, i), ReferenceID: fmt.Sprintf("o-%d-%d", w, i), Channel: "web", AllowSplit: true,
						Lines:           []inventory.ReserveLine{{SKU: skus[(w+i)%3], Quantity: int64(1 + i%3)}},
						BackorderPolicy: []inventory.BackorderPolicy{inventory.BackorderReject, inventory.BackorderRemainder}[w%2],
					})
					if err == nil {
						mine = append(mine, r.ID)
					}
				case op == 1:
					_, err = e.svc.Release(ctx, inventory.ReleaseParams{ID: mine[i%len(mine)], RequestID: fmt.Sprintf("rel-%d-%d", w, i)})
				case op == 2:
					id := mine[(i/2)%len(mine)]
					var r inventory.Reservation
					if r, err = e.svc.GetReservation(ctx, id); err != nil {
						break
					}
					l := r.Lines[0]
					var a inventory.Allocation
					for _, al := range l.Allocations {
						if al.Open() > 0 {
							a = al
						}
					}
					if a.Open() == 0 {
						break
					}
					_, err = e.svc.Commit(ctx, inventory.CommitParams{ID: id, RequestID: fmt.Sprintf("c-%d-%d", w, i),
						WarehouseCode: a.WarehouseCode, ShipmentID: fmt.Sprintf("s-%d-%d", w, i),
						Lines: []inventory.CommitLine{{SKU: l.SKU, Quantity: a.Open()}}})
					if err == nil {
						mu.Lock()
						delta[key{l.SKU, a.WarehouseCode}] -= a.Open()
						mu.Unlock()
					}
				default:
					k := key{skus[i%3], whs[(w+i)%3]}
					q := int64(1 + i%4)
					kind := inventory.KindReceipt
					if i%2 == 1 {
						// Write-offs only where stock cannot reach zero, so the
						// expected on-hand below is exact (a clamp at zero
						// would depend on the interleaving).
						k, kind, q = key{SKUB, "WH-HAM"}, inventory.KindAdjustment, -1
					}
					if _, known := before[k]; !known {
						break
					}
					seq[k]++
					var res []inventory.StockEventResult
					res, err = e.svc.ApplyStockEvents(ctx, inventory.ApplyStockEventsParams{
						RequestID: fmt.Sprintf("ev-%d-%d", w, i), SourceSystem: source,
						Events: []inventory.StockEvent{ev(fmt.Sprintf("ev-%d-%d", w, i), k.sku, k.wh, seq[k], kind, q)},
					})
					if err == nil && res[0].Outcome != inventory.OutcomeApplied {
						err = fmt.Errorf("event outcome %v: %s", res[0].Outcome, res[0].Message)
					}
					if err == nil {
						mu.Lock()
						delta[k] += q
						mu.Unlock()
					}
				}
				if err != nil && !expected(err) {
					mu.Lock()
					unexpected = append(unexpected, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(unexpected) > 0 {
		t.Fatalf("unexpected errors: %v", unexpected)
	}
	open := map[key]int64{}
	rs, err := e.svc.ListReservations(ctx, inventory.ReservationQuery{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		for _, l := range r.Lines {
			for _, a := range l.Allocations {
				if a.Open() < 0 {
					t.Errorf("reservation %s: negative open allocation %+v", r.ID, a)
				}
				if r.State.Open() {
					open[key{l.SKU, a.WarehouseCode}] += a.Open()
				} else if a.Open() != 0 {
					t.Errorf("%v reservation %s keeps %d open", r.State, r.ID, a.Open())
				}
			}
		}
	}
	for k, was := range before {
		l := e.level(t, k.sku, k.wh)
		if l.Reserved != open[k] {
			t.Errorf("%s@%s: reserved %d, open allocations %d", k.sku, k.wh, l.Reserved, open[k])
		}
		if want := was + delta[k]; l.OnHand != want {
			t.Errorf("%s@%s: on hand %d, want %d", k.sku, k.wh, l.OnHand, want)
		}
		if l.OnHand < 0 || l.Reserved < 0 {
			t.Errorf("%s@%s negative: %+v", k.sku, k.wh, l)
		}
	}
}

// testBackorders: backordered quantity is allocated, oldest reservation
// first, when stock arrives (stock event) or is released.
func testBackorders(t *testing.T, newStore Factory) {
	e := setup(t, newStore)
	ctx := t.Context()
	r1 := e.reserve(t, inventory.ReserveParams{RequestID: "bo-1", AllowSplit: true, BackorderPolicy: inventory.BackorderRemainder,
		Lines: []inventory.ReserveLine{{SKU: SKUScarce, Quantity: 12}}})
	e.clock.Advance(time.Second)
	r2 := e.reserve(t, inventory.ReserveParams{RequestID: "bo-2", BackorderPolicy: inventory.BackorderRemainder,
		Lines: []inventory.ReserveLine{{SKU: SKUScarce, Quantity: 1}}})
	if r1.Lines[0].Backordered != 2 || r2.Lines[0].Backordered != 1 || len(r2.Lines[0].Allocations) != 0 {
		t.Fatalf("backorders = %+v / %+v", r1.Lines[0], r2.Lines[0])
	}
	// Two units arrive in MUC: the older reservation gets them.
	if _, err := e.svc.ApplyStockEvents(ctx, inventory.ApplyStockEventsParams{RequestID: "bo-rcpt", SourceSystem: "wms",
		Events: []inventory.StockEvent{ev("bo-r1", SKUScarce, "WH-MUC", 1, inventory.KindReceipt, 2)}}); err != nil {
		t.Fatal(err)
	}
	got1, _ := e.svc.GetReservation(ctx, r1.ID)
	want1 := []alloc{{WarehouseCode: "WH-HAM", Quantity: 4}, {WarehouseCode: "WH-MUC", Quantity: 5}, {WarehouseCode: "WH-BER", Quantity: 3}}
	if diff := cmp.Diff(want1, got1.Lines[0].Allocations); diff != "" || got1.Lines[0].Backordered != 0 || !got1.FullyAllocated() {
		t.Errorf("older reservation after receipt (backordered %d), allocations (-want +got):\n%s", got1.Lines[0].Backordered, diff)
	}
	if got2, _ := e.svc.GetReservation(ctx, r2.ID); got2.Lines[0].Backordered != 1 {
		t.Errorf("younger reservation got stock first: %+v", got2.Lines[0])
	}
	// Releasing the older one frees stock for the younger one (no split:
	// one warehouse).
	if _, err := e.svc.Release(ctx, inventory.ReleaseParams{ID: r1.ID, RequestID: "bo-rel"}); err != nil {
		t.Fatal(err)
	}
	got2, _ := e.svc.GetReservation(ctx, r2.ID)
	if diff := cmp.Diff([]alloc{{WarehouseCode: "WH-HAM", Quantity: 1}}, got2.Lines[0].Allocations); diff != "" || got2.Lines[0].Backordered != 0 {
		t.Errorf("younger reservation after release, allocations (-want +got):\n%s", diff)
	}
	var reserved int64
	for _, wh := range []string{"WH-HAM", "WH-MUC", "WH-BER"} {
		reserved += e.level(t, SKUScarce, wh).Reserved
	}
	if reserved != 1 {
		t.Errorf("reserved total = %d, want 1", reserved)
	}
}
