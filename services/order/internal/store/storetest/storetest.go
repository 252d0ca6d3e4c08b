// Package storetest is the conformance suite every order.Store
// implementation passes (sqlstore on SQLite and on PostgreSQL).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.opentelemetry.io/otel/trace"

	"github.com/transload/transload/services/order/internal/order"
)

// Harness is what the suite needs from an engine.
type Harness struct {
	// New returns an empty store.
	New func(t *testing.T) order.Store
	// Events returns the subjects of the outbox events stored for an
	// order, in sequence order, with their per-aggregate sequences.
	Events func(t *testing.T, s order.Store, orderID string) []Event
	// OpsEvents returns the exceptions and audit records stored in the
	// outbox, in write order.
	OpsEvents func(t *testing.T, s order.Store) []OpsEvent
}

// Event is an outbox row as the suite sees it.
type Event struct {
	Subject  string
	Sequence int64
}

// OpsEvent is an exception or audit record in the outbox as the suite sees
// it.
type OpsEvent struct {
	// Subject is transload.ops.exception_raised or
	// transload.ops.audit_recorded.
	Subject string
	// Key is the exception's resource or the audit record's target.
	Key string
	// What is the exception's kind (e.g. "KIND_ERP_REJECTION") or the
	// audit record's action.
	What string
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	t.Run("Claims", func(t *testing.T) { t.Parallel(); testClaims(t, h) })
	t.Run("ConcurrentClaims", func(t *testing.T) { t.Parallel(); testConcurrentClaims(t, h) })
	t.Run("CreateAndGet", func(t *testing.T) { t.Parallel(); testCreateAndGet(t, h) })
	t.Run("CreateWithLostClaim", func(t *testing.T) { t.Parallel(); testCreateLostClaim(t, h) })
	t.Run("List", func(t *testing.T) { t.Parallel(); testList(t, h) })
	t.Run("UpdateOrder", func(t *testing.T) { t.Parallel(); testUpdate(t, h) })
	t.Run("Queue", func(t *testing.T) { t.Parallel(); testQueue(t, h) })
	t.Run("QueueKeepsTrace", func(t *testing.T) { t.Parallel(); testQueueKeepsTrace(t, h) })
	t.Run("StartSubmission", func(t *testing.T) { t.Parallel(); testStartSubmission(t, h) })
	t.Run("StartSubmissionsAndAnswers", func(t *testing.T) { t.Parallel(); testStartSubmissionsAndAnswers(t, h) })
	t.Run("UpdateOrderFrom", func(t *testing.T) { t.Parallel(); testUpdateOrderFrom(t, h) })
	t.Run("Customers", func(t *testing.T) { t.Parallel(); testCustomers(t, h) })
	t.Run("AbandonedClaims", func(t *testing.T) { t.Parallel(); testAbandoned(t, h) })
	t.Run("Leases", func(t *testing.T) { t.Parallel(); testLeases(t, h) })
	t.Run("PurgeKeys", func(t *testing.T) { t.Parallel(); testPurge(t, h) })
	t.Run("OpsEventsWithChanges", func(t *testing.T) { t.Parallel(); testOpsEvents(t, h) })
	t.Run("ReapClaim", func(t *testing.T) { t.Parallel(); testReapClaim(t, h) })
	t.Run("QueueOperations", func(t *testing.T) { t.Parallel(); testQueueOperations(t, h) })
	t.Run("QueueFailureRaises", func(t *testing.T) { t.Parallel(); testQueueFailureRaises(t, h) })
	runPosting(t, h)
}

func testLeases(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := t.Context()
	acquire := func(holder string, now time.Time, want bool) {
		t.Helper()
		got, err := s.AcquireLease(ctx, "erp-queue", holder, now, now.Add(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("AcquireLease(%s at %v) = %v, want %v", holder, now.Sub(t0), got, want)
		}
	}
	acquire("a", t0, true)
	acquire("b", t0.Add(time.Second), false)    // a's lease runs
	acquire("a", t0.Add(5*time.Second), true)   // a renews until +15s
	acquire("b", t0.Add(12*time.Second), false) // still a's
	acquire("b", t0.Add(16*time.Second), true)  // a's lease ended
	acquire("a", t0.Add(17*time.Second), false) // now b's
	if ok, err := s.AcquireLease(ctx, "other", "a", t0, t0.Add(time.Second)); err != nil || !ok {
		t.Fatalf("independent lease: %v %v", ok, err)
	}
}

func testPurge(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := t.Context()
	create(t, s, NewOrder("O-p", "C0001", t0)) // completes claim req-O-p
	pending := claim("still-running", "h", time.Now().Add(time.Hour))
	mustClaim(t, s, pending)
	n, err := s.PurgeIdempotencyKeys(ctx, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("purged %d keys, want 1 (the completed one)", n)
	}
	if res := mustClaim(t, s, pending); res.Status != order.ClaimPending {
		t.Errorf("pending claim after purge = %+v", res)
	}
	c := claim("req-O-p", "h", time.Now().Add(time.Minute))
	c.OrderID = "O-new"
	if res := mustClaim(t, s, c); !res.Acquired || res.OrderID != "O-new" {
		t.Errorf("purged key is not free again: %+v", res)
	}
}

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// NewOrder returns a valid order fixture.
func NewOrder(id, customer string, created time.Time) *order.Order {
	return &order.Order{
		ID: id, CustomerID: customer, Channel: "web", Currency: "EUR",
		ShipTo: order.Address{Recipient: "ACME", Lines: []string{"Hafenstr. 1"}, Locality: "Hamburg", PostalCode: "20457", RegionCode: "DE"},
		Lines: []order.Line{
			{ID: "1", SKU: "SKU-00001", Quantity: 5, Unit: "EA", UnitPriceMinor: 1000, ExtendedMinor: 5000, PriceRuleID: "priceLists/web/prices/SKU-00001", PriceQuoteID: "q1",
				Allocations: []order.Allocation{{WarehouseID: "WH-HAM", Allocated: 3}, {WarehouseID: "WH-MUC", Allocated: 2}}},
			{ID: "2", SKU: "SKU-00002", Quantity: 1, UnitPriceMinor: 250, ExtendedMinor: 250,
				Allocations: []order.Allocation{{WarehouseID: "WH-HAM", Allocated: 1}}},
		},
		SubtotalMinor: 5250, TotalMinor: 5250, State: order.StateAcceptedPendingERP,
		CreateRequestID: "req-" + id, CustomerPONumber: "PO-1", ReservationID: "res-" + id, Notes: "ring twice",
		ERP:       order.ERPSubmission{NextAttemptAt: created},
		CreatedAt: created, UpdatedAt: created,
		History: []order.StateChange{{From: order.StateUnspecified, To: order.StateAcceptedPendingERP, At: created,
			Actor: order.Actor{Kind: "api_key", ID: "web"}, CorrelationID: "corr-1"}},
	}
}

func claim(id string, hash string, lease time.Time) order.Claim {
	return order.Claim{Kind: order.KindCreateOrder, RequestID: id, PayloadHash: hash, Owner: "owner-" + hash + fmt.Sprint(lease.UnixNano()),
		LeaseUntil: lease, OrderID: "O-" + id}
}

func mustClaim(t *testing.T, s order.Store, c order.Claim) order.ClaimResult {
	t.Helper()
	res, err := s.ClaimRequest(t.Context(), c)
	if err != nil {
		t.Fatalf("ClaimRequest(%s): %v", c.RequestID, err)
	}
	return res
}

// create claims and stores o.
func create(t *testing.T, s order.Store, o *order.Order) {
	t.Helper()
	createIn(t.Context(), t, s, o)
}

// createIn creates o with ctx, e.g. one carrying the request's span.
func createIn(ctx context.Context, t *testing.T, s order.Store, o *order.Order) {
	t.Helper()
	c := claim(o.CreateRequestID, "h", time.Now().Add(time.Minute))
	c.OrderID = o.ID
	res := mustClaim(t, s, c)
	if !res.Acquired {
		t.Fatalf("claim for %s not acquired: %+v", o.ID, res)
	}
	ref := order.ClaimRef{Kind: c.Kind, RequestID: c.RequestID, Owner: c.Owner}
	if err := s.CreateOrder(ctx, ref, o, accepted(o)); err != nil {
		t.Fatalf("CreateOrder(%s): %v", o.ID, err)
	}
}

// accepted is the effects of creating o: its OrderAccepted event and its
// order.create audit record.
func accepted(o *order.Order) order.Effects {
	return order.Effects{
		Events: []order.Event{{Type: order.EventAccepted, Order: o.Clone()}},
		Audits: []order.Audit{{Actor: order.Actor{Kind: "api_key", ID: "web"}, Action: order.AuditOrderCreate,
			Target: order.OrderName(o.ID), After: o.Clone(), OccurredAt: o.CreatedAt}},
	}
}

func testClaims(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := t.Context()
	live := time.Now().Add(time.Minute)
	c := claim("r1", "hash-a", live)
	res := mustClaim(t, s, c)
	if !res.Acquired || res.TakenOver || res.OrderID != "O-r1" {
		t.Fatalf("first claim = %+v, want acquired with O-r1", res)
	}
	other := c
	other.Owner, other.OrderID = "someone-else", "O-other"
	if res := mustClaim(t, s, other); res.Acquired || res.Status != order.ClaimPending || res.OrderID != "O-r1" {
		t.Fatalf("duplicate while pending = %+v, want pending, not acquired, O-r1", res)
	}
	diff := c
	diff.PayloadHash = "hash-b"
	if _, err := s.ClaimRequest(ctx, diff); !errors.Is(err, order.ErrIdempotencyKeyReused) {
		t.Fatalf("different payload: err = %v, want ErrIdempotencyKeyReused", err)
	}
	ref := order.ClaimRef{Kind: c.Kind, RequestID: c.RequestID, Owner: c.Owner}
	// Expire the lease: another caller takes over and keeps the order id.
	if err := s.ExtendClaim(ctx, ref, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	res = mustClaim(t, s, other)
	if !res.Acquired || !res.TakenOver || res.OrderID != "O-r1" {
		t.Fatalf("claim after lease expiry = %+v, want taken over with O-r1", res)
	}
	// The old owner lost it.
	for name, err := range map[string]error{
		"ExtendClaim": s.ExtendClaim(ctx, ref, live),
		"DeleteClaim": s.DeleteClaim(ctx, ref),
		"FailClaim":   s.FailClaim(ctx, ref, order.Failure{Kind: "x"}),
	} {
		if !errors.Is(err, order.ErrClaimLost) {
			t.Errorf("%s by the old owner: err = %v, want ErrClaimLost", name, err)
		}
	}
	// The new owner stores a failure; replays get it back.
	newRef := order.ClaimRef{Kind: c.Kind, RequestID: c.RequestID, Owner: other.Owner}
	f := order.Failure{Kind: "out_of_stock", Meta: map[string]string{"sku": "SKU-00500", "requested": "11", "available": "10"}}
	if err := s.FailClaim(ctx, newRef, f); err != nil {
		t.Fatal(err)
	}
	res = mustClaim(t, s, claim("r1", "hash-a", live))
	if res.Acquired || res.Status != order.ClaimFailed || res.Failure == nil {
		t.Fatalf("claim after failure = %+v, want failed with the failure", res)
	}
	if diff := cmp.Diff(f, *res.Failure); diff != "" {
		t.Errorf("stored failure (-want +got):\n%s", diff)
	}
	// A deleted claim frees the request id for a fresh start.
	c2 := claim("r2", "h", live)
	mustClaim(t, s, c2)
	if err := s.DeleteClaim(ctx, order.ClaimRef{Kind: c2.Kind, RequestID: c2.RequestID, Owner: c2.Owner}); err != nil {
		t.Fatal(err)
	}
	c2b := c2
	c2b.Owner, c2b.OrderID = "fresh", "O-fresh"
	if res := mustClaim(t, s, c2b); !res.Acquired || res.TakenOver || res.OrderID != "O-fresh" {
		t.Fatalf("claim after delete = %+v, want a fresh claim", res)
	}
}

func testConcurrentClaims(t *testing.T, h Harness) {
	s := h.New(t)
	const n = 20
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		acquired int
		orderIDs = map[string]bool{}
	)
	for i := range n {
		wg.Go(func() {
			c := claim("same", "h", time.Now().Add(time.Minute))
			c.Owner, c.OrderID = fmt.Sprintf("owner-%d", i), fmt.Sprintf("O-%d", i)
			res, err := s.ClaimRequest(context.Background(), c)
			if err != nil {
				t.Errorf("claim %d: %v", i, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if res.Acquired {
				acquired++
			}
			orderIDs[res.OrderID] = true
		})
	}
	wg.Wait()
	if acquired != 1 || len(orderIDs) != 1 {
		t.Fatalf("%d concurrent claims: %d acquired, order ids %v; want exactly 1 and one id", n, acquired, orderIDs)
	}
}

var cmpOrder = cmp.Options{
	cmpopts.EquateEmpty(),
	cmpopts.IgnoreFields(order.Order{}, "Version"),
}

func testCreateAndGet(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := t.Context()
	o := NewOrder("O-1", "C0001", t0)
	create(t, s, o)
	got, err := s.GetOrder(ctx, "O-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(o, got, cmpOrder); diff != "" {
		t.Errorf("GetOrder (-want +got):\n%s", diff)
	}
	if got.Version != 1 {
		t.Errorf("version = %d, want 1", got.Version)
	}
	if got.PromotionCodes != nil || got.AppliedPromotions != nil {
		t.Errorf("order without coupons reads promotions %q / %q", got.PromotionCodes, got.AppliedPromotions)
	}
	if _, err := s.GetOrder(ctx, "O-missing"); !errors.Is(err, order.ErrNotFound) {
		t.Errorf("GetOrder(missing) err = %v, want ErrNotFound", err)
	}
	res := mustClaim(t, s, claim(o.CreateRequestID, "h", time.Now().Add(time.Minute)))
	if res.Acquired || res.Status != order.ClaimCompleted || res.OrderID != "O-1" {
		t.Errorf("claim after create = %+v, want completed with O-1", res)
	}
	q, err := s.NextQueueEntries(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 1 || q[0].OrderID != "O-1" || q[0].Action != order.ActionSubmit || q[0].CustomerID != "C0001" {
		t.Errorf("queue after create = %+v, want one submit entry for O-1", q)
	}
	if evs := h.Events(t, s, "O-1"); len(evs) != 1 || evs[0].Subject != "transload.order.accepted" || evs[0].Sequence != 1 {
		t.Errorf("events after create = %+v, want one transload.order.accepted with sequence 1", evs)
	}
	// Coupons (issue #11, migration 0011): codes and applied promotions
	// are stored with the order and read back in order.
	coupon := NewOrder("O-coupon", "C0001", t0)
	coupon.CreateRequestID = "req-O-coupon"
	coupon.PromotionCodes = []string{"WELCOME10", "SPRING-5"}
	coupon.AppliedPromotions = []string{"promotions/welcome10", "promotions/auto-b"}
	create(t, s, coupon)
	if got, err := s.GetOrder(ctx, "O-coupon"); err != nil {
		t.Fatal(err)
	} else if diff := cmp.Diff(coupon, got, cmpOrder); diff != "" {
		t.Errorf("GetOrder with coupons (-want +got):\n%s", diff)
	}
}

// testStartSubmission: starting a submission counts the attempt and
// returns the order in one transaction; an order that no longer waits for
// the ERP has its entry dropped, an entry that became a cancellation is
// left alone, and a gone entry is ErrNotFound.
func testStartSubmission(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := t.Context()
	for _, id := range []string{"O-s1", "O-s2", "O-s3"} {
		create(t, s, NewOrder(id, "C0001", t0))
	}
	q, err := s.NextQueueEntries(ctx, 10)
	if err != nil || len(q) != 3 {
		t.Fatalf("queue = %+v, %v", q, err)
	}
	at := t0.Add(time.Minute)
	o, err := s.StartSubmission(ctx, q[0].Seq, at, at.Add(15*time.Second))
	if err != nil || o == nil || o.ID != "O-s1" || len(o.Lines) == 0 || o.ERP.Attempts != 1 || !o.ERP.LastAttemptAt.Equal(at) {
		t.Fatalf("StartSubmission = %+v, %v; want O-s1 with its lines after 1 attempt at %v", o, err, at)
	}
	stored, _ := s.GetOrder(ctx, "O-s1")
	e, _ := s.GetQueueEntry(ctx, "O-s1")
	if stored.ERP.Attempts != 1 || !stored.ERP.LastAttemptAt.Equal(at) || e.Attempts != 1 || !e.LeaseUntil.Equal(at.Add(15*time.Second)) {
		t.Errorf("after StartSubmission: order %+v, entry %+v", stored.ERP, e)
	}
	// O-s2 was confirmed by an earlier answer: its entry goes.
	confirm := func(o *order.Order) (order.Effects, error) {
		o.State = order.StateConfirmed
		return order.Effects{}, nil
	}
	if _, err := s.UpdateOrder(ctx, "O-s2", nil, confirm); err != nil {
		t.Fatal(err)
	}
	if o, err := s.StartSubmission(ctx, q[1].Seq, at, at); o != nil || err != nil {
		t.Errorf("StartSubmission of a confirmed order = %+v, %v; want nil, nil", o, err)
	}
	if _, err := s.GetQueueEntry(ctx, "O-s2"); !errors.Is(err, order.ErrQueueEntryNotFound) {
		t.Errorf("entry of a confirmed order: %v, want it dropped", err)
	}
	if _, err := s.StartSubmission(ctx, q[1].Seq, at, at); !errors.Is(err, order.ErrNotFound) {
		t.Errorf("StartSubmission of a gone entry: %v, want ErrNotFound", err)
	}
	// O-s1, tried once, is cancelled: its entry becomes a cancellation,
	// which StartSubmission leaves to the cancellation path.
	cancel := func(o *order.Order) (order.Effects, error) {
		o.State = order.StateCancelled
		return order.Effects{ERPQueue: order.QueueCancel}, nil
	}
	if _, err := s.UpdateOrder(ctx, "O-s1", nil, cancel); err != nil {
		t.Fatal(err)
	}
	if o, err := s.StartSubmission(ctx, q[0].Seq, at, at); o != nil || err != nil {
		t.Errorf("StartSubmission of an entry turned cancellation = %+v, %v; want nil, nil", o, err)
	}
	if e, err := s.GetQueueEntry(ctx, "O-s1"); err != nil || e.Action != order.ActionCancel || e.Attempts != 1 {
		t.Errorf("cancellation entry = %+v, %v; want it kept with its 1 attempt", e, err)
	}
}

// testStartSubmissionsAndAnswers: StartSubmissions starts several entries
// in one transaction with StartSubmission's per-entry outcomes (started,
// dropped for an order that no longer waits, ErrNotFound for a gone
// entry), and UpdateOrdersFrom stores several answers in one transaction,
// an update refused by its fn or of a gone order leaving nothing behind
// while the others are stored.
func testStartSubmissionsAndAnswers(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := t.Context()
	for _, id := range []string{"O-b1", "O-b2", "O-b3"} {
		create(t, s, NewOrder(id, "C0001", t0))
	}
	q, err := s.NextQueueEntries(ctx, 10)
	if err != nil || len(q) != 3 {
		t.Fatalf("queue = %+v, %v", q, err)
	}
	confirm := func(o *order.Order) (order.Effects, error) {
		o.State = order.StateConfirmed
		return order.Effects{ERPQueue: order.QueueRemove}, nil
	}
	if _, err := s.UpdateOrder(ctx, "O-b2", nil, confirm); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Minute)
	got, err := s.StartSubmissions(ctx, []int64{q[0].Seq, q[1].Seq, q[2].Seq}, at, at.Add(15*time.Second))
	if err != nil || len(got) != 3 {
		t.Fatalf("StartSubmissions = %+v, %v", got, err)
	}
	if got[0].Order == nil || got[0].Order.ID != "O-b1" || got[0].Order.ERP.Attempts != 1 || got[0].Err != nil ||
		got[2].Order == nil || got[2].Order.ID != "O-b3" || got[2].Order.ERP.Attempts != 1 || got[2].Err != nil {
		t.Errorf("started = %+v, %+v; want O-b1 and O-b3 after 1 attempt", got[0], got[2])
	}
	if !errors.Is(got[1].Err, order.ErrNotFound) || got[1].Order != nil {
		t.Errorf("start of a confirmed order's (removed) entry = %+v, want ErrNotFound", got[1])
	}
	for _, id := range []string{"O-b1", "O-b3"} {
		if e, err := s.GetQueueEntry(ctx, id); err != nil || e.Attempts != 1 || !e.LeaseUntil.Equal(at.Add(15*time.Second)) {
			t.Errorf("entry of %s = %+v, %v; want leased after 1 attempt", id, e, err)
		}
	}
	refuse := func(*order.Order) (order.Effects, error) { return order.Effects{}, order.ErrNoChange }
	gone := NewOrder("O-b9", "C0001", t0)
	errs, err := s.UpdateOrdersFrom([]order.HeldUpdate{
		{Ctx: ctx, Order: got[0].Order, Fn: confirm},
		{Ctx: ctx, Order: got[2].Order, Fn: refuse},
		{Ctx: ctx, Order: gone, Fn: confirm},
	})
	if err != nil || len(errs) != 3 || errs[0] != nil || !errors.Is(errs[1], order.ErrNoChange) || !errors.Is(errs[2], order.ErrNotFound) {
		t.Fatalf("UpdateOrdersFrom = %v, %v; want nil, ErrNoChange, ErrNotFound", errs, err)
	}
	if o, _ := s.GetOrder(ctx, "O-b1"); o.State != order.StateConfirmed {
		t.Errorf("O-b1 is %s, want CONFIRMED", o.State)
	}
	if _, err := s.GetQueueEntry(ctx, "O-b1"); !errors.Is(err, order.ErrQueueEntryNotFound) {
		t.Errorf("entry of confirmed O-b1: %v, want removed", err)
	}
	if o, _ := s.GetOrder(ctx, "O-b3"); o.State == order.StateConfirmed {
		t.Errorf("O-b3 confirmed by a refused update")
	}
	if e, err := s.GetQueueEntry(ctx, "O-b3"); err != nil || e.Attempts != 1 {
		t.Errorf("entry of O-b3 = %+v, %v; want kept", e, err)
	}
}

// testQueueKeepsTrace: the ERP queue entry remembers the trace of the
// request that accepted the order, so the worker can continue it.
// testUpdateOrderFrom: an update from an order read earlier applies to that
// order while its version is current (and stores what a fresh read would
// give), and to the stored order once another change bumped the version;
// an unknown order is ErrNotFound.
func testUpdateOrderFrom(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := t.Context()
	create(t, s, NewOrder("O-f", "C0001", t0))
	create(t, s, NewOrder("O-g", "C0001", t0))
	at := t0.Add(time.Minute)
	confirm := func(o *order.Order) (order.Effects, error) {
		if o.State != order.StateAcceptedPendingERP {
			return order.Effects{}, order.ErrNoChange
		}
		o.History = append(o.History, order.StateChange{From: o.State, To: order.StateConfirmed, At: at, Actor: order.SystemActor})
		o.State, o.ERPOrderRef, o.ConfirmedAt, o.UpdatedAt = order.StateConfirmed, "ERP-1", at, at
		return order.Effects{ERPQueue: order.QueueRemove}, nil
	}
	held, err := s.GetOrder(ctx, "O-f")
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.UpdateOrderFrom(ctx, held, confirm)
	if err != nil || got.State != order.StateConfirmed || got.Version != held.Version+1 {
		t.Fatalf("UpdateOrderFrom a current order = %+v, %v; want it confirmed at version %d", got, err, held.Version+1)
	}
	stored, err := s.GetOrder(ctx, "O-f")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, stored, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("stored after UpdateOrderFrom (-returned +stored):\n%s", diff)
	}

	// Cancelled after it was read: the update sees the cancellation.
	held, err = s.GetOrder(ctx, "O-g")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateOrder(ctx, "O-g", nil, func(o *order.Order) (order.Effects, error) {
		o.State = order.StateCancelled
		return order.Effects{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateOrderFrom(ctx, held, confirm); !errors.Is(err, order.ErrNoChange) {
		t.Errorf("UpdateOrderFrom an outdated order: %v, want the callback to see the cancellation (ErrNoChange)", err)
	}
	if o, _ := s.GetOrder(ctx, "O-g"); o.State != order.StateCancelled {
		t.Errorf("outdated update stored state %s", o.State)
	}
	gone := held.Clone()
	gone.ID = "O-unknown"
	if _, err := s.UpdateOrderFrom(ctx, gone, confirm); !errors.Is(err, order.ErrNotFound) {
		t.Errorf("UpdateOrderFrom an unknown order: %v, want ErrNotFound", err)
	}
}

func testQueueKeepsTrace(t *testing.T, h Harness) {
	s := h.New(t)
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(t.Context(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	createIn(ctx, t, s, NewOrder("O-T", "C0001", t0))
	create(t, s, NewOrder("O-U", "C0002", t0.Add(time.Second))) // not traced
	q, err := s.NextQueueEntries(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ""}
	if len(q) != 2 || q[0].Traceparent != want[0] || q[1].Traceparent != want[1] {
		t.Errorf("queue traceparents = %+v, want %q", q, want)
	}
}

func testCreateLostClaim(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := t.Context()
	c := claim("lost", "h", time.Now().Add(time.Minute))
	mustClaim(t, s, c)
	ref := order.ClaimRef{Kind: c.Kind, RequestID: c.RequestID, Owner: c.Owner}
	if err := s.ExtendClaim(ctx, ref, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	thief := c
	thief.Owner = "thief"
	mustClaim(t, s, thief)
	o := NewOrder("O-lost", "C0001", t0)
	if err := s.CreateOrder(ctx, ref, o, accepted(o)); !errors.Is(err, order.ErrClaimLost) {
		t.Fatalf("CreateOrder with a lost claim: err = %v, want ErrClaimLost", err)
	}
	if _, err := s.GetOrder(ctx, "O-lost"); !errors.Is(err, order.ErrNotFound) {
		t.Errorf("order stored despite a lost claim (err %v)", err)
	}
	if evs := h.Events(t, s, "O-lost"); len(evs) != 0 {
		t.Errorf("events stored despite a lost claim: %+v", evs)
	}
	if evs := h.OpsEvents(t, s); len(evs) != 0 {
		t.Errorf("audit records stored despite a lost claim: %+v", evs)
	}
}

func testList(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := t.Context()
	for i := range 7 {
		cust := "C0001"
		if i%2 == 1 {
			cust = "C0002"
		}
		o := NewOrder(fmt.Sprintf("O-%02d", i), cust, t0.Add(time.Duration(i/2)*time.Second)) // pairs share a create time
		// Updates run the other way round, pairs (1,2), (3,4), (5,6) sharing
		// an update time: O-00 was updated last.
		o.UpdatedAt = t0.Add(time.Minute + time.Duration((6-i)/2)*time.Second)
		switch i {
		case 3:
			o.CustomerPONumber = "PO-3"
		case 4:
			o.State = order.StateConfirmed
		case 6:
			o.Channel = "b2b"
		}
		create(t, s, o)
	}
	ids := func(os []*order.Order) []string {
		var out []string
		for _, o := range os {
			out = append(out, o.ID)
		}
		return out
	}
	// Page through everything two at a time in each order, continuing
	// after the last row's sort time and id as the page token does.
	for _, tc := range []struct {
		name string
		q    order.ListQuery
		want []string
	}{
		{"newest first", order.ListQuery{}, []string{"O-06", "O-05", "O-04", "O-03", "O-02", "O-01", "O-00"}},
		{"oldest first", order.ListQuery{Ascending: true}, []string{"O-00", "O-01", "O-02", "O-03", "O-04", "O-05", "O-06"}},
		{"last updated first", order.ListQuery{ByUpdateTime: true}, []string{"O-00", "O-02", "O-01", "O-04", "O-03", "O-06", "O-05"}},
		{"least recently updated first", order.ListQuery{ByUpdateTime: true, Ascending: true}, []string{"O-05", "O-06", "O-03", "O-04", "O-01", "O-02", "O-00"}},
		{"update order filtered", order.ListQuery{ByUpdateTime: true, CustomerID: "C0002"}, []string{"O-01", "O-03", "O-05"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			q := tc.q
			q.Limit = 2
			for {
				page, err := s.ListOrders(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ids(page)...)
				if len(page) < q.Limit {
					break
				}
				last := page[len(page)-1]
				q.AfterTime, q.AfterID = last.CreatedAt, last.ID
				if q.ByUpdateTime {
					q.AfterTime = last.UpdatedAt
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("paged (-want +got):\n%s", diff)
			}
		})
	}
	at := func(d time.Duration) time.Time { return t0.Add(d * time.Second) }
	upd := func(d time.Duration) time.Time { return t0.Add(time.Minute + d*time.Second) }
	for _, tc := range []struct {
		name string
		q    order.ListQuery
		want []string
	}{
		{"customer ascending", order.ListQuery{CustomerID: "C0002", Ascending: true}, []string{"O-01", "O-03", "O-05"}},
		{"channel", order.ListQuery{Channel: "b2b"}, []string{"O-06"}},
		{"state", order.ListQuery{State: order.StateConfirmed}, []string{"O-04"}},
		{"state none", order.ListQuery{State: order.StateShipped}, nil},
		{"not state", order.ListQuery{NotState: order.StateAcceptedPendingERP}, []string{"O-04"}},
		{"state and not state", order.ListQuery{State: order.StateConfirmed, NotState: order.StateConfirmed}, nil},
		{"purchase order number", order.ListQuery{PurchaseOrderNumber: "PO-3"}, []string{"O-03"}},
		{"purchase order number none", order.ListQuery{PurchaseOrderNumber: "PO-9"}, nil},
		{"created from before", order.ListQuery{Created: order.TimeBounds{From: at(1), Before: at(2)}, Ascending: true}, []string{"O-02", "O-03"}},
		{"created after through", order.ListQuery{Created: order.TimeBounds{After: at(1), Through: at(3)}, Ascending: true}, []string{"O-04", "O-05", "O-06"}},
		{"created after", order.ListQuery{Created: order.TimeBounds{After: at(2)}}, []string{"O-06"}},
		{"created through", order.ListQuery{Created: order.TimeBounds{Through: at(0)}}, []string{"O-01", "O-00"}},
		{"updated from", order.ListQuery{Updated: order.TimeBounds{From: upd(2)}}, []string{"O-02", "O-01", "O-00"}},
		{"updated from ordered", order.ListQuery{Updated: order.TimeBounds{From: upd(2)}, ByUpdateTime: true}, []string{"O-00", "O-02", "O-01"}},
		{"updated after", order.ListQuery{Updated: order.TimeBounds{After: upd(2)}}, []string{"O-00"}},
		{"updated before", order.ListQuery{Updated: order.TimeBounds{Before: upd(1)}, Ascending: true}, []string{"O-05", "O-06"}},
		{"updated through", order.ListQuery{Updated: order.TimeBounds{Through: upd(1)}, Ascending: true}, []string{"O-03", "O-04", "O-05", "O-06"}},
		{"created and updated", order.ListQuery{Created: order.TimeBounds{From: at(2)}, Updated: order.TimeBounds{Through: upd(1)}, Ascending: true}, []string{"O-04", "O-05", "O-06"}},
		{"after cursor ascending", order.ListQuery{Ascending: true, Limit: 2, AfterTime: at(1), AfterID: "O-02"}, []string{"O-03", "O-04"}},
		{"after cursor by update", order.ListQuery{ByUpdateTime: true, Limit: 2, AfterTime: upd(2), AfterID: "O-01"}, []string{"O-04", "O-03"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.q.Limit == 0 {
				tc.q.Limit = 10
			}
			page, err := s.ListOrders(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, ids(page), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func testUpdate(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := t.Context()
	o := NewOrder("O-u", "C0001", t0)
	create(t, s, o)
	confirm := func(o *order.Order) (order.Effects, error) {
		o.History = append(o.History, order.StateChange{From: o.State, To: order.StateConfirmed, At: t0.Add(time.Minute), Actor: order.SystemActor})
		o.State, o.ERPOrderRef, o.ConfirmedAt, o.UpdatedAt = order.StateConfirmed, "ERP-1", t0.Add(time.Minute), t0.Add(time.Minute)
		return order.Effects{Events: []order.Event{{Type: order.EventConfirmed, Order: o.Clone()}}, ERPQueue: order.QueueRemove}, nil
	}
	got, err := s.UpdateOrder(ctx, "O-u", nil, confirm)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != order.StateConfirmed || got.Version != 2 {
		t.Fatalf("after update: state %s version %d", got.State, got.Version)
	}
	stored, err := s.GetOrder(ctx, "O-u")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, stored, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("stored after update (-returned +stored):\n%s", diff)
	}
	if q, _ := s.NextQueueEntries(ctx, 10); len(q) != 0 {
		t.Errorf("queue after QueueRemove = %+v, want empty", q)
	}
	// An error from fn stores nothing.
	boom := errors.New("boom")
	if _, err := s.UpdateOrder(ctx, "O-u", nil, func(o *order.Order) (order.Effects, error) {
		o.State = order.StateCancelled
		return order.Effects{}, boom
	}); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if o, _ := s.GetOrder(ctx, "O-u"); o.State != order.StateConfirmed {
		t.Errorf("state after failed update = %s", o.State)
	}
	if _, err := s.UpdateOrder(ctx, "O-missing", nil, confirm); !errors.Is(err, order.ErrNotFound) {
		t.Errorf("update missing: err = %v", err)
	}

	// Shipments and idempotency keys.
	key := &order.IdempotencyKey{Kind: "shipment_progress", Key: "ev-1", PayloadHash: "p1"}
	ship := func(o *order.Order) (order.Effects, error) {
		o.Shipments = append(o.Shipments, order.Shipment{ID: "S1", FulfillmentRequestID: "F1", WarehouseID: "WH-HAM",
			TrackingNumber: "TRK", Lines: []order.ShipmentLine{{LineID: "1", Quantity: 3}}, UpdatedAt: t0.Add(2 * time.Minute)})
		o.Lines[0].Shipped, o.Lines[0].Allocations[0].Shipped = 3, 3
		o.History = append(o.History, order.StateChange{From: o.State, To: order.StatePartiallyShipped, At: t0.Add(2 * time.Minute)})
		o.State = order.StatePartiallyShipped
		return order.Effects{Events: []order.Event{{Type: order.EventPartiallyShipped, Order: o.Clone()}}}, nil
	}
	shipped, err := s.UpdateOrder(ctx, "O-u", key, ship)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ = s.GetOrder(ctx, "O-u")
	if diff := cmp.Diff(shipped, stored, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("stored after shipment (-returned +stored):\n%s", diff)
	}
	if _, err := s.UpdateOrder(ctx, "O-u", key, ship); !errors.Is(err, order.ErrDuplicateEvent) {
		t.Errorf("same key same payload: err = %v, want ErrDuplicateEvent", err)
	}
	reused := *key
	reused.PayloadHash = "p2"
	var eir *order.EventIDReusedError
	if _, err := s.UpdateOrder(ctx, "O-u", &reused, ship); !errors.As(err, &eir) {
		t.Errorf("same key other payload: err = %v, want EventIDReusedError", err)
	}
	want := []Event{{"transload.order.accepted", 1}, {"transload.order.confirmed", 2}, {"transload.order.partially_shipped", 3}}
	if diff := cmp.Diff(want, h.Events(t, s, "O-u")); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}

	// Cancellation queues a release and handles the ERP queue entry.
	cancel := func(o *order.Order) (order.Effects, error) {
		o.State = order.StateCancelled
		return order.Effects{ERPQueue: order.QueueCancel, ReleaseReservation: "order_cancelled"}, nil
	}
	never := NewOrder("O-never", "C0001", t0)
	create(t, s, never)
	if _, err := s.UpdateOrder(ctx, "O-never", nil, cancel); err != nil {
		t.Fatal(err)
	}
	tried := NewOrder("O-tried", "C0001", t0)
	create(t, s, tried)
	q, _ := s.NextQueueEntries(ctx, 10)
	if len(q) != 1 || q[0].OrderID != "O-tried" {
		t.Fatalf("queue = %+v, want only O-tried (O-never's untried submission dropped)", q)
	}
	if err := s.StartQueueAttempt(ctx, q[0].Seq, t0, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateOrder(ctx, "O-tried", nil, cancel); err != nil {
		t.Fatal(err)
	}
	q, _ = s.NextQueueEntries(ctx, 10)
	if len(q) != 1 || q[0].OrderID != "O-tried" || q[0].Action != order.ActionCancel {
		t.Fatalf("queue = %+v, want O-tried's submission turned into a cancel", q)
	}
	// A confirmed order gets a cancel entry appended.
	if _, err := s.UpdateOrder(ctx, "O-u", nil, cancel); err != nil {
		t.Fatal(err)
	}
	q, _ = s.NextQueueEntries(ctx, 10)
	if len(q) != 2 || q[1].OrderID != "O-u" || q[1].Action != order.ActionCancel {
		t.Fatalf("queue = %+v, want a cancel entry for O-u at the end", q)
	}
	tasks, err := s.NextReleaseTasks(ctx, time.Now(), 10)
	if err != nil {
		t.Fatal(err)
	}
	var rel []string
	for _, tk := range tasks {
		rel = append(rel, tk.OrderID+"/"+tk.ReservationID+"/"+tk.Reason)
	}
	wantRel := []string{"O-never/res-O-never/order_cancelled", "O-tried/res-O-tried/order_cancelled", "O-u/res-O-u/order_cancelled"}
	if diff := cmp.Diff(wantRel, rel, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("release tasks (-want +got):\n%s", diff)
	}
	if err := s.RetryReleaseTask(ctx, "O-never", time.Now().Add(time.Hour), "inventory down"); err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteReleaseTask(ctx, "O-tried"); err != nil {
		t.Fatal(err)
	}
	tasks, _ = s.NextReleaseTasks(ctx, time.Now(), 10)
	if len(tasks) != 1 || tasks[0].OrderID != "O-u" {
		t.Errorf("due release tasks = %+v, want only O-u", tasks)
	}
}

func testQueue(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := t.Context()
	for i := range 3 {
		create(t, s, NewOrder(fmt.Sprintf("O-q%d", i), "C0001", t0.Add(time.Duration(i)*time.Second)))
	}
	q, err := s.NextQueueEntries(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 3 || q[0].OrderID != "O-q0" || q[1].OrderID != "O-q1" || q[2].OrderID != "O-q2" {
		t.Fatalf("queue = %+v, want O-q0..2 in creation order", q)
	}
	st, err := s.QueueStats(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Depth != 3 || st.InFlight != 0 || !st.OldestCreateAt.Equal(t0) {
		t.Errorf("stats = %+v, want depth 3 none in flight oldest %v", st, t0)
	}
	if err := s.StartQueueAttempt(ctx, q[0].Seq, t0.Add(time.Minute), t0.Add(time.Minute+15*time.Second)); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.QueueStats(ctx, t0.Add(time.Minute)); st.InFlight != 1 {
		t.Errorf("stats while an attempt runs = %+v, want 1 in flight", st)
	}
	if st, _ := s.QueueStats(ctx, t0.Add(time.Minute+15*time.Second)); st.InFlight != 0 {
		t.Errorf("stats after the attempt's lease ran out = %+v, want none in flight", st)
	}
	next := t0.Add(2 * time.Minute)
	if err := s.RecordQueueFailure(ctx, q[0].Seq, next, "erp: unavailable", nil); err != nil {
		t.Fatal(err)
	}
	q, _ = s.NextQueueEntries(ctx, 1)
	if len(q) != 1 || q[0].Attempts != 1 || !q[0].NextAttemptAt.Equal(next) || q[0].LastError != "erp: unavailable" || !q[0].LeaseUntil.IsZero() {
		t.Errorf("entry after failure = %+v, want attempt 1, next %v, the error and no lease", q, next)
	}
	o, _ := s.GetOrder(ctx, "O-q0")
	if o.ERP.Attempts != 1 || !o.ERP.LastAttemptAt.Equal(t0.Add(time.Minute)) || !o.ERP.NextAttemptAt.Equal(next) || o.ERP.LastError != "erp: unavailable" {
		t.Errorf("order ERP submission = %+v", o.ERP)
	}
	if err := s.DeleteQueueEntry(ctx, q[0].Seq); err != nil {
		t.Fatal(err)
	}
	if err := s.StartQueueAttempt(ctx, q[0].Seq, t0, t0); !errors.Is(err, order.ErrNotFound) {
		t.Errorf("attempt on deleted entry: err = %v, want ErrNotFound", err)
	}
	if err := s.RecordQueueFailure(ctx, q[0].Seq, next, "late", nil); err != nil {
		t.Errorf("failure of a deleted entry: err = %v, want none", err)
	}
	if st, _ := s.QueueStats(ctx, t0); st.Depth != 2 || !st.OldestCreateAt.Equal(t0.Add(time.Second)) {
		t.Errorf("stats after delete = %+v", st)
	}
}

func testCustomers(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := t.Context()
	if _, err := s.GetCustomer(ctx, "C0001"); !errors.Is(err, order.ErrCustomerNotFound) {
		t.Fatalf("missing customer: err = %v", err)
	}
	c := order.Customer{ID: "C0001", DisplayName: "ACME", Account: order.AccountActive, Currency: "EUR",
		AllowedChannels: []string{"web", "b2b"}, HasCreditLimit: true, CreditCurrency: "EUR",
		CreditLimitMinor: 100000, AvailableCreditMinor: 40000, FetchedAt: t0}
	if err := s.SaveCustomer(ctx, c); err != nil {
		t.Fatal(err)
	}
	newer := c
	newer.Account, newer.FetchedAt = order.AccountCreditHold, t0.Add(time.Hour)
	if err := s.SaveCustomer(ctx, newer); err != nil {
		t.Fatal(err)
	}
	older := c
	older.FetchedAt = t0.Add(-time.Hour)
	if err := s.SaveCustomer(ctx, older); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetCustomer(ctx, "C0001")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(newer, got); diff != "" {
		t.Errorf("customer (-want +got):\n%s", diff)
	}
}

func testAbandoned(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := t.Context()
	c := claim("ab", "h", time.Now().Add(-time.Hour))
	mustClaim(t, s, c)
	mustClaim(t, s, claim("live", "h", time.Now().Add(time.Hour)))
	got, err := s.AbandonedClaims(ctx, order.KindCreateOrder, time.Now().Add(-time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].RequestID != "ab" || got[0].OrderID != "O-ab" || got[0].Owner != c.Owner {
		t.Fatalf("abandoned = %+v, want the expired claim only", got)
	}
	if age := time.Since(got[0].CreatedAt); got[0].CreatedAt.IsZero() || age < 0 || age > time.Minute {
		t.Errorf("abandoned claim created at %v, want when it was claimed (just now)", got[0].CreatedAt)
	}
	if err := s.StealClaim(ctx, got[0], "reaper", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.StealClaim(ctx, got[0], "reaper-2", time.Now().Add(time.Minute)); !errors.Is(err, order.ErrClaimLost) {
		t.Errorf("second steal: err = %v, want ErrClaimLost", err)
	}
	if err := s.DeleteClaim(ctx, order.ClaimRef{Kind: order.KindCreateOrder, RequestID: "ab", Owner: "reaper"}); err != nil {
		t.Fatal(err)
	}
}
