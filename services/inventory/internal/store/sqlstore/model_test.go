package sqlstore_test

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/fakeclock"
	"github.com/transload/transload/services/inventory/internal/inventory"
	"github.com/transload/transload/services/inventory/internal/store/storetest"
)

// TestReservationModel is a model-based (rapid state machine) test of
// reservations on both engines: random interleavings of reserve (REJECT
// and BACKORDER_REMAINDER, holds and confirmed), release (all or part),
// commit, hold expiry, stock events, reconciliation corrections and
// idempotent replays of each run through inventory.Service against the
// real store, and after every step the store must agree with a simple
// in-memory model (on-hand per SKU×warehouse, the allocations, open and
// backordered quantities of every reservation). The invariants it proves:
//
//   - available is never negative and never oversold by a reservation: a
//     reserve succeeds iff every line fits in the available stock of the
//     active warehouses (greedy in priority order), otherwise it fails with
//     *InsufficientStockError and reserves nothing; oversold quantity only
//     appears when a stock event or correction lowers on-hand under
//     existing reservations, and equals max(0, reserved − on-hand);
//   - reserved of every level equals the sum of the open allocations of
//     the open (HELD/CONFIRMED) reservations in that warehouse;
//   - every reservation's state and open allocation matches the model;
//     backorders get freed stock oldest reservation first, in priority
//     order, in the transaction that freed it (the expiry sweep expires
//     due holds one at a time, so a due hold later in the sweep can still
//     receive backorder stock just before it expires: modelled, reported);
//   - idempotent replays (same request id, same shipment id, same stock
//     event batch) change nothing; a request id reused with another payload
//     fails with ErrIdempotencyKeyReused.
//
// Every check iteration uses its own SKUs on one store per engine, so the
// run stays short in make test (INVENTORY_MODEL_CHECKS, default 10, unless
// -rapid.checks is given; make chaos sets more).
func TestReservationModel(t *testing.T) {
	checks := 10
	if v, err := strconv.Atoi(os.Getenv("INVENTORY_MODEL_CHECKS")); err == nil && v > 0 {
		checks = v
	}
	if !flagSet("rapid.checks") {
		if err := flag.Set("rapid.checks", strconv.Itoa(checks)); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("sqlite", func(t *testing.T) { runModel(t, open(t, sqldbtest.OpenSQLite(t))) })
	t.Run("postgres", func(t *testing.T) { runModel(t, open(t, sqldbtest.OpenPostgres(t))) })
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// modelWarehouses are the active fixture warehouses in allocation order
// (WH-OLD is inactive and must never be allocated from).
var modelWarehouses = []string{"WH-HAM", "WH-MUC", "WH-BER"}

type levelKey struct{ sku, wh string }

// modelAlloc is the part of a reservation line held in one warehouse.
type modelAlloc struct {
	wh              string
	qty, open, done int64 // done: committed
}

type modelRes struct {
	id string
	// backordered is the backordered quantity per SKU (policy
	// BACKORDER_REMAINDER).
	backordered map[string]int64
	params      inventory.ReserveParams
	state       inventory.ReservationState
	expire      time.Time
	lines       map[string][]*modelAlloc // by SKU, in allocation order
	skus        []string
	releases    []inventory.ReleaseParams // succeeded, for replays
	commits     []inventory.CommitParams
}

func (r *modelRes) open() bool { return r.state.Open() }

func (r *modelRes) settle() {
	var open, done int64
	for _, n := range r.backordered {
		open += n
	}
	for _, as := range r.lines {
		for _, a := range as {
			open += a.open
			done += a.done
		}
	}
	if open == 0 {
		r.state = inventory.StateReleased
		if done > 0 {
			r.state = inventory.StateCommitted
		}
	}
}

type model struct {
	st     inventory.Store
	svc    *inventory.Service
	clock  *fakeclock.Clock
	prefix string
	skus   []string
	onHand map[levelKey]int64
	seq    map[levelKey]int64
	res    []*modelRes
	// batches are applied stock event batches, for replays.
	batches []inventory.ApplyStockEventsParams
	n       int
}

func (m *model) next(kind string) string {
	m.n++
	return fmt.Sprintf("%s%s-%d", m.prefix, kind, m.n)
}

func (m *model) reserved(k levelKey) int64 {
	var n int64
	for _, r := range m.res {
		if !r.open() {
			continue
		}
		for _, a := range r.lines[k.sku] {
			if a.wh == k.wh {
				n += a.open
			}
		}
	}
	return n
}

func (m *model) available(k levelKey) int64 { return max(0, m.onHand[k]-m.reserved(k)) }

func runModel(t *testing.T, st inventory.Store) {
	clock := fakeclock.New(fakeclock.Start)
	var ids atomic.Int64
	svc := inventory.NewService(st, inventory.WithClock(clock.Now), inventory.WithMaxHoldTTL(time.Hour),
		inventory.WithIDs(func() string { return fmt.Sprintf("m-%06d", ids.Add(1)) }))
	t.Cleanup(svc.Close)
	if loaded, err := st.LoadInitial(t.Context(), storetest.Warehouses(), storetest.Snapshot(), clock.Now()); err != nil || !loaded {
		t.Fatalf("LoadInitial = %v, %v", loaded, err)
	}
	svc.MarkLoaded()
	var iteration atomic.Int64
	rapid.Check(t, func(rt *rapid.T) {
		m := &model{st: st, svc: svc, clock: clock, prefix: fmt.Sprintf("it%d-", iteration.Add(1)),
			onHand: map[levelKey]int64{}, seq: map[levelKey]int64{}}
		m.skus = []string{m.prefix + "X", m.prefix + "Y"}
		// Seed every SKU×active warehouse with a first stock event.
		for _, sku := range m.skus {
			for _, wh := range modelWarehouses {
				q := rapid.Int64Range(0, 6).Draw(rt, "seed "+sku+"@"+wh)
				e := inventory.StockEvent{SKU: sku, WarehouseCode: wh, Kind: inventory.KindSetOnHand, Quantity: q}
				m.applyEvent(rt, e)
			}
		}
		rt.Repeat(map[string]func(*rapid.T){
			"":              m.check,
			"reserve":       m.reserve,
			"replayReserve": m.replayReserve,
			"release":       m.release,
			"replayRelease": m.replayRelease,
			"commit":        m.commit,
			"replayCommit":  m.replayCommit,
			"expire":        m.expire,
			"stockEvent":    m.stockEvent,
			"replayEvents":  m.replayEvents,
			"reconcile":     m.reconcile,
		})
	})
}

// applyEvent applies e as the next event of its level from source wms and
// updates the model.
func (m *model) applyEvent(rt *rapid.T, e inventory.StockEvent) {
	k := levelKey{e.SKU, e.WarehouseCode}
	e.EventID = m.next("ev")
	e.Sequence = m.seq[k] + 1
	e.OccurTime = m.clock.Now()
	p := inventory.ApplyStockEventsParams{RequestID: m.next("batch"), SourceSystem: "wms", Events: []inventory.StockEvent{e}}
	res, err := m.svc.ApplyStockEvents(rt.Context(), p)
	if err != nil {
		rt.Fatalf("ApplyStockEvents(%+v): %v", e, err)
	}
	if len(res) != 1 || res[0].Outcome != inventory.OutcomeApplied {
		rt.Fatalf("ApplyStockEvents(%+v) = %+v; want APPLIED", e, res)
	}
	m.seq[k] = e.Sequence
	m.onHand[k] = max(0, inventory.ImpliedOnHand(e, m.onHand[k]))
	m.batches = append(m.batches, p)
	m.allocateBackorders()
}

func (m *model) reserve(rt *rapid.T) {
	skus := slices.Clone(m.skus)
	if rapid.Bool().Draw(rt, "one line") {
		skus = []string{rapid.SampledFrom(m.skus).Draw(rt, "sku")}
	}
	p := inventory.ReserveParams{RequestID: m.next("req"), Channel: "web", AllowSplit: true,
		Strategy: inventory.StrategyPriority, BackorderPolicy: inventory.BackorderReject}
	if rapid.Bool().Draw(rt, "backorder remainder") {
		p.BackorderPolicy = inventory.BackorderRemainder
	}
	p.ReferenceID = "ref-" + p.RequestID
	for _, sku := range skus {
		p.Lines = append(p.Lines, inventory.ReserveLine{SKU: sku, Quantity: rapid.Int64Range(1, 8).Draw(rt, "qty")})
	}
	if rapid.Bool().Draw(rt, "hold") {
		p.HoldTTL = time.Duration(rapid.IntRange(1, 10).Draw(rt, "ttl minutes")) * time.Minute
	}
	// Predict: greedy over the active warehouses in priority order; the
	// whole request fails when one line does not fit.
	want := &modelRes{params: p, state: inventory.StateConfirmed, lines: map[string][]*modelAlloc{}, skus: skus,
		backordered: map[string]int64{}}
	short := ""
	for _, l := range p.Lines {
		left := l.Quantity
		for _, wh := range modelWarehouses {
			if n := min(left, m.available(levelKey{l.SKU, wh})); n > 0 {
				want.lines[l.SKU] = append(want.lines[l.SKU], &modelAlloc{wh: wh, qty: n, open: n})
				left -= n
			}
		}
		switch {
		case left > 0 && p.BackorderPolicy == inventory.BackorderRemainder:
			want.backordered[l.SKU] = left
		case left > 0 && short == "":
			short = l.SKU
		}
	}
	r, created, err := m.svc.Reserve(rt.Context(), p)
	if short != "" {
		var ise *inventory.InsufficientStockError
		if !errors.As(err, &ise) || ise.SKU != short {
			rt.Fatalf("Reserve(%+v) = %+v, %v; want InsufficientStockError for %s", p, r, err, short)
		}
		return
	}
	if err != nil || !created {
		rt.Fatalf("Reserve(%+v) = created %v, %v; want a new reservation", p, created, err)
	}
	if p.HoldTTL > 0 {
		want.state, want.expire = inventory.StateHeld, m.clock.Now().Add(p.HoldTTL)
	}
	want.id = r.ID
	m.res = append(m.res, want)
	m.compareReservation(rt, want, r)
}

func (m *model) pick(rt *rapid.T) *modelRes {
	if len(m.res) == 0 {
		rt.Skip("no reservation yet")
	}
	return rapid.SampledFrom(m.res).Draw(rt, "reservation")
}

// replayReserve repeats a reserve: same payload → the original, created
// false, nothing changes; another payload → ErrIdempotencyKeyReused.
func (m *model) replayReserve(rt *rapid.T) {
	want := m.pick(rt)
	p := want.params
	if rapid.Bool().Draw(rt, "other payload") {
		p.Lines = slices.Clone(p.Lines)
		p.Lines[0].Quantity++
		if _, _, err := m.svc.Reserve(rt.Context(), p); !errors.Is(err, inventory.ErrIdempotencyKeyReused) {
			rt.Fatalf("Reserve(reused %s) = %v; want ErrIdempotencyKeyReused", p.RequestID, err)
		}
		return
	}
	r, created, err := m.svc.Reserve(rt.Context(), p)
	if err != nil || created || r.ID != want.id {
		rt.Fatalf("Reserve(replay %s) = %s created %v, %v; want %s, not created", p.RequestID, r.ID, created, err, want.id)
	}
	m.compareReservation(rt, want, r)
}

func (m *model) release(rt *rapid.T) {
	want := m.pick(rt)
	p := inventory.ReleaseParams{ID: want.id, RequestID: m.next("rel"), Reason: "model"}
	if rapid.Bool().Draw(rt, "partial") {
		sku := rapid.SampledFrom(want.skus).Draw(rt, "release sku")
		open := want.backordered[sku]
		for _, a := range want.lines[sku] {
			open += a.open
		}
		p.Lines = []inventory.ReleaseLine{{SKU: sku, Quantity: rapid.Int64Range(1, open+1).Draw(rt, "release qty")}}
	}
	r, err := m.svc.Release(rt.Context(), p)
	switch {
	case want.state == inventory.StateCommitted:
		var sce *inventory.StateConflictError
		if !errors.As(err, &sce) {
			rt.Fatalf("Release(committed %s) = %v; want StateConflictError", want.id, err)
		}
		return
	case !want.open():
		if err != nil {
			rt.Fatalf("Release(%s, %v) = %v; want a no-op", want.id, want.state, err)
		}
	default:
		left, all := int64(0), len(p.Lines) == 0
		if !all {
			left = p.Lines[0].Quantity
			open := want.backordered[p.Lines[0].SKU]
			for _, a := range want.lines[p.Lines[0].SKU] {
				open += a.open
			}
			if left > open {
				var ree *inventory.ReleaseExceedsOpenError
				if !errors.As(err, &ree) {
					rt.Fatalf("Release(%s, %d > open %d) = %v; want ReleaseExceedsOpenError", want.id, left, open, err)
				}
				return
			}
		}
		if err != nil {
			rt.Fatalf("Release(%+v) = %v", p, err)
		}
		for _, sku := range want.skus {
			if !all && sku != p.Lines[0].SKU {
				continue
			}
			// The backorder first (it becomes unfulfilled), then the
			// allocations in reverse allocation order.
			bo := want.backordered[sku]
			if !all {
				bo = min(bo, left)
				left -= bo
			}
			want.backordered[sku] -= bo
			as := want.lines[sku]
			for i := len(as) - 1; i >= 0; i-- { // reverse allocation order
				n := as[i].open
				if !all {
					n = min(n, left)
					left -= n
				}
				as[i].open -= n
			}
		}
		want.settle()
		m.allocateBackorders()
	}
	want.releases = append(want.releases, p)
	m.compareReservation(rt, want, r)
}

func (m *model) replayRelease(rt *rapid.T) {
	want := m.pick(rt)
	if len(want.releases) == 0 {
		rt.Skip("no release")
	}
	p := rapid.SampledFrom(want.releases).Draw(rt, "release")
	r, err := m.svc.Release(rt.Context(), p)
	if err != nil {
		rt.Fatalf("Release(replay %s) = %v", p.RequestID, err)
	}
	m.compareReservation(rt, want, r)
}

func (m *model) commit(rt *rapid.T) {
	want := m.pick(rt)
	sku := rapid.SampledFrom(want.skus).Draw(rt, "commit sku")
	if len(want.lines[sku]) == 0 {
		rt.Skip("nothing allocated")
	}
	wh := rapid.SampledFrom(want.lines[sku]).Draw(rt, "commit allocation").wh
	var open int64
	for _, a := range want.lines[sku] {
		if a.wh == wh {
			open += a.open
		}
	}
	p := inventory.CommitParams{ID: want.id, RequestID: m.next("com"), WarehouseCode: wh, ShipmentID: m.next("ship"),
		Lines: []inventory.CommitLine{{SKU: sku, Quantity: rapid.Int64Range(1, open+1).Draw(rt, "commit qty")}}}
	r, err := m.svc.Commit(rt.Context(), p)
	q := p.Lines[0].Quantity
	k := levelKey{sku, wh}
	switch {
	case !want.open():
		var sce *inventory.StateConflictError
		if !errors.As(err, &sce) {
			rt.Fatalf("Commit(%s %v) = %v; want StateConflictError", want.id, want.state, err)
		}
		return
	case q > open:
		var cea *inventory.CommitExceedsAllocationError
		if !errors.As(err, &cea) {
			rt.Fatalf("Commit(%s, %d > open %d) = %v; want CommitExceedsAllocationError", want.id, q, open, err)
		}
		return
	case q > m.onHand[k]:
		// Shipping more than on-hand (the level is oversold: a stock event
		// or correction lowered on-hand under this reservation) is refused
		// as an invariant violation today and changes nothing (the check
		// below proves the rollback); see the package README.
		if err == nil {
			rt.Fatalf("Commit(%+v) with on-hand %d = ok; want an error, on-hand cannot go negative", p, m.onHand[k])
		}
		return
	case err != nil:
		rt.Fatalf("Commit(%+v) with on-hand %d, reserved %d = %v", p, m.onHand[k], m.reserved(k), err)
	}
	left := q
	for _, a := range want.lines[sku] {
		if a.wh == wh {
			n := min(left, a.open)
			a.open -= n
			a.done += n
			left -= n
		}
	}
	m.onHand[k] -= q
	want.settle()
	want.commits = append(want.commits, p)
	m.compareReservation(rt, want, r)
}

// replayCommit repeats a committed shipment under a new request id: the
// (reservation, shipment) pair makes it a no-op.
func (m *model) replayCommit(rt *rapid.T) {
	want := m.pick(rt)
	if len(want.commits) == 0 {
		rt.Skip("no commit")
	}
	p := rapid.SampledFrom(want.commits).Draw(rt, "commit")
	if rapid.Bool().Draw(rt, "new request id") {
		p.RequestID = m.next("com")
	}
	r, err := m.svc.Commit(rt.Context(), p)
	if err != nil {
		rt.Fatalf("Commit(replay %s/%s) = %v", p.RequestID, p.ShipmentID, err)
	}
	m.compareReservation(rt, want, r)
}

func (m *model) expire(rt *rapid.T) {
	m.clock.Advance(time.Duration(rapid.IntRange(0, 12).Draw(rt, "advance minutes")) * time.Minute)
	for {
		n, err := m.svc.ExpireDue(rt.Context(), 100)
		if err != nil {
			rt.Fatalf("ExpireDue: %v", err)
		}
		if n < 100 {
			break
		}
	}
	// The sweep expires due holds one by one in (expire time, id) order,
	// each in its own transaction that gives the freed stock to open
	// backorders at once, so a due hold later in the sweep can still
	// receive backorder stock before it expires itself.
	now := m.clock.Now()
	var due []*modelRes
	for _, r := range m.res {
		if r.state == inventory.StateHeld && !now.Before(r.expire) {
			due = append(due, r)
		}
	}
	slices.SortFunc(due, func(a, b *modelRes) int { return cmp.Or(a.expire.Compare(b.expire), cmp.Compare(a.id, b.id)) })
	for _, r := range due {
		for _, as := range r.lines {
			for _, a := range as {
				a.open = 0
			}
		}
		clear(r.backordered)
		r.state = inventory.StateExpired
		m.allocateBackorders()
	}
}

// allocateBackorders gives available stock to open reservations'
// backorders, per SKU oldest reservation first, greedily over the
// warehouses in priority order (allow_split), adding to the line's
// allocation in a warehouse it already uses. The service does this in
// the transaction of every change that frees stock (stock event, release,
// expiry, correction); the model runs it after each of those.
func (m *model) allocateBackorders() {
	for _, sku := range m.skus {
		for _, r := range m.res {
			if !r.open() || r.backordered[sku] == 0 {
				continue
			}
			for _, wh := range modelWarehouses {
				n := min(r.backordered[sku], m.available(levelKey{sku, wh}))
				if n <= 0 {
					continue
				}
				r.backordered[sku] -= n
				i := slices.IndexFunc(r.lines[sku], func(a *modelAlloc) bool { return a.wh == wh })
				if i < 0 {
					r.lines[sku] = append(r.lines[sku], &modelAlloc{wh: wh})
					i = len(r.lines[sku]) - 1
				}
				r.lines[sku][i].qty += n
				r.lines[sku][i].open += n
			}
		}
	}
}

func (m *model) stockEvent(rt *rapid.T) {
	e := inventory.StockEvent{
		SKU:           rapid.SampledFrom(m.skus).Draw(rt, "event sku"),
		WarehouseCode: rapid.SampledFrom(modelWarehouses).Draw(rt, "event warehouse"),
	}
	switch rapid.IntRange(0, 2).Draw(rt, "event kind") {
	case 0:
		e.Kind, e.Quantity = inventory.KindReceipt, rapid.Int64Range(1, 6).Draw(rt, "receipt")
	case 1:
		e.Kind, e.Quantity = inventory.KindAdjustment, rapid.Int64Range(-6, -1).Draw(rt, "adjustment")
	default:
		e.Kind, e.Quantity = inventory.KindSetOnHand, rapid.Int64Range(0, 8).Draw(rt, "set on hand")
	}
	m.applyEvent(rt, e)
}

// replayEvents repeats an applied batch: same request id → the stored
// results; a new request id → DUPLICATE. Nothing changes either way.
func (m *model) replayEvents(rt *rapid.T) {
	if len(m.batches) == 0 {
		rt.Skip("no batch")
	}
	p := rapid.SampledFrom(m.batches).Draw(rt, "batch")
	want := inventory.OutcomeApplied
	if rapid.Bool().Draw(rt, "new request id") {
		p.RequestID, want = m.next("batch"), inventory.OutcomeDuplicate
	}
	res, err := m.svc.ApplyStockEvents(rt.Context(), p)
	if err != nil || len(res) != 1 || res[0].Outcome != want {
		rt.Fatalf("ApplyStockEvents(replay %s) = %+v, %v; want %v", p.RequestID, res, err, want)
	}
}

// reconcile runs a correcting reconciliation of one SKU against an inline
// snapshot: on-hand becomes the snapshot's, reservations stay.
func (m *model) reconcile(rt *rapid.T) {
	sku := rapid.SampledFrom(m.skus).Draw(rt, "reconcile sku")
	p := inventory.StartReconciliationParams{RequestID: m.next("recon"), SnapshotSource: "erp", ApplyCorrections: true,
		SKUs: []string{sku}, SnapshotTime: m.clock.Now()}
	for _, wh := range modelWarehouses {
		p.Entries = append(p.Entries, inventory.SnapshotEntry{SKU: sku, WarehouseCode: wh,
			OnHand: rapid.Int64Range(0, 8).Draw(rt, "snapshot "+wh)})
	}
	run, err := m.svc.StartReconciliation(rt.Context(), p)
	if err != nil {
		rt.Fatalf("StartReconciliation: %v", err)
	}
	m.svc.Wait()
	got, err := m.svc.GetReconciliation(rt.Context(), run.ID)
	if err != nil || got.State != inventory.ReconSucceeded {
		rt.Fatalf("reconciliation %s = %+v, %v; want SUCCEEDED", run.ID, got, err)
	}
	for _, e := range p.Entries {
		m.onHand[levelKey{e.SKU, e.WarehouseCode}] = e.OnHand
	}
	m.allocateBackorders()
}

// compareReservation checks a returned reservation against the model.
func (m *model) compareReservation(rt *rapid.T, want *modelRes, got inventory.Reservation) {
	if got.ID != want.id || got.State != want.state {
		rt.Fatalf("reservation %s state %v; model %s %v", got.ID, got.State, want.id, want.state)
	}
	for _, l := range got.Lines {
		if l.Backordered != want.backordered[l.SKU] {
			rt.Fatalf("reservation %s %s backordered %d; model %d", got.ID, l.SKU, l.Backordered, want.backordered[l.SKU])
		}
		as := want.lines[l.SKU]
		if len(l.Allocations) != len(as) {
			rt.Fatalf("reservation %s %s allocations %+v; model %d allocations", got.ID, l.SKU, l.Allocations, len(as))
		}
		for i, a := range l.Allocations {
			w := as[i]
			if a.WarehouseCode != w.wh || a.Quantity != w.qty || a.Open() != w.open || a.Committed != w.done {
				rt.Fatalf("reservation %s %s allocation %d = %+v; model %+v", got.ID, l.SKU, i, a, *w)
			}
		}
	}
}

// check is the invariant run after every action.
func (m *model) check(rt *rapid.T) {
	ctx := rt.Context()
	for _, sku := range m.skus {
		var total int64
		for _, wh := range modelWarehouses {
			k := levelKey{sku, wh}
			l, err := m.st.GetStockLevel(ctx, sku, wh)
			if err != nil {
				rt.Fatalf("GetStockLevel(%s, %s): %v", sku, wh, err)
			}
			wantReserved := m.reserved(k)
			if l.OnHand != m.onHand[k] || l.Reserved != wantReserved {
				rt.Fatalf("%s@%s on_hand %d reserved %d; model on_hand %d reserved %d (sum of open reservations)",
					sku, wh, l.OnHand, l.Reserved, m.onHand[k], wantReserved)
			}
			if l.OnHand < 0 || l.Available() < 0 || l.Oversold() != max(0, wantReserved-m.onHand[k]) {
				rt.Fatalf("%s@%s quantities %+v: negative or oversold beyond the model", sku, wh, l.Quantities)
			}
			total += m.available(k)
		}
		av, _, err := m.svc.CheckAvailability(ctx, inventory.AvailabilityQuery{SKUs: []string{sku}, Channel: "web"})
		if err != nil || len(av) != 1 || av[0].TotalAvailable != total {
			rt.Fatalf("CheckAvailability(%s) = %+v, %v; model total available %d", sku, av, err, total)
		}
	}
	for _, want := range m.res {
		got, err := m.svc.GetReservation(ctx, want.id)
		if err != nil {
			rt.Fatalf("GetReservation(%s): %v", want.id, err)
		}
		m.compareReservation(rt, want, got)
	}
}
