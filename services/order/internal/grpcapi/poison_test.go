package grpcapi_test

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/opsevents/opseventstest"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/services/order/internal/order"
)

// withMaxStrikes sets the worker's strike limit.
func withMaxStrikes(n int) func(*envOptions) {
	return func(o *envOptions) { o.worker = func(c *order.WorkerConfig) { c.MaxStrikes = n } }
}

// queueEntry reads the order's queue entry.
func (e *env) queueEntry(t *testing.T, id string) *orderv1.ErpQueueEntry {
	t.Helper()
	q, err := e.client.GetErpQueueEntry(t.Context(), &orderv1.GetErpQueueEntryRequest{Name: "erpQueueEntries/" + id})
	if err != nil {
		t.Fatalf("GetErpQueueEntry(%s): %v", id, err)
	}
	return q
}

// TestQueuePoisonEntryIsParked (issue #14): a submission the ERP answers
// with INTERNAL while it answers everything else holds back only its
// customer (no queue halt: other customers' orders are confirmed at once),
// is retried with a backoff and parked at the strike limit; parked, it is
// not sent again, shows in the queue status and raises an exception, and
// the customer's next order goes on. The operator's retry sends it again.
func TestQueuePoisonEntryIsParked(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		e.erp.FailCustomer("C0002", codes.Internal)
		poison := e.create(t, createReq("poison", "C0002", line{"SKU-00001", 1})).GetOrderId()
		next := e.create(t, createReq("behind", "C0002", line{"SKU-00001", 1})).GetOrderId()
		other := e.create(t, createReq("other", "C0001", line{"SKU-00001", 1})).GetOrderId()

		e.worker.Pass(ctx)
		if st := e.get(t, other).GetState(); st != orderv1.Order_STATE_CONFIRMED {
			t.Fatalf("another customer's order is %s after the first pass; the poison entry must not halt the queue", st)
		}
		if got := e.attempts(t, poison, next); !slices.Equal(got, []int32{1, 0}) {
			t.Fatalf("attempts = %v, want [1 0] (the customer's later order held back)", got)
		}
		wait.Eventually(t, waitTimeout, "the poison entry parked", func() error {
			e.worker.Pass(ctx)
			st := e.queueEntry(t, poison).GetState()
			return wait.Check(st == orderv1.ErpQueueEntry_STATE_PARKED, "state %s", st)
		})
		q := e.queueEntry(t, poison)
		if q.GetStrikeCount() != 3 || q.GetParkTime() == nil || q.GetAttemptCount() != 3 {
			t.Errorf("parked entry = %v, want 3 strikes, 3 attempts and a park time", q)
		}
		// The customer's next order was held back until the parking; the
		// ERP now refuses it the same way, so let it through.
		e.erp.FailCustomer("C0002", codes.OK)
		wait.Eventually(t, waitTimeout, "the customer's next order confirmed", func() error {
			e.worker.Pass(ctx)
			st := e.get(t, next).GetState()
			return wait.Check(st == orderv1.Order_STATE_CONFIRMED, "state %s", st)
		})
		for range 3 {
			e.worker.Pass(ctx)
		}
		if calls := e.erp.CallsByCustomer()["C0002"]; slices.Index(calls, "submit:"+next) != 3 || len(calls) != 4 {
			t.Errorf("C0002's ERP calls = %v, want the poison entry 3 times, then the next order, nothing more", calls)
		}
		st, err := e.client.GetErpQueueStatus(ctx, &orderv1.GetErpQueueStatusRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if st.GetParkedCount() != 1 || st.GetDepth() != 1 || len(st.GetCustomerBlockers()) != 0 {
			t.Errorf("queue status = %v, want depth 1, 1 parked, no blockers", st)
		}
		list, err := e.client.ListErpQueueEntries(ctx, &orderv1.ListErpQueueEntriesRequest{Filter: "state = STATE_PARKED"})
		if err != nil || len(list.GetErpQueueEntries()) != 1 || list.GetErpQueueEntries()[0].GetOrder() != "orders/"+poison {
			t.Errorf("parked entries = %v, %v", list, err)
		}
		var parked int
		for _, ex := range opseventstest.Read(t, e.db).Exceptions {
			if ex.GetKind() == opsv1.Exception_KIND_ERP_SUBMISSION_FAILED && ex.GetDetails().AsMap()["parked"] == "true" {
				parked++
			}
		}
		if parked != 1 {
			t.Errorf("%d parking exceptions, want 1", parked)
		}
		// The operator retries it: sent again, confirmed.
		if _, err := e.client.RetryErpQueueEntry(ctx, &orderv1.RetryErpQueueEntryRequest{Name: "erpQueueEntries/" + poison}); err != nil {
			t.Fatal(err)
		}
		e.drainQueue(t)
		if st := e.get(t, poison).GetState(); st != orderv1.Order_STATE_CONFIRMED {
			t.Errorf("the retried entry's order is %s, want CONFIRMED", st)
		}
	}, withoutWorker, withMaxStrikes(3))
}

// TestQueueOutageStrikesNobody: while the ERP is down the queue halts and
// its entries collect attempts, but no strikes: an outage parks nothing.
func TestQueueOutageStrikesNobody(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withoutWorker, withMaxStrikes(1))
	ctx := t.Context()
	id := e.create(t, createReq("outage", "C0003", line{"SKU-00001", 1})).GetOrderId()
	e.erp.SetDown(true)
	wait.Eventually(t, waitTimeout, "three attempts during the outage", func() error {
		e.worker.Pass(ctx)
		time.Sleep(5 * time.Millisecond)
		n := e.queueEntry(t, id).GetAttemptCount()
		return wait.Check(n >= 3, "%d attempts", n)
	})
	if q := e.queueEntry(t, id); q.GetStrikeCount() != 0 || q.GetState() == orderv1.ErpQueueEntry_STATE_PARKED {
		t.Fatalf("entry after an outage = %v, want no strikes, not parked", q)
	}
	e.erp.SetDown(false)
	wait.Eventually(t, waitTimeout, "confirmed after the outage", func() error {
		e.worker.Pass(ctx)
		st := e.get(t, id).GetState()
		return wait.Check(st == orderv1.Order_STATE_CONFIRMED, "state %s", st)
	})
}

// TestQueueParkedEntryCancelled: cancelling the order of a parked
// submission turns the entry into a cancellation in its place, no longer
// parked, which the worker sends; the queue ends empty.
func TestQueueParkedEntryCancelled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withoutWorker, withMaxStrikes(1))
	ctx := t.Context()
	e.erp.FailCustomer("C0004", codes.Internal)
	id := e.create(t, createReq("parked-cancel", "C0004", line{"SKU-00001", 1})).GetOrderId()
	e.worker.Pass(ctx)
	if st := e.queueEntry(t, id).GetState(); st != orderv1.ErpQueueEntry_STATE_PARKED {
		t.Fatalf("entry after one own failure with a limit of 1 is %s, want PARKED", st)
	}
	o, err := e.client.CancelOrder(ctx, &orderv1.CancelOrderRequest{Name: "orders/" + id, RequestId: "cancel-parked", Reason: "r"})
	if err != nil || o.GetState() != orderv1.Order_STATE_CANCELLED {
		t.Fatalf("cancel = %v, %v", o.GetState(), err)
	}
	if q := e.queueEntry(t, id); q.GetAction() != "cancel" || q.GetState() == orderv1.ErpQueueEntry_STATE_PARKED || q.GetStrikeCount() != 0 {
		t.Fatalf("entry after the cancellation = %v, want an unparked cancel entry", q)
	}
	e.drainQueue(t)
	if calls := e.erp.CallsByCustomer()["C0004"]; !slices.Equal(calls, []string{"submit:" + id, "cancel:" + id}) {
		t.Errorf("C0004's ERP calls = %v, want the failed submission, then its cancellation", calls)
	}
}
