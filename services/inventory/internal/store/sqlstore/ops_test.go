package sqlstore_test

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/structpb"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox/outboxtest"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/fakeclock"
	"github.com/transload/transload/services/inventory/internal/events"
	"github.com/transload/transload/services/inventory/internal/inventory"
	"github.com/transload/transload/services/inventory/internal/store/sqlstore"
	"github.com/transload/transload/services/inventory/internal/store/storetest"
)

// These tests read the outbox table after each operation: the audit
// records and exceptions are there exactly when the change committed.
// refuse makes one statement of the change's transaction fail, after or
// at the audit/exception write, to show that they commit and roll back
// together.

var (
	operator = inventory.Actor{Kind: "operator", ID: "key-ops"}
	shop     = inventory.Actor{Kind: "api_key", ID: "key-shop"}
	wms      = inventory.Actor{Kind: "service", ID: "fulfillment"}
)

// outboxRow is a row of the outbox table with its decoded ops event, if it
// is one.
type outboxRow struct {
	outboxtest.Row
	audit     *opsv1.AuditRecordedEvent
	exception *opsv1.ExceptionRaisedEvent
}

func outboxRows(t *testing.T, db *sqldb.DB) []outboxRow {
	t.Helper()
	var out []outboxRow
	for _, r := range outboxtest.Read(t, db) {
		row := outboxRow{Row: r}
		row.audit, _ = r.Message.(*opsv1.AuditRecordedEvent)
		row.exception, _ = r.Message.(*opsv1.ExceptionRaisedEvent)
		out = append(out, row)
	}
	return out
}

// audit is the gist of an audit record: action, target, actor and the
// named fields of before and after ("" where absent).
type audit struct {
	Action, Target, Actor string
	Before, After         string
}

func audits(rows []outboxRow, field string) []audit {
	var out []audit
	for _, r := range rows {
		if a := r.audit; a != nil {
			out = append(out, audit{
				Action: a.GetAction(), Target: a.GetTarget(), Actor: a.GetActor().GetKind() + ":" + a.GetActor().GetId(),
				Before: value(a.GetBefore(), field), After: value(a.GetAfter(), field),
			})
		}
	}
	return out
}

func exceptions(rows []outboxRow) []*opsv1.ExceptionRaisedEvent {
	var out []*opsv1.ExceptionRaisedEvent
	for _, r := range rows {
		if r.exception != nil {
			out = append(out, r.exception)
		}
	}
	return out
}

// value renders field of s ("" for a missing struct or field); protobuf
// JSON spells int64 fields as strings.
func value(s *structpb.Struct, field string) string {
	v, ok := s.GetFields()[field]
	switch {
	case s == nil:
		return ""
	case !ok:
		return "-"
	}
	switch k := v.GetKind().(type) {
	case *structpb.Value_NumberValue:
		return strconv.FormatFloat(k.NumberValue, 'f', -1, 64)
	case *structpb.Value_StringValue:
		return k.StringValue
	}
	return v.String()
}

// sameBatch fails unless the ops event at index i was written in one
// outbox batch with the domain event before it, of aggregate (typ, id):
// an outbox batch stamps one creation time on all its rows.
func sameBatch(t *testing.T, rows []outboxRow, i int, typ, id string) {
	t.Helper()
	if i < 1 || rows[i-1].AggregateType != typ || rows[i-1].AggregateID != id || rows[i-1].CreatedUnixUS != rows[i].CreatedUnixUS {
		t.Errorf("outbox row %d (%s %s) is not in one batch with a %s %s event before it: %+v", i, rows[i].Subject,
			rows[i].AggregateID, typ, id, rows[max(i-1, 0)].Row)
	}
}

// refuse makes every insert into table matching when (SQL over NEW) fail
// inside the writer's transaction, until the returned function runs.
func refuse(t *testing.T, db *sqldb.DB, table, when string) func() {
	t.Helper()
	ctx := t.Context()
	exec := func(q string) {
		t.Helper()
		if _, err := db.SQL().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if db.Dialect() == sqldb.Postgres {
		exec(`CREATE OR REPLACE FUNCTION refuse_by_test() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'refused by test'; END $$`)
		exec(fmt.Sprintf(`CREATE TRIGGER refuse_by_test BEFORE INSERT ON %s FOR EACH ROW WHEN (%s) EXECUTE FUNCTION refuse_by_test()`, table, when))
		return func() { exec(`DROP TRIGGER refuse_by_test ON ` + table) }
	}
	exec(fmt.Sprintf(`CREATE TRIGGER refuse_by_test BEFORE INSERT ON %s WHEN %s BEGIN SELECT RAISE(ABORT, 'refused by test'); END`, table, when))
	return func() { exec(`DROP TRIGGER refuse_by_test`) }
}

// refuseSubject refuses outbox events of subject.
func refuseSubject(t *testing.T, db *sqldb.DB, subject string) func() {
	return refuse(t, db, "outbox_events", "NEW.subject = '"+subject+"'")
}

type opsEnv struct {
	db    *sqldb.DB
	store inventory.Store
	svc   *inventory.Service
	clock *fakeclock.Clock
}

func newOpsEnv(t *testing.T, db *sqldb.DB, opts ...inventory.Option) opsEnv {
	t.Helper()
	st := open(t, db)
	clock := fakeclock.New(fakeclock.Start)
	n := 0
	opts = append([]inventory.Option{inventory.WithClock(clock.Now), inventory.WithMaxHoldTTL(time.Hour),
		inventory.WithIDs(func() string { n++; return "r" + strconv.Itoa(n) })}, opts...)
	svc := inventory.NewService(st, opts...)
	t.Cleanup(svc.Close)
	if _, err := st.LoadInitial(t.Context(), storetest.Warehouses(), storetest.Snapshot(), clock.Now()); err != nil {
		t.Fatal(err)
	}
	svc.MarkLoaded()
	return opsEnv{db: db, store: st, svc: svc, clock: clock}
}

func (e opsEnv) level(t *testing.T, sku, wh string) inventory.StockLevel {
	t.Helper()
	l, err := e.store.GetStockLevel(t.Context(), sku, wh)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func TestReservationAudit(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		e := newOpsEnv(t, db)
		ctx := t.Context()
		lines := []inventory.ReserveLine{{SKU: storetest.SKUA, Quantity: 2}}
		reserve := func(id string, ttl time.Duration, by inventory.Actor) (inventory.Reservation, bool, error) {
			return e.svc.Reserve(ctx, inventory.ReserveParams{RequestID: id, ReferenceID: "ref-" + id, Channel: "web",
				HoldTTL: ttl, Lines: lines, Actor: by})
		}
		hold, _, err := reserve("h1", 10*time.Minute, shop)
		if err != nil {
			t.Fatal(err)
		}
		must[inventory.Reservation](t, "extend")(e.svc.Extend(ctx, inventory.ExtendParams{ID: hold.ID, RequestID: "x1", TTL: 20 * time.Minute, Actor: shop}))
		must[inventory.Reservation](t, "confirm")(e.svc.Confirm(ctx, inventory.ConfirmParams{ID: hold.ID, RequestID: "c1", Actor: shop}))
		must[inventory.Reservation](t, "commit")(e.svc.Commit(ctx, inventory.CommitParams{ID: hold.ID, RequestID: "cm1", WarehouseCode: "WH-HAM",
			ShipmentID: "s1", Lines: []inventory.CommitLine{{SKU: storetest.SKUA, Quantity: 1}}, Actor: operator}))
		release := inventory.ReleaseParams{ID: hold.ID, RequestID: "rel1", Actor: operator}
		must[inventory.Reservation](t, "release")(e.svc.Release(ctx, release))
		must[inventory.Reservation](t, "release again")(e.svc.Release(ctx, release)) // a replay changes nothing
		if _, _, err := reserve("h2", time.Minute, inventory.Actor{}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(2 * time.Minute)
		if n, err := e.svc.ExpireDue(ctx, 10); err != nil || n != 1 {
			t.Fatalf("ExpireDue = %d, %v", n, err)
		}

		rows := outboxRows(t, db)
		want := []audit{
			{"reservation.create", "reservations/r1", "api_key:key-shop", "", "STATE_HELD"},
			{"reservation.extend", "reservations/r1", "api_key:key-shop", "STATE_HELD", "STATE_HELD"},
			{"reservation.confirm", "reservations/r1", "api_key:key-shop", "STATE_HELD", "STATE_CONFIRMED"},
			{"reservation.commit", "reservations/r1", "operator:key-ops", "STATE_CONFIRMED", "STATE_CONFIRMED"},
			{"reservation.release", "reservations/r1", "operator:key-ops", "STATE_CONFIRMED", "STATE_COMMITTED"},
			{"reservation.create", "reservations/r2", "service:inventory", "", "STATE_HELD"},
			{"reservation.expire", "reservations/r2", "service:inventory", "STATE_HELD", "STATE_EXPIRED"},
		}
		if diff := cmp.Diff(want, audits(rows, "state")); diff != "" {
			t.Errorf("audit records (-want +got):\n%s", diff)
		}
		// The records with a reservation event are in its outbox batch.
		for i, r := range rows {
			switch a := r.audit.GetAction(); a {
			case "reservation.create", "reservation.commit", "reservation.release", "reservation.expire":
				sameBatch(t, rows, i, events.AggregateReservation, r.audit.GetTarget()[len("reservations/"):])
			}
		}
		if got := audits(rows, "etag")[4]; got.Before != "4" || got.After != "5" {
			t.Errorf("release before/after etag = %q/%q; want the reservation before and after (4, 5)", got.Before, got.After)
		}

		// A reservation whose audit record cannot be written is not made;
		// a release whose transaction fails after its audit record leaves
		// no record.
		open, _, err := reserve("o1", 0, shop)
		if err != nil {
			t.Fatal(err)
		}
		before := e.level(t, storetest.SKUA, "WH-HAM")
		n := len(outboxRows(t, db))
		undo := refuseSubject(t, db, eventstreams.AuditRecorded)
		if _, _, err := reserve("o2", 0, shop); err == nil {
			t.Error("Reserve succeeded without its audit record")
		}
		if _, err := e.svc.Release(ctx, inventory.ReleaseParams{ID: open.ID, RequestID: "rel-o1", Actor: shop}); err == nil {
			t.Error("Release succeeded without its audit record")
		}
		undo()
		undo = refuse(t, db, "reservation_requests", "1 = 1")
		if _, err := e.svc.Release(ctx, inventory.ReleaseParams{ID: open.ID, RequestID: "rel-o1b", Actor: shop}); err == nil {
			t.Error("Release succeeded though recording its request failed")
		}
		undo()
		if got := len(outboxRows(t, db)); got != n {
			t.Errorf("failed changes wrote %d outbox rows", got-n)
		}
		if got := e.level(t, storetest.SKUA, "WH-HAM"); got.Reserved != before.Reserved || got.Revision != before.Revision {
			t.Errorf("failed changes moved stock: %+v, was %+v", got, before)
		}
		if r, err := e.svc.GetReservation(ctx, open.ID); err != nil || r.State != inventory.StateConfirmed {
			t.Errorf("reservation after failed releases = %v, %v", r.State, err)
		}
		if _, err := e.svc.GetReservation(ctx, "r4"); !errors.Is(err, inventory.ErrReservationNotFound) {
			t.Errorf("reservation of the failed Reserve: %v", err)
		}
	})
}

func TestStockLevelApplyAudit(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		e := newOpsEnv(t, db)
		ctx := t.Context()
		ev := func(id, sku, wh string, seq int64, kind inventory.StockEventKind, q int64) inventory.StockEvent {
			return inventory.StockEvent{EventID: id, SKU: sku, WarehouseCode: wh, Sequence: seq, Kind: kind, Quantity: q, OccurTime: e.clock.Now()}
		}
		batch := inventory.ApplyStockEventsParams{RequestID: "b1", SourceSystem: "erp", Actor: wms, Events: []inventory.StockEvent{
			ev("e8", storetest.SKUA, "WH-HAM", 8, inventory.KindReceipt, 10),
			ev("e9", storetest.SKUA, "WH-HAM", 9, inventory.KindTransferOut, 3), // same level: one record
			ev("n1", "SKU-NEW", "WH-BER", 1, inventory.KindSetOnHand, 5),        // creates a level
			ev("b7", storetest.SKUB, "WH-HAM", 7, inventory.KindReceipt, 1),     // stale: no change
			ev("b9", storetest.SKUB, "WH-HAM", 9, inventory.KindReceipt, 1),     // buffered: no change
		}}
		must[[]inventory.StockEventResult](t, "apply")(e.svc.ApplyStockEvents(ctx, batch))
		must[[]inventory.StockEventResult](t, "replay")(e.svc.ApplyStockEvents(ctx, batch))
		rows := outboxRows(t, db)
		want := []audit{
			{"stock_level.apply", "warehouses/WH-HAM/stockLevels/SKU-A", "service:fulfillment", "5", "12"},
			{"stock_level.apply", "warehouses/WH-BER/stockLevels/SKU-NEW", "service:fulfillment", "", "5"},
		}
		if diff := cmp.Diff(want, audits(rows, "onHand")); diff != "" {
			t.Errorf("audit records (-want +got):\n%s", diff)
		}
		if got := audits(rows, "revision"); got[0].Before != "1" || got[0].After != "3" {
			t.Errorf("SKU-A@WH-HAM revisions %q -> %q; want the level before and after the whole call (1 -> 3)", got[0].Before, got[0].After)
		}

		// A SHIPMENT committing a reservation audits the commit too; the
		// feed (no actor) acts as the service.
		r, _, err := e.svc.Reserve(ctx, inventory.ReserveParams{RequestID: "res", ReferenceID: "o1", Channel: "web",
			Lines: []inventory.ReserveLine{{SKU: storetest.SKUB, Quantity: 4}}})
		if err != nil {
			t.Fatal(err)
		}
		ship := ev("s1", storetest.SKUB, "WH-HAM", 1, inventory.KindShipment, 4)
		ship.ReservationID, ship.ShipmentID = r.ID, "SHP-1"
		n := len(outboxRows(t, db))
		must[[]inventory.StockEventResult](t, "ship")(e.svc.ApplyStockEvents(ctx, inventory.ApplyStockEventsParams{RequestID: "b2",
			SourceSystem: "wms", Events: []inventory.StockEvent{ship}}))
		rows = outboxRows(t, db)
		want = []audit{
			{"reservation.commit", "reservations/" + r.ID, "service:inventory", "STATE_CONFIRMED", "STATE_COMMITTED"},
			{"stock_level.apply", "warehouses/WH-HAM/stockLevels/SKU-B", "service:inventory", "-", "-"},
		}
		if diff := cmp.Diff(want, audits(rows[n:], "state")); diff != "" {
			t.Errorf("shipment audit records (-want +got):\n%s", diff)
		}

		// A batch whose transaction fails after its audit records leaves
		// none.
		n = len(rows)
		before := e.level(t, storetest.SKUA, "WH-HAM")
		undo := refuse(t, db, "stock_event_batches", "1 = 1")
		if _, err := e.svc.ApplyStockEvents(ctx, inventory.ApplyStockEventsParams{RequestID: "b3", SourceSystem: "erp", Actor: wms,
			Events: []inventory.StockEvent{ev("e10", storetest.SKUA, "WH-HAM", 10, inventory.KindReceipt, 1)}}); err == nil {
			t.Error("ApplyStockEvents succeeded though recording the batch failed")
		}
		undo()
		if got := len(outboxRows(t, db)); got != n {
			t.Errorf("the failed batch wrote %d outbox rows", got-n)
		}
		if got := e.level(t, storetest.SKUA, "WH-HAM"); got.Revision != before.Revision {
			t.Errorf("the failed batch changed stock: %+v", got)
		}
	})
}

// exception is the gist of an exception event.
type exception struct {
	Kind     opsv1.Exception_Kind
	Severity opsv1.Exception_Severity
	Domain   opsv1.Exception_Domain
	Resource string
	Details  map[string]any
}

func exceptionsOf(rows []outboxRow) []exception {
	var out []exception
	for _, x := range exceptions(rows) {
		out = append(out, exception{x.GetKind(), x.GetSeverity(), x.GetDomain(), x.GetResource(), x.GetDetails().AsMap()})
	}
	return out
}

func TestReconciliationExceptionsAndAudit(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		e := newOpsEnv(t, db, inventory.WithVarianceExceptionThreshold(5))
		ctx := t.Context()
		run, err := e.svc.StartReconciliation(ctx, inventory.StartReconciliationParams{
			RequestID: "rec-1", SnapshotSource: "erp", ApplyCorrections: true, SKUs: []string{storetest.SKUA, storetest.SKUB},
			SnapshotTime: e.clock.Now(), Actor: operator,
			Entries: []inventory.SnapshotEntry{
				{SKU: storetest.SKUA, WarehouseCode: "WH-HAM", OnHand: 5, Sequence: 7},   // matches
				{SKU: storetest.SKUA, WarehouseCode: "WH-MUC", OnHand: 6, Sequence: 8},   // -2: below the threshold
				{SKU: storetest.SKUA, WarehouseCode: "WH-BER", OnHand: 90, Sequence: 5},  // snapshot behind: never raised
				{SKU: storetest.SKUB, WarehouseCode: "WH-HAM", OnHand: 107, Sequence: 8}, // +7: MEDIUM
				{SKU: storetest.SKUB, WarehouseCode: "WH-BER", OnHand: 5, Sequence: 1},   // +5, the threshold: MEDIUM
				// SKU-A@WH-OLD (50 on hand) is missing: -50, ten times the threshold: HIGH
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		e.svc.Wait()
		if got, err := e.svc.GetReconciliation(ctx, run.ID); err != nil || got.State != inventory.ReconSucceeded || got.Corrected != 4 {
			t.Fatalf("run = %+v, %v", got, err)
		}
		rows := outboxRows(t, db)
		recon := "reconciliations/" + run.ID
		details := func(sku, wh string, variance float64) map[string]any {
			return map[string]any{"reconciliation": recon, "sku": sku, "warehouse": wh, "variance": variance}
		}
		wantX := []exception{
			{opsv1.Exception_KIND_INVENTORY_VARIANCE, opsv1.Exception_SEVERITY_HIGH, opsv1.Exception_DOMAIN_FULFILLMENT,
				"stockLevels/SKU-A@WH-OLD", details(storetest.SKUA, "WH-OLD", -50)},
			{opsv1.Exception_KIND_INVENTORY_VARIANCE, opsv1.Exception_SEVERITY_MEDIUM, opsv1.Exception_DOMAIN_FULFILLMENT,
				"stockLevels/SKU-B@WH-BER", details(storetest.SKUB, "WH-BER", 5)},
			{opsv1.Exception_KIND_INVENTORY_VARIANCE, opsv1.Exception_SEVERITY_MEDIUM, opsv1.Exception_DOMAIN_FULFILLMENT,
				"stockLevels/SKU-B@WH-HAM", details(storetest.SKUB, "WH-HAM", 7)},
		}
		if diff := cmp.Diff(wantX, exceptionsOf(rows)); diff != "" {
			t.Errorf("exceptions (-want +got):\n%s", diff)
		}
		for i, r := range rows {
			if r.exception != nil {
				sameBatch(t, rows, i, events.AggregateVariance, r.exception.GetAggregateId())
			}
		}
		if diff := cmp.Diff([]audit{{"reconciliation.start", recon, "operator:key-ops", "", "STATE_RUNNING"}},
			audits(rows, "state")[:1]); diff != "" {
			t.Errorf("start audit record (-want +got):\n%s", diff)
		}
		wantA := []audit{
			{"stock_level.correct", "warehouses/WH-MUC/stockLevels/SKU-A", "operator:key-ops", "8", "6"},
			{"stock_level.correct", "warehouses/WH-OLD/stockLevels/SKU-A", "operator:key-ops", "50", "-"},
			{"stock_level.correct", "warehouses/WH-BER/stockLevels/SKU-B", "operator:key-ops", "", "5"},
			{"stock_level.correct", "warehouses/WH-HAM/stockLevels/SKU-B", "operator:key-ops", "100", "107"},
		}
		if diff := cmp.Diff(wantA, audits(rows, "onHand")[1:]); diff != "" {
			t.Errorf("audit records (-want +got):\n%s", diff)
		}

		// A chunk whose exception cannot be written stores nothing: no
		// variance, no correction, no audit record of a correction.
		n := len(rows)
		undo := refuseSubject(t, db, eventstreams.ExceptionRaised)
		run2, err := e.svc.StartReconciliation(ctx, inventory.StartReconciliationParams{
			RequestID: "rec-2", SnapshotSource: "erp", ApplyCorrections: true, SKUs: []string{storetest.SKUA}, WarehouseCodes: []string{"WH-HAM"},
			SnapshotTime: e.clock.Now(), Actor: operator,
			Entries: []inventory.SnapshotEntry{{SKU: storetest.SKUA, WarehouseCode: "WH-HAM", OnHand: 0, Sequence: 9}},
		})
		if err != nil {
			t.Fatal(err)
		}
		e.svc.Wait()
		undo()
		if got, err := e.svc.GetReconciliation(ctx, run2.ID); err != nil || got.State != inventory.ReconFailed || got.Variances != 0 {
			t.Errorf("run with a refused exception = %+v, %v; want FAILED without variances", got, err)
		}
		if vs, err := e.svc.ListVariances(ctx, inventory.VarianceQuery{ReconciliationID: run2.ID, Limit: 10}); err != nil || len(vs) != 0 {
			t.Errorf("variances of the failed chunk = %+v, %v", vs, err)
		}
		if l := e.level(t, storetest.SKUA, "WH-HAM"); l.OnHand != 5 {
			t.Errorf("the failed chunk corrected SKU-A@WH-HAM: %+v", l)
		}
		for _, a := range audits(outboxRows(t, db)[n:], "onHand") {
			if a.Action != "reconciliation.start" {
				t.Errorf("the failed chunk left an audit record: %+v", a)
			}
		}
	})
}

func TestSequenceGapException(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		e := newOpsEnv(t, db, inventory.WithGapTimeout(time.Minute))
		ctx := t.Context()
		gap := func(id, sku string, seq int64) {
			t.Helper()
			must[[]inventory.StockEventResult](t, "apply")(e.svc.ApplyStockEvents(ctx, inventory.ApplyStockEventsParams{RequestID: id,
				SourceSystem: "erp", Events: []inventory.StockEvent{{EventID: id, SKU: sku, WarehouseCode: "WH-HAM", Sequence: seq,
					Kind: inventory.KindReceipt, Quantity: 1, OccurTime: e.clock.Now()}}}))
		}
		raise := func(svc *inventory.Service, want int) {
			t.Helper()
			if n, err := svc.RaiseOverdueGaps(ctx); err != nil || n != want {
				t.Errorf("RaiseOverdueGaps = %d, %v; want %d", n, err, want)
			}
		}
		gap("a9", storetest.SKUA, 9) // the snapshot was at 7: 8 is missing
		e.clock.Advance(time.Minute + time.Second)
		raise(e.svc, 1)
		want := []exception{{opsv1.Exception_KIND_STOCK_SEQUENCE_GAP, opsv1.Exception_SEVERITY_MEDIUM, opsv1.Exception_DOMAIN_FULFILLMENT,
			"stockLevels/SKU-A@WH-HAM", map[string]any{"sku": "SKU-A", "warehouse": "WH-HAM", "sourceSystem": "erp",
				"expectedSequence": float64(8), "receivedSequence": float64(9)}}}
		if diff := cmp.Diff(want, exceptionsOf(outboxRows(t, db))); diff != "" {
			t.Errorf("exceptions (-want +got):\n%s", diff)
		}

		// After a restart (a new store and service on the database) the
		// gap is not raised again.
		restarted := inventory.NewService(sqlstore.New(db), inventory.WithClock(e.clock.Now), inventory.WithGapTimeout(time.Minute))
		t.Cleanup(restarted.Close)
		restarted.MarkLoaded()
		raise(restarted, 0)

		// A gap whose exception cannot be written is not remembered: it
		// is raised by the next check.
		gap("b9", storetest.SKUB, 9)
		e.clock.Advance(time.Hour)
		undo := refuseSubject(t, db, eventstreams.ExceptionRaised)
		if n, err := restarted.RaiseOverdueGaps(ctx); err == nil {
			t.Errorf("RaiseOverdueGaps = %d without its exception", n)
		}
		undo()
		raise(restarted, 1)
		if got := len(exceptions(outboxRows(t, db))); got != 2 {
			t.Errorf("%d exceptions, want 2", got)
		}
	})
}
