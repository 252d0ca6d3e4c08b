package grpcapi_test

import (
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
)

// TestCreateOrderRequestIDScopedPerCaller: callers that happen to send the
// same request id, concurrently, each get their own order (keys bound to two
// customers of one channel, a channel-wide key, a bound key of another
// channel); every repeat of a caller replays that caller's order and never
// another's.
func TestCreateOrderRequestIDScopedPerCaller(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *env) {
		type caller struct{ customer, channel, scope string }
		callers := []caller{{"C0001", "web", "C0001"}, {"C0002", "web", "C0002"}, {"C0001", "web", ""}, {"C0001", "b2b", "C0001"}}
		const repeats = 6
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			seen  = map[caller]map[string]bool{}
			owner = map[string]caller{}
			fresh = map[caller]int{}
		)
		for _, c := range callers {
			seen[c] = map[string]bool{}
			for range repeats {
				wg.Go(func() {
					r := createReq("shared-key", c.customer, line{"SKU-00010", 1})
					r.Channel, r.IdempotencyScope = c.channel, c.scope
					res, err := e.client.CreateOrder(t.Context(), r)
					if err != nil {
						t.Errorf("%v: CreateOrder: %v", c, err)
						return
					}
					o := res.GetOrder()
					mu.Lock()
					defer mu.Unlock()
					if o.GetCustomerId() != c.customer || o.GetChannel() != c.channel {
						t.Errorf("%v got order %s of %s/%s", c, o.GetOrderId(), o.GetCustomerId(), o.GetChannel())
					}
					seen[c][o.GetOrderId()] = true
					if prev, ok := owner[o.GetOrderId()]; ok && prev != c {
						t.Errorf("order %s answered to %v and %v", o.GetOrderId(), prev, c)
					}
					owner[o.GetOrderId()] = c
					if !res.GetReplayed() {
						fresh[c]++
					}
				})
			}
		}
		wg.Wait()
		for _, c := range callers {
			if len(seen[c]) != 1 || fresh[c] != 1 {
				t.Errorf("%v: orders %v, %d first executions; want one order, created once", c, seen[c], fresh[c])
			}
		}
		if orders, reservations := e.counts(t); orders != len(callers) || reservations != len(callers) {
			t.Errorf("%d orders and %d reservations, want %d of each", orders, reservations, len(callers))
		}
	})
}

// TestCreateOrderScopeKeepsPayloadCheck: within one scope the customer is
// part of the payload: a channel-wide caller reusing a request id for
// another customer is refused as a reused key, not given a second order.
func TestCreateOrderScopeKeepsPayloadCheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create(t, createReq("one-key", "C0006", line{"SKU-00006", 1}))
	_, err := e.client.CreateOrder(t.Context(), createReq("one-key", "C0007", line{"SKU-00006", 1}))
	wantReason(t, err, codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED)
}

// TestCreateOrderValidationFailureKeepsKey: a request refused as invalid
// stores nothing under its request id, so the corrected request with the
// same id is placed (not refused as a reused key).
func TestCreateOrderValidationFailureKeepsKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i, bad := range []*orderv1.CreateOrderRequest{
		createReq("fix-me", "C0003", line{"SKU-00001", 1}, line{"SKU-00001", 2}), // duplicate SKU
		createReq("fix-me", "C0003", line{"SKU-00001", 0}),                       // quantity 0
		createReq("fix-me", "C0003"),                                             // no lines
	} {
		_, err := e.client.CreateOrder(t.Context(), bad)
		if status.Code(err) != codes.InvalidArgument {
			t.Fatalf("bad request %d: err = %v, want INVALID_ARGUMENT", i, err)
		}
	}
	res, err := e.client.CreateOrder(t.Context(), createReq("fix-me", "C0003", line{"SKU-00001", 3}))
	if err != nil {
		t.Fatalf("the corrected request with the same id: %v", err)
	}
	if res.GetReplayed() || res.GetOrder().GetLines()[0].GetQuantity() != 3 {
		t.Errorf("corrected request: replayed=%v order=%v, want a new order of 3", res.GetReplayed(), res.GetOrder())
	}
}

// TestCreateOrderReplaysRecordStoredBeforeScoping: a request placed before
// request ids were scoped (its record stored under the bare id) and retried
// after the upgrade replays its order instead of placing it again; the same
// id from another customer is not answered by that record.
func TestCreateOrderReplaysRecordStoredBeforeScoping(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *env) {
		first := e.create(t, createReq("old-key", "C0004", line{"SKU-00004", 1}))
		// Rewrite the record as the version before scoping stored it.
		if _, err := e.db.SQL().ExecContext(t.Context(),
			`UPDATE idempotency_keys SET request_id = 'old-key' WHERE kind = 'create_order'`); err != nil {
			t.Fatal(err)
		}
		again, err := e.client.CreateOrder(t.Context(), createReq("old-key", "C0004", line{"SKU-00004", 1}))
		if err != nil || !again.GetReplayed() || again.GetOrder().GetOrderId() != first.GetOrderId() {
			t.Fatalf("retry after the upgrade = %v, %v; want a replay of %s", again, err, first.GetOrderId())
		}
		other, err := e.client.CreateOrder(t.Context(), createReq("old-key", "C0005", line{"SKU-00004", 1}))
		if err != nil || other.GetReplayed() || other.GetOrder().GetCustomerId() != "C0005" {
			t.Fatalf("another customer's request with the id = %v, %v; want its own new order", other, err)
		}
		if orders, _ := e.counts(t); orders != 2 {
			t.Errorf("%d orders, want 2", orders)
		}
	})
}

// TestCancelOrderRequestIDScopedPerOrder: the same cancellation request id
// sent for two orders (of two customers) cancels each of them, and a repeat
// for either is a replay of that order's cancellation.
func TestCancelOrderRequestIDScopedPerOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withoutWorker)
	a := e.create(t, createReq("a", "C0001", line{"SKU-00007", 1})).GetOrderId()
	b := e.create(t, createReq("b", "C0002", line{"SKU-00007", 1})).GetOrderId()
	for _, id := range []string{a, b, a} {
		o, err := e.client.CancelOrder(t.Context(), &orderv1.CancelOrderRequest{Name: "orders/" + id, RequestId: "same-cancel", Reason: "r"})
		if err != nil || o.GetState() != orderv1.Order_STATE_CANCELLED {
			t.Fatalf("cancel %s with the shared request id = %v, %v; want CANCELLED", id, o.GetState(), err)
		}
	}
}
