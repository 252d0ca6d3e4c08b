package worker_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/fulfillmentpb"
	"github.com/transload/transload/services/fulfillment/internal/store/sqlstore"
	"github.com/transload/transload/services/fulfillment/internal/store/storetest"
	"github.com/transload/transload/services/fulfillment/internal/worker"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func newStore(t *testing.T) fulfillment.Store {
	t.Helper()
	s, _ := newStoreDB(t)
	return s
}

// newStoreDB returns a store holding request FR-O-1-WH-HAM (2 × SKU-1 on
// order line 1, acknowledged) and its database.
func newStoreDB(t *testing.T) (fulfillment.Store, *sqldb.DB) {
	t.Helper()
	db := sqldbtest.OpenSQLite(t)
	if err := sqlstore.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	s := sqlstore.New(db)
	r := &fulfillment.Request{
		ID: "FR-O-1-WH-HAM", OrderID: "O-1", CustomerID: "C0001", WarehouseID: "WH-HAM", ReservationID: "R-1",
		State: fulfillment.RequestAcknowledged, CreateTime: t0, UpdateTime: t0,
		Lines: []fulfillment.Line{{OrderLineID: "1", SKU: "SKU-1", Quantity: 2}},
	}
	storetest.Insert(t, s, r)
	return s, db
}

// shipments lists the shipments of an order.
func shipments(t *testing.T, s fulfillment.Store, order string) ([]*fulfillment.Shipment, error) {
	return s.ListShipments(t.Context(), fulfillment.ShipmentQuery{OrderID: order, Page: fulfillment.Page{Limit: 100}})
}

// fakeWMS is an in-memory WMS: an event feed with integer cursors, and
// shipment requests answered by create.
type fakeWMS struct {
	mu     sync.Mutex
	events []*wmsv1.ShipmentEvent
	// returns is the return receipt feed (receipts_test.go).
	returns []*wmsv1.ReturnEvent
	err     error
	create  func(*fulfillment.Request) (fulfillment.WMSAnswer, error)
}

// RegisterExpectedReturn accepts every expected return.
func (f *fakeWMS) RegisterExpectedReturn(context.Context, fulfillment.ExpectedReturn) (fulfillment.WMSAnswer, error) {
	return fulfillment.WMSAnswer{Accepted: true}, nil
}

func (f *fakeWMS) ShipmentEvents(_ context.Context, cursor string, size int) (fulfillment.FeedPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return fulfillment.FeedPage{}, f.err
	}
	pos, end, next := feedPage(cursor, size, len(f.events))
	return fulfillmentpb.FeedPageFromProto(&wmsv1.ListShipmentEventsResponse{
		ShipmentEvents: f.events[pos:end], NextCursor: next, HasMore: end < len(f.events),
	})
}

// feedPage returns the slice [pos:end] of a feed of n events that a read
// of size events from cursor (an index, "" for 0) gets, and the next
// cursor.
func feedPage(cursor string, size, n int) (pos, end int, next string) {
	if cursor != "" {
		pos, _ = strconv.Atoi(cursor)
	}
	end = min(pos+size, n)
	return pos, end, strconv.Itoa(end)
}

func (f *fakeWMS) CreateShipmentRequest(_ context.Context, r *fulfillment.Request) (fulfillment.WMSAnswer, error) {
	return f.create(r)
}

func (f *fakeWMS) CancelShipmentRequest(context.Context, string, string) error { return nil }

func shipEvent(id, request string, state wmsv1.ShipmentRequest_State, qty int64) *wmsv1.ShipmentEvent {
	return &wmsv1.ShipmentEvent{
		EventId: id, ShipmentRequestId: request, WarehouseCode: "WH-HAM", State: state, ShipmentId: "P1",
		Lines:     []*wmsv1.ShipmentEventLine{{LineId: "1", Sku: "SKU-1", Quantity: qty}},
		OccurTime: timestamppb.New(t0),
	}
}

// TestPollerFoldsShippedIntoDelivered: a shipment shipped and delivered in
// one page of the feed is one DELIVERED report to the order service (it
// implies shipped), not a SHIPPED and a DELIVERED call; the inventory
// commit stays. Shipped in one page and delivered in the next, it is two
// reports, in order.
func TestPollerFoldsShippedIntoDelivered(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pageSize int
		want     []bool // Delivered of the pending progress reports, in queue order
	}{
		{"one page", 10, []bool{true}},
		{"two pages", 1, []bool{false, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			delivered := shipEvent("E2", "FR-O-1-WH-HAM", wmsv1.ShipmentRequest_STATE_DELIVERED, 2)
			f := &fakeWMS{events: []*wmsv1.ShipmentEvent{shipEvent("E1", "FR-O-1-WH-HAM", wmsv1.ShipmentRequest_STATE_SHIPPED, 2), delivered}}
			p := worker.NewPoller(s, f, worker.PollerConfig{Source: "wms", PageSize: tc.pageSize,
				Common: worker.Common{Now: func() time.Time { return t0 }}})
			for more := true; more; {
				var err error
				if more, err = p.PollOnce(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			effs, err := s.PendingEffects(t.Context(), 10)
			if err != nil {
				t.Fatal(err)
			}
			var commits int
			var reports []bool
			for _, e := range effs {
				switch {
				case e.Commit != nil:
					commits++
				case e.Progress != nil:
					reports = append(reports, e.Progress.Delivered)
					if len(e.Progress.Lines) != 1 || e.Progress.Lines[0].Quantity != 2 {
						t.Errorf("report lines %+v, want line 1 x 2", e.Progress.Lines)
					}
				}
			}
			if commits != 1 || fmt.Sprint(reports) != fmt.Sprint(tc.want) {
				t.Errorf("%d commits, progress reports (delivered?) %v; want 1 commit and %v", commits, reports, tc.want)
			}
		})
	}
}

func TestPollerRecordsRejectionsAndMovesOn(t *testing.T) {
	s := newStore(t)
	f := &fakeWMS{events: []*wmsv1.ShipmentEvent{
		shipEvent("E1", "FR-unknown", wmsv1.ShipmentRequest_STATE_SHIPPED, 1),
		shipEvent("E2", "FR-O-1-WH-HAM", wmsv1.ShipmentRequest_STATE_SHIPPED, 5), // more than requested
		shipEvent("E3", "FR-O-1-WH-HAM", wmsv1.ShipmentRequest_STATE_SHIPPED, 2),
	}}
	queued := 0
	p := worker.NewPoller(s, f, worker.PollerConfig{Source: "wms", PageSize: 2,
		Common: worker.Common{Now: func() time.Time { return t0 }, EffectsQueued: func() { queued++ }}})
	for more := true; more; {
		var err error
		if more, err = p.PollOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if c, _ := s.Cursor(t.Context(), "wms"); c != "3" {
		t.Fatalf("cursor = %q, want 3", c)
	}
	rej, err := s.RejectedWMSEvents(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rej) != 2 || rej[0].Reason != string(fulfillment.RejectUnknownRequest) || rej[1].Reason != string(fulfillment.RejectQuantityExceedsRequested) {
		t.Fatalf("rejected = %+v", rej)
	}
	list, err := shipments(t, s, "O-1")
	if err != nil || len(list) != 1 || list[0].State != fulfillment.ShipmentShipped {
		t.Fatalf("shipments = %+v, %v", list, err)
	}
	effs, err := s.PendingEffects(t.Context(), 10)
	if err != nil || len(effs) != 2 || queued == 0 {
		t.Fatalf("effects = %+v, %v (queued notified %d)", effs, err, queued)
	}

	// The same id with other content is ignored; a replay of the feed from
	// an old cursor changes nothing.
	changed := proto.Clone(f.events[2]).(*wmsv1.ShipmentEvent)
	changed.State = wmsv1.ShipmentRequest_STATE_DELIVERED
	f.mu.Lock()
	f.events = append(f.events, changed, f.events[2])
	f.mu.Unlock()
	if _, err := p.PollOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	list, _ = shipments(t, s, "O-1")
	if list[0].State != fulfillment.ShipmentShipped || len(list[0].History) != 1 {
		t.Fatalf("shipment changed by a reused or repeated event id: %+v", list[0])
	}
	if effs, _ := s.PendingEffects(t.Context(), 10); len(effs) != 2 {
		t.Fatalf("%d effects after replays, want 2", len(effs))
	}
}

func TestPollerFeedDownKeepsCursor(t *testing.T) {
	s := newStore(t)
	f := &fakeWMS{err: &fulfillment.DependencyError{Dependency: "wms", Err: errors.New("down")}}
	p := worker.NewPoller(s, f, worker.PollerConfig{})
	if _, err := p.PollOnce(t.Context()); err == nil {
		t.Fatal("PollOnce with the feed down returned nil")
	}
	if c, _ := s.Cursor(t.Context(), "wms"); c != "" {
		t.Fatalf("cursor moved to %q", c)
	}
}

// recorder is the inventory and the order service: the first call of each
// key in failOnce fails with its error (lanes run concurrently, so a
// failure meant for one effect is keyed, not taken in call order); other
// calls succeed and are recorded by id.
type recorder struct {
	mu                sync.Mutex
	commits, progress lane
	// restocks and receipts record the return effects (receipts_test.go).
	restocks, receipts lane
	restockCalls       []fulfillment.Restock
	failOnce           map[string]error
}

type lane struct {
	ids []string
}

func (r *recorder) take(l *lane, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err, ok := r.failOnce[id]; ok {
		delete(r.failOnce, id)
		return err
	}
	l.ids = append(l.ids, id)
	return nil
}

func (r *recorder) CommitReservation(_ context.Context, c fulfillment.Commit) error {
	return r.take(&r.commits, c.ShipmentID)
}

func (r *recorder) RecordShipmentProgress(_ context.Context, p fulfillment.Progress) error {
	return r.take(&r.progress, p.EventID)
}

func enqueue(t *testing.T, s fulfillment.Store, effs ...fulfillment.Effect) {
	t.Helper()
	storetest.InTx(t, s, func(tx fulfillment.Tx) error {
		for _, e := range effs {
			if _, err := tx.EnqueueEffect(t.Context(), e); err != nil {
				return err
			}
		}
		return nil
	})
}

func progress(key, order string) fulfillment.Effect {
	return fulfillment.ProgressEffect(fulfillment.Progress{EventID: key, OrderID: order}, t0)
}

func commit(key, order string) fulfillment.Effect {
	return fulfillment.CommitEffect(order, fulfillment.Commit{ShipmentID: key}, t0)
}

func TestEffectRunnerOrderRetryAndRefusal(t *testing.T) {
	s := newStore(t)
	now := t0
	unavailable := &fulfillment.DependencyError{Dependency: "order", Err: errors.New("down")}
	rec := &recorder{failOnce: map[string]error{
		"shipped-A": unavailable,
		"S-A": &fulfillment.DependencyError{Dependency: "inventory", Rejected: true,
			Reason: "ERROR_REASON_RESERVATION_STATE_CONFLICT", Err: errors.New("conflict")},
	}}
	enqueue(t, s, progress("shipped-A", "O-1"), progress("delivered-A", "O-1"), progress("shipped-B", "O-2"), commit("S-A", "O-1"))
	r := worker.NewEffectRunner(s, rec, rec, nil, worker.EffectRunnerConfig{
		Schedule: oneSecond, Common: worker.Common{Now: func() time.Time { return now }}})

	if _, err := r.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	// O-1's first progress failed: its DELIVERED waits; O-2 and the commit
	// lane went ahead; the refused commit is parked, not retried.
	if fmt.Sprint(rec.progress.ids) != "[shipped-B]" || len(rec.commits.ids) != 0 {
		t.Fatalf("after round 1: progress %v commits %v", rec.progress.ids, rec.commits.ids)
	}
	if n, _ := s.CountEffects(t.Context(), fulfillment.EffectFailed); n != 1 {
		t.Fatalf("%d failed effects, want 1", n)
	}
	// Not due yet: nothing happens.
	if _, err := r.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(rec.progress.ids) != 1 {
		t.Fatalf("retried before the backoff: %v", rec.progress.ids)
	}
	now = now.Add(2 * time.Second)
	if _, err := r.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(rec.progress.ids) != "[shipped-B shipped-A delivered-A]" {
		t.Fatalf("after retry: %v", rec.progress.ids)
	}
	if n, _ := s.CountEffects(t.Context(), fulfillment.EffectPending); n != 0 {
		t.Fatalf("%d effects still pending", n)
	}
}

// pendingRequest stores a PENDING request of order at WH-MUC, due at t0.
func pendingRequest(t *testing.T, s fulfillment.Store, order string) *fulfillment.Request {
	t.Helper()
	r := &fulfillment.Request{ID: fulfillment.RequestID(order, "WH-MUC"), OrderID: order, WarehouseID: "WH-MUC", State: fulfillment.RequestPending,
		Lines: []fulfillment.Line{{OrderLineID: "1", SKU: "SKU-1", Quantity: 1}}, CreateTime: t0, UpdateTime: t0, NextAttemptTime: t0}
	storetest.Insert(t, s, r)
	return r
}

// oneSecond retries after a second, always.
var oneSecond = worker.Schedule{Backoff: worker.Backoff{Base: time.Second, Max: time.Second}}

// answering returns a WMS that answers every shipment request with answer
// and err.
func answering(answer fulfillment.WMSAnswer, err error) *fakeWMS {
	return &fakeWMS{create: func(*fulfillment.Request) (fulfillment.WMSAnswer, error) { return answer, err }}
}

func TestDispatcherRejectionFailsRequest(t *testing.T) {
	s := newStore(t)
	r := pendingRequest(t, s, "O-2")
	published := 0
	d := worker.NewDispatcher(s, answering(fulfillment.WMSAnswer{RejectionReason: "UNKNOWN_SKU", RejectionMessage: "SKU-1 unknown"}, nil),
		worker.DispatcherConfig{Common: worker.Common{Now: func() time.Time { return t0 }, Published: func() { published++ }}})
	if _, err := d.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRequest(t.Context(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != fulfillment.RequestFailed || got.AttemptCount != 1 || got.LastError == "" || published != 1 {
		t.Fatalf("request = %+v (published %d)", got, published)
	}
	// A failed request is not sent again.
	if due, _ := s.DueRequests(t.Context(), t0.Add(time.Hour), 10); len(due) != 0 {
		t.Fatalf("failed request still due: %v", due)
	}
}

// TestDispatcherRecordsARoundInOneTransaction: the answers of a round's
// deliveries (accepted, rejected, unavailable) are recorded in one
// transaction, each request with its own outcome.
func TestDispatcherRecordsARoundInOneTransaction(t *testing.T) {
	s := newStore(t)
	txs := &txCounter{Store: s}
	var ids []string
	for i := range 3 {
		ids = append(ids, pendingRequest(t, s, fmt.Sprint("O-D", i)).ID)
	}
	answers := map[string]func() (fulfillment.WMSAnswer, error){
		ids[0]: func() (fulfillment.WMSAnswer, error) {
			return fulfillment.WMSAnswer{Accepted: true, Reference: "W-0"}, nil
		},
		ids[1]: func() (fulfillment.WMSAnswer, error) {
			return fulfillment.WMSAnswer{RejectionReason: "UNKNOWN_SKU", RejectionMessage: "no"}, nil
		},
		ids[2]: func() (fulfillment.WMSAnswer, error) {
			return fulfillment.WMSAnswer{}, &fulfillment.DependencyError{Dependency: "wms", Err: errors.New("down")}
		},
	}
	wms := &fakeWMS{create: func(r *fulfillment.Request) (fulfillment.WMSAnswer, error) { return answers[r.ID]() }}
	d := worker.NewDispatcher(txs, wms, worker.DispatcherConfig{Common: worker.Common{Now: func() time.Time { return t0 }}})
	if _, err := d.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := txs.n.Load(); n != 1 {
		t.Errorf("%d transactions for a round of 3 deliveries, want 1", n)
	}
	for i, want := range []fulfillment.RequestState{fulfillment.RequestAcknowledged, fulfillment.RequestFailed, fulfillment.RequestPending} {
		got, err := s.GetRequest(t.Context(), ids[i])
		if err != nil || got.State != want || got.AttemptCount != 1 {
			t.Errorf("request %s = %+v, %v; want %s after one attempt", ids[i], got, err, want)
		}
	}
}

func TestDispatcherRetryBudget(t *testing.T) {
	s := newStore(t)
	r := pendingRequest(t, s, "O-3")
	now := t0
	d := worker.NewDispatcher(s, answering(fulfillment.WMSAnswer{}, &fulfillment.DependencyError{Dependency: "wms", Err: errors.New("down")}),
		worker.DispatcherConfig{Common: worker.Common{Now: func() time.Time { return now }}, MaxAttempts: 2, Schedule: oneSecond})
	for range 2 {
		if _, err := d.RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Minute)
	}
	got, _ := s.GetRequest(t.Context(), r.ID)
	if got.State != fulfillment.RequestFailed || got.AttemptCount != 2 {
		t.Fatalf("after the budget: %+v", got)
	}
}

func TestBackoffBounds(t *testing.T) {
	b := worker.Backoff{Base: 100 * time.Millisecond, Max: time.Second}
	for attempts, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 10: time.Second} {
		for range 20 {
			if d := b.After(attempts); d < want/2 || d > want {
				t.Fatalf("After(%d) = %v, want in [%v, %v]", attempts, d, want/2, want)
			}
		}
	}
}

func TestPollerRestartsAnExpiredCursor(t *testing.T) {
	s := newStore(t)
	f := &fakeWMS{events: []*wmsv1.ShipmentEvent{shipEvent("E1", "FR-O-1-WH-HAM", wmsv1.ShipmentRequest_STATE_SHIPPED, 2)}}
	p := worker.NewPoller(s, f, worker.PollerConfig{Source: "wms"})
	if _, err := p.PollOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.err = fmt.Errorf("%w: %w", fulfillment.ErrCursorRefused, &fulfillment.DependencyError{Dependency: "wms", Rejected: true,
		Reason: wmsv1.ErrorReason_ERROR_REASON_CURSOR_EXPIRED.String(), Err: errors.New("expired")})
	f.mu.Unlock()
	if more, err := p.PollOnce(t.Context()); err != nil || !more {
		t.Fatalf("PollOnce on an expired cursor = %v, %v; want a restart", more, err)
	}
	if c, _ := s.Cursor(t.Context(), "wms"); c != "" {
		t.Fatalf("cursor = %q, want the feed start", c)
	}
	f.mu.Lock()
	f.err = nil
	f.mu.Unlock()
	if _, err := p.PollOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	list, _ := shipments(t, s, "O-1")
	if len(list) != 1 || len(list[0].History) != 1 {
		t.Fatalf("replayed feed applied again: %+v", list)
	}
	if c, _ := s.Cursor(t.Context(), "wms"); c != "1" {
		t.Fatalf("cursor = %q after the replay", c)
	}
}

// txCounter counts the store's write transactions.
type txCounter struct {
	fulfillment.Store
	n atomic.Int64
}

func (c *txCounter) InTx(ctx context.Context, fn func(tx fulfillment.Tx) error) error {
	c.n.Add(1)
	return c.Store.InTx(ctx, fn)
}

func (c *txCounter) FinishEffects(ctx context.Context, results []fulfillment.EffectResult, now time.Time) error {
	c.n.Add(1)
	return c.Store.FinishEffects(ctx, results, now)
}

func (c *txCounter) RetryEffect(ctx context.Context, id int64, failure string, next time.Time) error {
	c.n.Add(1)
	return c.Store.RetryEffect(ctx, id, failure, next)
}

// TestEffectRunnerFinishesARoundInOneTransaction: the effects a round
// executed are marked done (or parked) in one write, not one per effect;
// only a retry is written on its own.
func TestEffectRunnerFinishesARoundInOneTransaction(t *testing.T) {
	s := newStore(t)
	txs := &txCounter{Store: s}
	rec := &recorder{failOnce: map[string]error{
		"shipped-O-1": &fulfillment.DependencyError{Dependency: "order", Err: errors.New("down")},
		"S-O-0": &fulfillment.DependencyError{Dependency: "inventory", Rejected: true,
			Reason: "ERROR_REASON_RESERVATION_STATE_CONFLICT", Err: errors.New("conflict")},
	}}
	var effs []fulfillment.Effect
	for i := range 4 {
		order := fmt.Sprint("O-", i)
		effs = append(effs, commit("S-"+order, order), progress("shipped-"+order, order), progress("delivered-"+order, order))
	}
	enqueue(t, s, effs...)
	r := worker.NewEffectRunner(txs, rec, rec, nil, worker.EffectRunnerConfig{
		Schedule: oneSecond, Common: worker.Common{Now: func() time.Time { return t0 }}})
	if _, err := r.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	// O-1's SHIPPED failed and holds its DELIVERED back; the first commit
	// was refused and parked; the other 10 effects ran.
	if n := txs.n.Load(); n != 2 {
		t.Errorf("%d writes for a round of 12 effects with one retry, want 2 (the retry, then the finished ones)", n)
	}
	for state, want := range map[fulfillment.EffectState]int{fulfillment.EffectPending: 2, fulfillment.EffectDone: 9, fulfillment.EffectFailed: 1} {
		if n, err := s.CountEffects(t.Context(), state); err != nil || n != want {
			t.Errorf("CountEffects(%s) = %d, %v; want %d", state, n, err, want)
		}
	}
}

// TestPushApplier: a pushed batch applies in one transaction, cursor
// included; a duplicate, a reused id and refused events inside it are
// recorded with their outcomes and do not fail the good ones.
func TestPushApplier(t *testing.T) {
	s := newStore(t)
	pending := pendingRequest(t, s, "O-5")
	txs := &txCounter{Store: s}
	a := worker.NewPushApplier(txs, worker.Common{Now: func() time.Time { return t0 }})
	ship := func(id, request string, qty int64) *fulfillmentv1.WmsEvent {
		return &fulfillmentv1.WmsEvent{EventId: id, OccurTime: timestamppb.New(t0), WarehouseId: "WH-HAM",
			Payload: &fulfillmentv1.WmsEvent_ShipmentUpdate{ShipmentUpdate: &fulfillmentv1.WmsShipmentUpdate{
				FulfillmentRequestId: request, WmsShipmentReference: "P1", State: fulfillmentv1.Shipment_STATE_SHIPPED,
				TrackingNumber: "T1", Lines: []*fulfillmentv1.ShipmentLine{{OrderLineId: "1", Sku: "SKU-1", Quantity: qty}},
			}}}
	}
	evs := []*fulfillmentv1.WmsEvent{
		ship("P-1", "FR-O-1-WH-HAM", 2),
		ship("P-1", "FR-O-1-WH-HAM", 2), // duplicate
		ship("P-1", "FR-O-1-WH-HAM", 1), // id reused
		ship("P-2", "FR-unknown", 1),
		{EventId: "P-3", OccurTime: timestamppb.New(t0), WarehouseId: "WH-MUC",
			Payload: &fulfillmentv1.WmsEvent_FulfillmentAcknowledgement{FulfillmentAcknowledgement: &fulfillmentv1.WmsFulfillmentAcknowledgement{
				FulfillmentRequestId: pending.ID, Accepted: true, WmsReference: "W-5"}}},
		{EventId: "P-4", OccurTime: timestamppb.New(t0), WarehouseId: "WH-MUC",
			Payload: &fulfillmentv1.WmsEvent_ReturnReceipt{ReturnReceipt: &fulfillmentv1.WmsReturnReceipt{ReturnAuthorizationId: "RMA-1", OrderId: "O-1"}}},
	}
	var domainEvs []fulfillment.WMSEvent
	for _, ev := range evs {
		dev, err := fulfillmentpb.WMSEventFromPush(ev)
		if err != nil {
			t.Fatal(err)
		}
		domainEvs = append(domainEvs, dev)
	}
	res, cursor, err := a.Apply(t.Context(), "wms-push", "c-9", domainEvs)
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		Outcome fulfillment.WMSEventOutcome
		Reason  fulfillment.RejectReason
	}
	var got []outcome
	for _, r := range res {
		got = append(got, outcome{r.Outcome, r.Reason})
	}
	want := []outcome{
		{fulfillment.WMSEventApplied, ""},
		{fulfillment.WMSEventDuplicate, ""},
		{fulfillment.WMSEventRejected, fulfillment.RejectEventIDReused},
		{fulfillment.WMSEventRejected, fulfillment.RejectUnknownRequest},
		{fulfillment.WMSEventApplied, ""},
		// A pushed receipt for a return fulfilment never registered.
		{fulfillment.WMSEventRejected, fulfillment.RejectUnknownReturn},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("outcomes (-want +got):\n%s", diff)
	}
	if n := txs.n.Load(); n != 1 {
		t.Errorf("%d transactions for a batch of %d events, want 1", n, len(evs))
	}
	if cursor != "c-9" || res[0].ShipmentID == "" || res[4].RequestID != pending.ID || res[4].OrderID != "O-5" || res[4].ShipmentID != "" {
		t.Fatalf("cursor %q, results %+v %+v", cursor, res[0], res[4])
	}
	r, _ := s.GetRequest(t.Context(), pending.ID)
	if r.State != fulfillment.RequestAcknowledged || r.WMSReference != "W-5" {
		t.Fatalf("acknowledged request = %+v", r)
	}
	if effs, _ := s.PendingEffects(t.Context(), 10); len(effs) != 2 {
		t.Fatalf("%d effects, want commit and progress", len(effs))
	}
}

func TestDispatcherCircuitOpenSpendsNoBudget(t *testing.T) {
	s := newStore(t)
	r := pendingRequest(t, s, "O-6")
	now := t0
	d := worker.NewDispatcher(s, answering(fulfillment.WMSAnswer{}, &fulfillment.DependencyError{Dependency: "wms", CircuitOpen: true}),
		worker.DispatcherConfig{Common: worker.Common{Now: func() time.Time { return now }}, MaxAttempts: 1, Schedule: oneSecond})
	for range 3 {
		if _, err := d.RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Minute)
	}
	got, _ := s.GetRequest(t.Context(), r.ID)
	if got.State != fulfillment.RequestPending || got.AttemptCount != 0 || got.LastError == "" {
		t.Fatalf("after circuit-open refusals: %+v", got)
	}
}

// unreadable is a store whose queued calls cannot be read back.
type unreadable struct{ fulfillment.Store }

func (u unreadable) PendingEffects(ctx context.Context, limit int) ([]fulfillment.Effect, error) {
	effs, err := u.Store.PendingEffects(ctx, limit)
	for i := range effs {
		effs[i].Commit, effs[i].Progress, effs[i].Unreadable = nil, nil, errors.New("unknown payload")
	}
	return effs, err
}

func TestEffectRunnerParksUnreadableEffects(t *testing.T) {
	s := newStore(t)
	enqueue(t, s, progress("shipped-A", "O-1"))
	rec := &recorder{}
	r := worker.NewEffectRunner(unreadable{s}, rec, rec, nil, worker.EffectRunnerConfig{Common: worker.Common{Now: func() time.Time { return t0 }}})
	if _, err := r.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountEffects(t.Context(), fulfillment.EffectFailed); n != 1 || len(rec.progress.ids) != 0 {
		t.Fatalf("%d failed effects, calls %v; want the effect parked, not sent", n, rec.progress.ids)
	}
}

// barrierOrders is an order service whose calls return only once want
// calls are in flight together (or fail after a timeout), and which
// records the reports per order in call order.
type barrierOrders struct {
	mu      sync.Mutex
	want    int
	waiting int
	release chan struct{}
	byOrder map[string][]string
}

func (b *barrierOrders) RecordShipmentProgress(_ context.Context, p fulfillment.Progress) error {
	b.mu.Lock()
	b.byOrder[p.OrderID] = append(b.byOrder[p.OrderID], p.EventID)
	b.waiting++
	if b.waiting == b.want {
		close(b.release)
	}
	b.mu.Unlock()
	select {
	case <-b.release:
		return nil
	case <-time.After(5 * time.Second):
		return errors.New("calls were not concurrent")
	}
}

// TestEffectRunnerRunsLanesConcurrently: the lanes of different orders
// run at the same time (the barrier needs three calls in flight), while
// each order's reports keep their queue order.
func TestEffectRunnerRunsLanesConcurrently(t *testing.T) {
	s := newStore(t)
	orders := &barrierOrders{want: 3, release: make(chan struct{}), byOrder: map[string][]string{}}
	var effs []fulfillment.Effect
	for i := range 3 {
		order := fmt.Sprint("O-", i)
		effs = append(effs, progress("shipped-"+order, order), progress("delivered-"+order, order))
	}
	enqueue(t, s, effs...)
	r := worker.NewEffectRunner(s, &recorder{}, orders, nil, worker.EffectRunnerConfig{
		Schedule: oneSecond, Common: worker.Common{Now: func() time.Time { return t0 }}})
	if _, err := r.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountEffects(t.Context(), fulfillment.EffectDone); n != 6 {
		t.Fatalf("%d effects done, want 6 (calls were not concurrent)", n)
	}
	for i := range 3 {
		order := fmt.Sprint("O-", i)
		if got := fmt.Sprint(orders.byOrder[order]); got != fmt.Sprintf("[shipped-%s delivered-%s]", order, order) {
			t.Errorf("reports of %s in order %s", order, got)
		}
	}
}
