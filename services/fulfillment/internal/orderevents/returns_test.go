package orderevents_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox/outboxtest"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/orderevents"
	"github.com/transload/transload/services/fulfillment/internal/store/sqlstore"
	"github.com/transload/transload/services/fulfillment/internal/worker"
)

// registeringWMS records RegisterExpectedReturn calls and answers them
// with answer (accepted when nil); its other methods are not used.
type registeringWMS struct {
	fulfillment.WMS
	mu     sync.Mutex
	calls  []fulfillment.ExpectedReturn
	answer func(fulfillment.ExpectedReturn) (fulfillment.WMSAnswer, error)
}

func (w *registeringWMS) RegisterExpectedReturn(_ context.Context, er fulfillment.ExpectedReturn) (fulfillment.WMSAnswer, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, er)
	if w.answer != nil {
		return w.answer(er)
	}
	return fulfillment.WMSAnswer{Accepted: true, Reference: "IB-" + er.ID}, nil
}

func (w *registeringWMS) ids() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ids []string
	for _, c := range w.calls {
		ids = append(ids, c.ID)
	}
	slices.Sort(ids)
	return ids
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// now is the fixed clock of these tests.
func now() time.Time { return time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC) }

// migratedStore returns a migrated SQLite database and its store.
func migratedStore(t *testing.T) (*sqldb.DB, *sqlstore.Store) {
	t.Helper()
	db := sqldbtest.OpenSQLite(t)
	if err := sqlstore.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	return db, sqlstore.New(db)
}

func authorized(rmaID, orderID string, lines ...*orderv1.ReturnLine) *orderv1.ReturnAuthorizedEvent {
	return &orderv1.ReturnAuthorizedEvent{ReturnAuthorization: &orderv1.ReturnAuthorization{
		ReturnAuthorizationId: rmaID, OrderId: orderID, State: orderv1.ReturnAuthorization_STATE_AUTHORIZED, Lines: lines,
	}}
}

// An authorized return whose lines two warehouses shipped becomes one
// expected return per warehouse, each registered with the WMS once by the
// effect runner, also when the event is delivered again; the WMS gets the
// SKUs and quantities of the RMA lines under the RMA's line ids.
func TestReturnAuthorizedRegistersOneExpectedReturnPerWarehouseOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, store := migratedStore(t)
	confirm := orderevents.Handler(store.Bind, now, discard, nil, orderevents.Routes{})
	order := &orderv1.Order{OrderId: "O-1", CustomerId: "C0001", ReservationId: "R-O-1", Lines: []*orderv1.OrderLine{
		{LineId: "1", Sku: "SKU-1", Quantity: 3, Allocations: []*orderv1.LineAllocation{{WarehouseId: "WH-HAM", AllocatedQuantity: 3}}},
		{LineId: "2", Sku: "SKU-2", Quantity: 2, Allocations: []*orderv1.LineAllocation{{WarehouseId: "WH-MUC", AllocatedQuantity: 2}}},
	}}
	if err := db.InTx(ctx, func(tx *sql.Tx) error {
		return confirm(ctx, tx, events.Event{ID: "ev-c", Payload: &orderv1.OrderConfirmedEvent{Order: order}})
	}); err != nil {
		t.Fatal(err)
	}

	woken := 0
	returns := orderevents.ReturnsHandler(store.Bind, now, discard, func() { woken++ })
	ev := authorized("RMA-1", "O-1",
		&orderv1.ReturnLine{LineId: "RL-1", OrderLineId: "1", Sku: "SKU-1", Quantity: 1, Reason: orderv1.ReturnReason_RETURN_REASON_DAMAGED},
		&orderv1.ReturnLine{LineId: "RL-2", OrderLineId: "2", Quantity: 2, Reason: orderv1.ReturnReason_RETURN_REASON_OTHER})
	for _, id := range []string{"ev-r1", "ev-r1-again"} {
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return returns(ctx, tx, events.Event{ID: id, Payload: ev}) }); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := store.CountEffects(ctx, fulfillment.EffectPending); err != nil || n != 2 {
		t.Fatalf("pending effects = %d, %v; want 2 (one per warehouse, the redelivery queues nothing)", n, err)
	}

	wms := &registeringWMS{}
	runner := worker.NewEffectRunner(store, nil, nil, wms, worker.EffectRunnerConfig{Common: worker.Common{Logger: discard, Now: now}})
	if _, err := runner.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := runner.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := wms.ids(), []string{"RMA-1.WH-HAM", "RMA-1.WH-MUC"}; !slices.Equal(got, want) {
		t.Fatalf("registered %v, want %v (each once)", got, want)
	}
	for _, c := range wms.calls {
		if c.ReturnAuthorizationID != "RMA-1" || c.OrderID != "O-1" || len(c.Lines) != 1 {
			t.Errorf("registered %+v", c)
			continue
		}
		l := c.Lines[0]
		switch c.WarehouseID {
		case "WH-HAM":
			if l.LineID != "RL-1" || l.OrderLineID != "1" || l.SKU != "SKU-1" || l.Quantity != 1 || l.Reason != "RETURN_REASON_DAMAGED" {
				t.Errorf("WH-HAM line %+v", l)
			}
		case "WH-MUC":
			// The SKU comes from the request when the RMA line has none.
			if l.LineID != "RL-2" || l.SKU != "SKU-2" || l.Quantity != 2 {
				t.Errorf("WH-MUC line %+v", l)
			}
		default:
			t.Errorf("registered with warehouse %s", c.WarehouseID)
		}
	}
	if n, err := store.CountEffects(ctx, fulfillment.EffectDone); err != nil || n != 2 {
		t.Fatalf("done effects = %d, %v; want 2", n, err)
	}
	// The expected return is kept for matching receipts to the RMA.
	err := store.InTx(ctx, func(tx fulfillment.Tx) error {
		er, ok, err := tx.ExpectedReturn(ctx, "RMA-1.WH-MUC")
		if err != nil || !ok || er.ReturnAuthorizationID != "RMA-1" || er.Lines[0].OrderLineID != "2" {
			return errors.Join(err, errors.New("expected return RMA-1.WH-MUC not recorded as sent"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A WMS that refuses an expected return parks its effect as failed (a
// refusal is final for the id) and raises a WMS_REJECTION exception; a WMS
// that is down leaves it pending for a retry.
func TestExpectedReturnRefusedIsParkedUnavailableIsRetried(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, store := migratedStore(t)
	for _, er := range []fulfillment.ExpectedReturn{
		{ID: "RMA-REFUSED", ReturnAuthorizationID: "RMA-REFUSED", OrderID: "O-1", WarehouseID: "WH-NOWHERE", Lines: []fulfillment.ReturnLine{{LineID: "1", SKU: "S", Quantity: 1}}},
		{ID: "RMA-DOWN", ReturnAuthorizationID: "RMA-DOWN", OrderID: "O-2", WarehouseID: "WH-HAM", Lines: []fulfillment.ReturnLine{{LineID: "1", SKU: "S", Quantity: 1}}},
	} {
		err := store.InTx(ctx, func(tx fulfillment.Tx) error {
			_, err := tx.EnqueueEffect(ctx, fulfillment.RegisterReturnEffect(er, now()))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	wms := &registeringWMS{answer: func(er fulfillment.ExpectedReturn) (fulfillment.WMSAnswer, error) {
		if er.ID == "RMA-DOWN" {
			return fulfillment.WMSAnswer{}, &fulfillment.DependencyError{Dependency: "wms", Err: errors.New("connection refused")}
		}
		return fulfillment.WMSAnswer{RejectionReason: "EXPECTED_RETURN_REJECTION_REASON_UNKNOWN_WAREHOUSE"}, nil
	}}
	runner := worker.NewEffectRunner(store, nil, nil, wms, worker.EffectRunnerConfig{Common: worker.Common{Logger: discard, Now: now}})
	if _, err := runner.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	failed, err := store.CountEffects(ctx, fulfillment.EffectFailed)
	if err != nil {
		t.Fatal(err)
	}
	pending, err := store.CountEffects(ctx, fulfillment.EffectPending)
	if err != nil {
		t.Fatal(err)
	}
	if failed != 1 || pending != 1 {
		t.Fatalf("failed = %d, pending = %d; want the refusal parked and the outage pending", failed, pending)
	}
	effs, err := store.PendingEffects(ctx, 10)
	if err != nil || len(effs) != 1 || effs[0].Key != "RMA-DOWN" || effs[0].Attempts != 1 || !effs[0].NextAttemptAt.After(now()) {
		t.Fatalf("pending = %+v, %v; want RMA-DOWN with one attempt and a later retry", effs, err)
	}
	// The refusal is on the exception desk; the outage is not.
	rows := outboxtest.Read(t, db, eventstreams.ExceptionRaised)
	if len(rows) != 1 {
		t.Fatalf("%d exceptions, want the refusal's", len(rows))
	}
	exc := rows[0].Message.(*opsv1.ExceptionRaisedEvent)
	if exc.GetKind() != opsv1.Exception_KIND_WMS_REJECTION || exc.GetResource() != "returnAuthorizations/RMA-REFUSED" ||
		exc.GetDetails().AsMap()["wmsCode"] != "EXPECTED_RETURN_REJECTION_REASON_UNKNOWN_WAREHOUSE" {
		t.Errorf("exception %v", exc)
	}
}

// A return of an order whose lines fulfilment never handled has no
// warehouse to go back to: the event is dead-lettered at once.
func TestReturnOfUnknownOrderIsPermanent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, store := migratedStore(t)
	h := orderevents.ReturnsHandler(store.Bind, nil, discard, nil)
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		return h(ctx, tx, events.Event{ID: "ev", Payload: authorized("RMA-9", "O-9", &orderv1.ReturnLine{OrderLineId: "1", Quantity: 1})})
	})
	if !events.IsPermanent(err) || !errors.Is(err, fulfillment.ErrInvalidArgument) {
		t.Fatalf("err = %v, want a permanent invalid-argument error", err)
	}
}
