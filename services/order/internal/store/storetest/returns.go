package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/services/order/internal/order"
)

// ReturnHarness is what the return suite needs from an engine, on top of
// Harness (whose stores must implement order.ReturnStore).
type ReturnHarness struct {
	Harness
	// ReturnEvents returns the subjects of the outbox events stored for a
	// return, in sequence order, with their per-aggregate sequences.
	ReturnEvents func(t *testing.T, s order.Store, returnID string) []Event
}

// RunReturns runs the conformance suite of order.ReturnStore.
func RunReturns(t *testing.T, h ReturnHarness) {
	t.Run("CreateGetAndReplay", func(t *testing.T) { t.Parallel(); testReturnCreate(t, h) })
	t.Run("CreateRefusedStoresNothing", func(t *testing.T) { t.Parallel(); testReturnRefused(t, h) })
	t.Run("ConcurrentCreatesSeeEachOther", func(t *testing.T) { t.Parallel(); testReturnConcurrent(t, h) })
	t.Run("UpdateWithOrderAndKey", func(t *testing.T) { t.Parallel(); testReturnUpdate(t, h) })
	t.Run("List", func(t *testing.T) { t.Parallel(); testReturnList(t, h) })
}

func returnStore(t *testing.T, h ReturnHarness) (order.Store, order.ReturnStore) {
	s := h.New(t)
	rs, ok := s.(order.ReturnStore)
	if !ok {
		t.Fatalf("%T does not implement order.ReturnStore", s)
	}
	return s, rs
}

// newReturn is a return fixture of o with one line of order line 1.
func newReturn(id string, o *order.Order, qty int64, at time.Time) *order.Return {
	return &order.Return{
		ID: id, OrderID: o.ID, CustomerID: o.CustomerID, Channel: o.Channel, Currency: o.Currency,
		Lines: []order.ReturnLine{{ID: "1", OrderLineID: "1", SKU: o.Lines[0].SKU, Quantity: qty, Reason: 2,
			RequestedDisposition: order.DispositionRestock, Resolution: order.ResolutionRefund}},
		State: order.ReturnRequested, Comment: "broken", RefundMinor: qty * 1000, CreateRequestID: "rr-" + id,
		CreatedAt: at, UpdatedAt: at,
		History: []order.ReturnStateChange{{To: order.ReturnRequested, At: at, Actor: order.Actor{Kind: "api_key", ID: "k1"}}},
	}
}

func requested(r *order.Return) order.ReturnEffects {
	return order.ReturnEffects{Events: []order.ReturnEvent{{Type: order.EventReturnRequested, Return: r.Clone()}}}
}

func testReturnCreate(t *testing.T, h ReturnHarness) {
	s, rs := returnStore(t, h)
	ctx := t.Context()
	o := NewOrder("O-r1", "C0001", t0)
	create(t, s, o)
	want := newReturn("R-1", o, 2, t0.Add(time.Hour))
	key := order.IdempotencyKey{Kind: order.KindCreateReturn, Key: "rr-R-1", PayloadHash: "h1"}
	calls := 0
	build := func(got *order.Order, existing []*order.Return) (*order.Return, order.ReturnEffects, error) {
		calls++
		if got.ID != o.ID || len(existing) != 0 {
			t.Errorf("build got order %s with %d returns", got.ID, len(existing))
		}
		r := want.Clone()
		return r, requested(r), nil
	}
	r, replayed, err := rs.CreateReturn(ctx, o.ID, key, build)
	if err != nil || replayed {
		t.Fatalf("CreateReturn = %v, replayed %v", err, replayed)
	}
	if r.Version != 1 {
		t.Errorf("version = %d, want 1", r.Version)
	}
	got, err := rs.GetReturn(ctx, "R-1")
	if err != nil {
		t.Fatal(err)
	}
	want.Version = 1
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored return (-want +got):\n%s", diff)
	}
	// Same key and hash: the stored return, build not called again.
	again, replayed, err := rs.CreateReturn(ctx, o.ID, key, build)
	if err != nil || !replayed || again.ID != "R-1" || calls != 1 {
		t.Fatalf("replay = %v, %v, %v, build calls %d", again, replayed, err, calls)
	}
	// Same key, other payload.
	other := key
	other.PayloadHash = "h2"
	if _, _, err := rs.CreateReturn(ctx, o.ID, other, build); !errors.Is(err, order.ErrIdempotencyKeyReused) {
		t.Errorf("reused key = %v, want ErrIdempotencyKeyReused", err)
	}
	if _, err := rs.GetReturn(ctx, "R-missing"); !errors.Is(err, order.ErrReturnNotFound) {
		t.Errorf("GetReturn(missing) = %v", err)
	}
	if _, _, err := rs.CreateReturn(ctx, "O-missing", order.IdempotencyKey{Kind: order.KindCreateReturn, Key: "x", PayloadHash: "h"}, build); !errors.Is(err, order.ErrNotFound) {
		t.Errorf("CreateReturn(missing order) = %v, want ErrNotFound", err)
	}
	if evs := h.ReturnEvents(t, s, "R-1"); len(evs) != 1 || evs[0].Subject != "transload.order.return_requested" || evs[0].Sequence != 1 {
		t.Errorf("return events = %+v", evs)
	}
}

func testReturnRefused(t *testing.T, h ReturnHarness) {
	s, rs := returnStore(t, h)
	ctx := t.Context()
	o := NewOrder("O-r2", "C0001", t0)
	create(t, s, o)
	refusal := &order.ReturnRuleError{Rule: order.RuleQuantity}
	key := order.IdempotencyKey{Kind: order.KindCreateReturn, Key: "rr-refused", PayloadHash: "h"}
	_, _, err := rs.CreateReturn(ctx, o.ID, key, func(*order.Order, []*order.Return) (*order.Return, order.ReturnEffects, error) {
		return nil, order.ReturnEffects{}, refusal
	})
	if !errors.Is(err, refusal) {
		t.Fatalf("CreateReturn = %v, want the build error", err)
	}
	list, err := rs.ListReturns(ctx, order.ReturnQuery{OrderID: o.ID, Limit: 10})
	if err != nil || len(list) != 0 {
		t.Fatalf("returns after a refusal = %d, %v", len(list), err)
	}
	// The key stays free: a corrected retry with it succeeds.
	r := newReturn("R-2", o, 1, t0)
	if _, replayed, err := rs.CreateReturn(ctx, o.ID, key, func(*order.Order, []*order.Return) (*order.Return, order.ReturnEffects, error) {
		return r, requested(r), nil
	}); err != nil || replayed {
		t.Fatalf("retry after refusal = %v, replayed %v", err, replayed)
	}
}

// testReturnConcurrent: returns created at once for one order each see the
// ones committed before (the order lock serializes them), so a rule over
// existing returns holds under concurrency.
func testReturnConcurrent(t *testing.T, h ReturnHarness) {
	s, rs := returnStore(t, h)
	ctx := t.Context()
	o := NewOrder("O-r3", "C0001", t0)
	create(t, s, o)
	const n = 6
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		accepted int
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := "R-c" + string(rune('a'+i))
			key := order.IdempotencyKey{Kind: order.KindCreateReturn, Key: "rr-" + id, PayloadHash: "h"}
			_, _, err := rs.CreateReturn(ctx, o.ID, key, func(o *order.Order, existing []*order.Return) (*order.Return, order.ReturnEffects, error) {
				var held int64
				for _, r := range existing {
					held += r.Lines[0].Quantity
				}
				if held+2 > o.Lines[0].Quantity { // 5 units: two returns of 2 fit
					return nil, order.ReturnEffects{}, &order.ReturnRuleError{Rule: order.RuleQuantity}
				}
				r := newReturn(id, o, 2, t0)
				return r, requested(r), nil
			})
			var rule *order.ReturnRuleError
			switch {
			case err == nil:
				mu.Lock()
				accepted++
				mu.Unlock()
			case errors.As(err, &rule):
			default:
				t.Errorf("CreateReturn(%s) = %v", id, err)
			}
		}()
	}
	wg.Wait()
	if accepted != 2 {
		t.Fatalf("%d concurrent returns of 2 of 5 units accepted, want 2", accepted)
	}
}

func testReturnUpdate(t *testing.T, h ReturnHarness) {
	s, rs := returnStore(t, h)
	ctx := t.Context()
	o := NewOrder("O-r4", "C0001", t0)
	create(t, s, o)
	sibling := newReturn("R-4b", o, 1, t0)
	for _, r := range []*order.Return{newReturn("R-4", o, 2, t0), sibling} {
		key := order.IdempotencyKey{Kind: order.KindCreateReturn, Key: "rr-" + r.ID, PayloadHash: "h"}
		if _, _, err := rs.CreateReturn(ctx, o.ID, key, func(*order.Order, []*order.Return) (*order.Return, order.ReturnEffects, error) {
			return r, requested(r), nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	key := &order.IdempotencyKey{Kind: "return_receipt", Key: "ev-1", PayloadHash: "h"}
	receive := func(r *order.Return, o *order.Order, others []*order.Return) (order.ReturnEffects, error) {
		if len(others) != 1 || others[0].ID != "R-4b" {
			t.Errorf("others = %d returns", len(others))
		}
		r.State = order.ReturnReceived
		r.Lines[0].Received = []order.DispositionQuantity{{Disposition: order.DispositionScrap, Quantity: 2}}
		r.CreditTotalMinor, r.Lines[0].CreditMinor = 2000, 2000
		r.ReceivedAt = t0.Add(2 * time.Hour)
		o.Lines[0].Returned += 2
		return order.ReturnEffects{Order: o, Events: []order.ReturnEvent{{Type: order.EventReturnReceived, Return: r.Clone(), PreviousState: order.ReturnRequested,
			WarehouseID: "WH-HAM", Received: []order.ReceivedLine{{LineID: "1", Quantity: 2, Disposition: order.DispositionScrap}}}},
			Documents: []order.Document{{ID: "R-4:ev-1", Kind: order.DocumentCreditMemo, OrderID: o.ID, CustomerID: o.CustomerID, SourceID: r.ID,
				Currency: "EUR", CreatedAt: t0, Lines: []order.DocumentLine{{SourceLineID: "1", OrderLineID: "1", SKU: "SKU-00001", Quantity: 2,
					UnitPriceMinor: 1000, AmountMinor: 2000}}}}}, nil
	}
	r, err := rs.UpdateReturn(ctx, "R-4", key, receive)
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != 2 {
		t.Errorf("version = %d, want 2", r.Version)
	}
	got, err := rs.GetReturn(ctx, "R-4")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Errorf("stored return (-want +got):\n%s", diff)
	}
	ord, err := s.GetOrder(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ord.Lines[0].Returned != 2 || ord.Version != 2 {
		t.Errorf("order line returned = %d, version %d; want 2, 2", ord.Lines[0].Returned, ord.Version)
	}
	// The credit memo was stored with the receipt.
	if docs, ok := s.(order.DocumentReader); ok {
		memo, err := docs.GetDocument(ctx, "R-4:ev-1")
		if err != nil || memo.SourceID != "R-4" || len(memo.Lines) != 1 || memo.Lines[0].AmountMinor != 2000 {
			t.Errorf("credit memo = %+v, %v", memo, err)
		}
	} else {
		t.Errorf("%T does not implement order.DocumentReader", s)
	}
	if _, err := rs.UpdateReturn(ctx, "R-4", key, receive); !errors.Is(err, order.ErrDuplicateEvent) {
		t.Errorf("repeated key = %v, want ErrDuplicateEvent", err)
	}
	other := &order.IdempotencyKey{Kind: "return_receipt", Key: "ev-1", PayloadHash: "other"}
	var reused *order.EventIDReusedError
	if _, err := rs.UpdateReturn(ctx, "R-4", other, receive); !errors.As(err, &reused) {
		t.Errorf("reused key = %v, want EventIDReusedError", err)
	}
	// A failing fn stores nothing.
	boom := errors.New("boom")
	if _, err := rs.UpdateReturn(ctx, "R-4", nil, func(r *order.Return, o *order.Order, _ []*order.Return) (order.ReturnEffects, error) {
		r.State = order.ReturnClosed
		return order.ReturnEffects{}, boom
	}); !errors.Is(err, boom) {
		t.Errorf("fn error = %v", err)
	}
	if got, _ := rs.GetReturn(ctx, "R-4"); got.State != order.ReturnReceived {
		t.Errorf("state after a failed update = %v", got.State)
	}
	if _, err := rs.UpdateReturn(ctx, "R-missing", nil, receive); !errors.Is(err, order.ErrReturnNotFound) {
		t.Errorf("UpdateReturn(missing) = %v", err)
	}
	evs := h.ReturnEvents(t, s, "R-4")
	if len(evs) != 2 || evs[1].Subject != "transload.order.return_received" || evs[1].Sequence != 2 {
		t.Errorf("return events = %+v", evs)
	}
}

func testReturnList(t *testing.T, h ReturnHarness) {
	s, rs := returnStore(t, h)
	ctx := t.Context()
	a, b := NewOrder("O-la", "C0001", t0), NewOrder("O-lb", "C0002", t0)
	create(t, s, a)
	create(t, s, b)
	for i, r := range []*order.Return{
		newReturn("R-l1", a, 1, t0.Add(1*time.Minute)),
		newReturn("R-l2", a, 1, t0.Add(2*time.Minute)),
		newReturn("R-l3", b, 1, t0.Add(3*time.Minute)),
	} {
		if i == 1 {
			r.State = order.ReturnAuthorized
		}
		key := order.IdempotencyKey{Kind: order.KindCreateReturn, Key: "rr-" + r.ID, PayloadHash: "h"}
		if _, _, err := rs.CreateReturn(ctx, r.OrderID, key, func(*order.Order, []*order.Return) (*order.Return, order.ReturnEffects, error) {
			return r, requested(r), nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(q order.ReturnQuery) []string {
		t.Helper()
		q.Limit = max(q.Limit, 1)
		list, err := rs.ListReturns(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range list {
			out = append(out, r.ID)
		}
		return out
	}
	for name, tc := range map[string]struct {
		q    order.ReturnQuery
		want []string
	}{
		"all newest first": {order.ReturnQuery{Limit: 10}, []string{"R-l3", "R-l2", "R-l1"}},
		"oldest first":     {order.ReturnQuery{Limit: 10, Ascending: true}, []string{"R-l1", "R-l2", "R-l3"}},
		"of an order":      {order.ReturnQuery{Limit: 10, OrderID: "O-la"}, []string{"R-l2", "R-l1"}},
		"of a customer":    {order.ReturnQuery{Limit: 10, CustomerID: "C0002"}, []string{"R-l3"}},
		"by state":         {order.ReturnQuery{Limit: 10, State: order.ReturnAuthorized}, []string{"R-l2"}},
		"created from":     {order.ReturnQuery{Limit: 10, Created: order.TimeBounds{From: t0.Add(2 * time.Minute)}}, []string{"R-l3", "R-l2"}},
		"page":             {order.ReturnQuery{Limit: 1}, []string{"R-l3"}},
		"after cursor":     {order.ReturnQuery{Limit: 10, AfterTime: t0.Add(2 * time.Minute), AfterID: "R-l2"}, []string{"R-l1"}},
	} {
		if diff := cmp.Diff(tc.want, ids(tc.q)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}
