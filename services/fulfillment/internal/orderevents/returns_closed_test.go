package orderevents_test

import (
	"context"
	"database/sql"
	"slices"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/orderevents"
	"github.com/transload/transload/services/fulfillment/internal/store/sqlstore"
	"github.com/transload/transload/services/fulfillment/internal/worker"
)

// cancellingWMS is registeringWMS that also records CancelExpectedReturn
// calls, answering them with cancelErr.
type cancellingWMS struct {
	registeringWMS
	cmu       sync.Mutex
	cancelled []string
	cancelErr error
}

func (w *cancellingWMS) CancelExpectedReturn(_ context.Context, id, _ string) error {
	w.cmu.Lock()
	defer w.cmu.Unlock()
	w.cancelled = append(w.cancelled, id)
	return w.cancelErr
}

func (w *cancellingWMS) cancelledIDs() []string {
	w.cmu.Lock()
	defer w.cmu.Unlock()
	ids := slices.Clone(w.cancelled)
	slices.Sort(ids)
	return ids
}

func closedEvent(rmaID string, previous orderv1.ReturnAuthorization_State, lines ...*orderv1.ReturnLine) *orderv1.ReturnClosedEvent {
	return &orderv1.ReturnClosedEvent{PreviousState: previous, ReturnAuthorization: &orderv1.ReturnAuthorization{
		ReturnAuthorizationId: rmaID, OrderId: "O-1", State: orderv1.ReturnAuthorization_STATE_CLOSED, Lines: lines,
	}}
}

// closedEnv is a migrated store with order O-1 confirmed (line 1 at
// WH-HAM, line 2 at WH-MUC), the authorized and closed return handlers
// and an effect runner over a cancellingWMS.
type closedEnv struct {
	t  *testing.T
	db interface {
		InTx(context.Context, func(*sql.Tx) error) error
	}
	store  *sqlstore.Store
	wms    *cancellingWMS
	runner *worker.EffectRunner
}

func newClosedEnv(t *testing.T) *closedEnv {
	t.Helper()
	db, store := migratedStore(t)
	e := &closedEnv{t: t, db: db, store: store, wms: &cancellingWMS{}}
	e.runner = worker.NewEffectRunner(store, nil, nil, e.wms, worker.EffectRunnerConfig{Common: worker.Common{Logger: discard, Now: now}})
	e.handle(orderevents.Handler(store.Bind, now, discard, nil, orderevents.Routes{}), "ev-c", &orderv1.OrderConfirmedEvent{Order: &orderv1.Order{
		OrderId: "O-1", CustomerId: "C0001", ReservationId: "R-O-1", Lines: []*orderv1.OrderLine{
			{LineId: "1", Sku: "SKU-1", Quantity: 3, Allocations: []*orderv1.LineAllocation{{WarehouseId: "WH-HAM", AllocatedQuantity: 3}}},
			{LineId: "2", Sku: "SKU-2", Quantity: 2, Allocations: []*orderv1.LineAllocation{{WarehouseId: "WH-MUC", AllocatedQuantity: 2}}},
		}}})
	return e
}

func (e *closedEnv) handle(h events.Handler, id string, payload proto.Message) {
	e.t.Helper()
	ctx := e.t.Context()
	if err := e.db.InTx(ctx, func(tx *sql.Tx) error { return h(ctx, tx, events.Event{ID: id, Payload: payload}) }); err != nil {
		e.t.Fatal(err)
	}
}

func (e *closedEnv) authorize(id, rma string) {
	e.handle(orderevents.ReturnsHandler(e.store.Bind, now, discard, nil), id, authorized(rma, "O-1", rmaLines()...))
}

func (e *closedEnv) close(id, rma string, previous orderv1.ReturnAuthorization_State) {
	e.handle(orderevents.ReturnClosedHandler(e.store.Bind, now, discard, nil), id, closedEvent(rma, previous, rmaLines()...))
}

func (e *closedEnv) run() {
	e.t.Helper()
	for range 3 {
		if _, err := e.runner.RunOnce(e.t.Context()); err != nil {
			e.t.Fatal(err)
		}
	}
}

func rmaLines() []*orderv1.ReturnLine {
	return []*orderv1.ReturnLine{
		{LineId: "RL-1", OrderLineId: "1", Sku: "SKU-1", Quantity: 1, Reason: orderv1.ReturnReason_RETURN_REASON_DAMAGED},
		{LineId: "RL-2", OrderLineId: "2", Sku: "SKU-2", Quantity: 1, Reason: orderv1.ReturnReason_RETURN_REASON_OTHER},
	}
}

// A return closed from AUTHORIZED after its expected returns were
// registered is cancelled at the WMS once per warehouse (also when the
// event is delivered again), and the expected returns read cancelled.
func TestReturnClosedCancelsRegisteredExpectedReturns(t *testing.T) {
	t.Parallel()
	e := newClosedEnv(t)
	e.authorize("ev-a", "RMA-1")
	e.run()
	if got := e.wms.ids(); len(got) != 2 {
		t.Fatalf("registered %v, want 2", got)
	}
	e.close("ev-x", "RMA-1", orderv1.ReturnAuthorization_STATE_AUTHORIZED)
	e.close("ev-x-again", "RMA-1", orderv1.ReturnAuthorization_STATE_AUTHORIZED)
	e.run()
	if got, want := e.wms.cancelledIDs(), []string{"RMA-1.WH-HAM", "RMA-1.WH-MUC"}; !slices.Equal(got, want) {
		t.Fatalf("cancelled at the WMS %v, want %v (each once)", got, want)
	}
	var ers []fulfillment.ExpectedReturn
	if err := e.store.InTx(t.Context(), func(tx fulfillment.Tx) error {
		var err error
		ers, err = tx.ExpectedReturnsOf(t.Context(), "RMA-1")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, er := range ers {
		if !er.Cancelled() || !er.CancelTime.Equal(now()) {
			t.Errorf("expected return %s cancel time %v, want %v", er.ID, er.CancelTime, now())
		}
	}
}

// A return closed after a receipt (RECEIVED -> CLOSED, CREDITED ->
// CLOSED) withdraws nothing.
func TestReturnClosedAfterReceiptCancelsNothing(t *testing.T) {
	t.Parallel()
	e := newClosedEnv(t)
	e.authorize("ev-a", "RMA-1")
	e.run()
	e.close("ev-x", "RMA-1", orderv1.ReturnAuthorization_STATE_RECEIVED)
	e.close("ev-y", "RMA-1", orderv1.ReturnAuthorization_STATE_CREDITED)
	e.run()
	if got := e.wms.cancelledIDs(); len(got) != 0 {
		t.Fatalf("cancelled %v, want nothing", got)
	}
}

// A return closed while its registrations are still queued is never
// registered (the queued registration is dropped, or skipped when it
// runs); one closed before its authorization event was consumed records
// its expected returns cancelled, and the authorization registers
// nothing. The WMS's NOT_FOUND to the cancellation of a return it never
// registered finishes the effect.
func TestReturnClosedBeforeRegistration(t *testing.T) {
	t.Parallel()
	e := newClosedEnv(t)
	e.wms.cancelErr = fulfillment.ErrExpectedReturnUnknown
	e.authorize("ev-a1", "RMA-1")
	e.close("ev-x1", "RMA-1", orderv1.ReturnAuthorization_STATE_AUTHORIZED)
	e.close("ev-x2", "RMA-2", orderv1.ReturnAuthorization_STATE_AUTHORIZED)
	e.authorize("ev-a2", "RMA-2")
	e.run()
	if got := e.wms.ids(); len(got) != 0 {
		t.Fatalf("registered %v, want nothing", got)
	}
	if n, err := e.store.CountEffects(t.Context(), fulfillment.EffectPending); err != nil || n != 0 {
		t.Errorf("pending effects %d, %v; want 0", n, err)
	}
	if n, err := e.store.CountEffects(t.Context(), fulfillment.EffectFailed); err != nil || n != 0 {
		t.Errorf("failed effects %d, %v; want 0", n, err)
	}
}
