package grpcapi_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/services/order/internal/order"
)

// randomDelay answers ERP queue calls after lo..hi, at random.
func randomDelay(lo, hi time.Duration) func() time.Duration {
	return func() time.Duration { return lo + rand.N(hi-lo) }
}

// drainQueue runs worker passes until the ERP queue is empty.
func (e *env) drainQueue(t *testing.T) {
	t.Helper()
	e.drainQueueWithin(t, waitTimeout)
}

// drainQueueWithin is drainQueue with a bound of its own.
func (e *env) drainQueueWithin(t *testing.T, limit time.Duration) {
	t.Helper()
	wait.Eventually(t, limit, "the ERP queue drained", func() error {
		e.worker.Pass(t.Context())
		st, err := e.store.QueueStats(t.Context(), time.Now())
		if err != nil {
			return err
		}
		return wait.Check(st.Depth == 0, "depth %d", st.Depth)
	})
}

// attempts returns the ERP attempt count of each order.
func (e *env) attempts(t *testing.T, ids ...string) []int32 {
	t.Helper()
	out := make([]int32, len(ids))
	for i, id := range ids {
		out[i] = e.get(t, id).GetErpSubmission().GetAttemptCount()
	}
	return out
}

// TestQueueLanesKeepEachCustomersOrder: with four lanes and an ERP that
// answers after random delays, the ERP gets every customer's submissions
// and cancellations in queue order, never two of one customer at once, at
// most four calls at once and more than one.
func TestQueueLanesKeepEachCustomersOrder(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		// A confirmed order of C0001 cancelled: its cancellation queues
		// ahead of C0001's later orders.
		first := e.create(t, createReq("lanes-first", "C0001", line{"SKU-00001", 1})).GetOrderId()
		e.worker.Pass(ctx)
		if st := e.get(t, first).GetState(); st != orderv1.Order_STATE_CONFIRMED {
			t.Fatalf("first order %s", st)
		}
		if _, err := e.client.CancelOrder(ctx, &orderv1.CancelOrderRequest{Name: "orders/" + first, RequestId: "lanes-cancel", Reason: "r"}); err != nil {
			t.Fatal(err)
		}
		want := map[string][]string{"C0001": {"submit:" + first, "cancel:" + first}}
		var ids []string
		for i := range 30 {
			customer := fmt.Sprintf("C%04d", 1+i%6)
			id := e.create(t, createReq(fmt.Sprint("lanes-", i), customer, line{"SKU-00001", 1})).GetOrderId()
			ids = append(ids, id)
			want[customer] = append(want[customer], "submit:"+id)
		}
		e.erp.SetDelay(randomDelay(5*time.Millisecond, 15*time.Millisecond))
		e.drainQueue(t)
		for _, id := range ids {
			if st := e.get(t, id).GetState(); st != orderv1.Order_STATE_CONFIRMED {
				t.Errorf("%s is %s", id, st)
			}
		}
		if diff := cmp.Diff(want, e.erp.CallsByCustomer()); diff != "" {
			t.Errorf("ERP calls per customer (-want +got):\n%s", diff)
		}
		most, overlaps := e.erp.Concurrency()
		if overlaps != 0 {
			t.Errorf("%d ERP calls started while an earlier one of the same customer was unanswered", overlaps)
		}
		if most < 2 || most > 4 {
			t.Errorf("at most %d ERP calls at once, want 2..4 (four lanes, six customers)", most)
		}
	}, withoutWorker, withQueueConcurrency(4))
}

// TestQueueLaneFailureBlocksOnlyItsCustomer: an entry the ERP refuses
// (not a dependency failure) backs off and holds back its customer's
// later entries only; the other customers' entries go out in the same
// pass.
func TestQueueLaneFailureBlocksOnlyItsCustomer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withoutWorker, withQueueConcurrency(4))
	ctx := t.Context()
	e.erp.FailCustomer("C0002", codes.InvalidArgument)
	e.erp.SetDelay(randomDelay(time.Millisecond, 5*time.Millisecond))
	var ids []string
	for i, c := range []string{"C0002", "C0001", "C0002", "C0003", "C0001", "C0003"} {
		ids = append(ids, e.create(t, createReq(fmt.Sprint("block-", i), c, line{"SKU-00001", 1})).GetOrderId())
	}
	e.worker.Pass(ctx)
	for _, i := range []int{1, 3, 4, 5} {
		if st := e.get(t, ids[i]).GetState(); st != orderv1.Order_STATE_CONFIRMED {
			t.Errorf("order %d of another customer is %s after the pass", i, st)
		}
	}
	if got := e.attempts(t, ids[0], ids[2]); !slices.Equal(got, []int32{1, 0}) {
		t.Errorf("attempts of C0002's orders = %v, want [1 0] (the later one held back)", got)
	}
	if calls := e.erp.CallsByCustomer()["C0002"]; !slices.Equal(calls, []string{"submit:" + ids[0]}) {
		t.Errorf("C0002's ERP calls = %v", calls)
	}
	e.erp.FailCustomer("C0002", codes.OK)
	if _, err := e.client.RetryErpQueueEntry(ctx, &orderv1.RetryErpQueueEntryRequest{Name: "erpQueueEntries/" + ids[0]}); err != nil {
		t.Fatal(err)
	}
	e.drainQueue(t)
	if calls := e.erp.CallsByCustomer()["C0002"]; !slices.Equal(calls, []string{"submit:" + ids[0], "submit:" + ids[0], "submit:" + ids[2]}) {
		t.Errorf("C0002's ERP calls after the retry = %v", calls)
	}
}

// TestQueueDependencyFailureHaltsAllLanes: an ERP outage halts the whole
// queue: the first pass sends no more entries than it has lanes and no
// customer's second entry; the pass after the halt probes with one entry;
// when the ERP is back everything drains in each customer's order.
func TestQueueDependencyFailureHaltsAllLanes(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		// One order per customer first, for the snapshots CreateOrder
		// falls back to while the ERP is down.
		want := map[string][]string{}
		for i := range 5 {
			c := fmt.Sprintf("C%04d", 1+i)
			id := e.create(t, createReq(fmt.Sprint("snap-", i), c, line{"SKU-00001", 1})).GetOrderId()
			want[c] = append(want[c], "submit:"+id)
		}
		e.drainQueue(t)
		e.erp.SetDown(true)
		var firsts, seconds []string
		for i := range 10 {
			c := fmt.Sprintf("C%04d", 1+i%5)
			id := e.create(t, createReq(fmt.Sprint("halt-", i), c, line{"SKU-00001", 1})).GetOrderId()
			if i < 5 {
				firsts = append(firsts, id)
			} else {
				seconds = append(seconds, id)
			}
			want[c] = append(want[c], "submit:"+id)
		}
		sum := func(ids []string) (n int32) {
			for _, a := range e.attempts(t, ids...) {
				n += a
			}
			return n
		}
		e.worker.Pass(ctx)
		if n := sum(firsts); n < 1 || n > 3 {
			t.Errorf("%d attempts in the pass that met the outage, want 1..3 (three lanes)", n)
		}
		if n := sum(seconds); n != 0 {
			t.Errorf("%d attempts on customers' second orders while the ERP is down", n)
		}
		before := sum(firsts)
		e.worker.Pass(ctx)
		if n := sum(firsts) - before; n > 1 {
			t.Errorf("%d attempts in the pass after the halt, want at most one (the probe)", n)
		}
		e.erp.SetDown(false)
		e.drainQueue(t)
		if diff := cmp.Diff(want, e.erp.CallsByCustomer()); diff != "" {
			t.Errorf("ERP calls per customer (-want +got):\n%s", diff)
		}
	}, withoutWorker, withQueueConcurrency(3))
}

// TestQueueHaltEndsWhenTheBreakerLetsATrialThrough: a queue halted by an
// ERP outage probes the ERP with a customer read whenever its breaker
// half-opens (50ms in these tests) instead of waiting out its backoff
// (here a minute): while the ERP is down the probes neither attempt the
// entry nor count attempts; once the ERP is back, the order is confirmed
// without waiting the minute.
func TestQueueHaltEndsWhenTheBreakerLetsATrialThrough(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *envOptions) {
		o.worker = func(c *order.WorkerConfig) { c.BackoffBase, c.BackoffMax = time.Minute, time.Minute }
		// Open long enough for a worker pass under -race and load to see
		// it open: with 50ms the breaker could be half-open again before
		// the pass, which then waited out the minute's backoff.
		o.erpOpenTimeout = 500 * time.Millisecond
	})
	e.createConfirmed(t, createReq("snap", "C0003", line{"SKU-00001", 1}))
	e.erp.SetDown(true)
	id := e.create(t, createReq("halted", "C0003", line{"SKU-00001", 1})).GetOrderId()
	waitEqual(t, "the first attempt", func() int32 { return e.get(t, id).GetErpSubmission().GetAttemptCount() }, 1)
	reads := e.erp.CustomerReads()
	wait.Eventually(t, waitTimeout, "probes while the ERP is down", func() error {
		n := e.erp.CustomerReads() - reads
		return wait.Check(n >= 3, "%d customer reads", n)
	})
	if n := e.get(t, id).GetErpSubmission().GetAttemptCount(); n != 1 {
		t.Errorf("%d attempts while the queue probed a down ERP, want 1", n)
	}
	e.erp.SetDown(false)
	e.waitState(t, id, orderv1.Order_STATE_CONFIRMED)
}

// answerGate is a store whose UpdateOrderFrom (the worker storing the
// ERP's answer) waits until the attempt of another order started, or a
// second.
type answerGate struct {
	order.Store
	started chan string
	// overlapped counts answers stored while a later submission started.
	overlapped atomic.Int32
}

func (s *answerGate) StartSubmission(ctx context.Context, seq int64, at, leaseUntil time.Time) (*order.Order, error) {
	o, err := s.Store.StartSubmission(ctx, seq, at, leaseUntil)
	if o != nil {
		s.started <- o.ID
	}
	return o, err
}

func (s *answerGate) UpdateOrderFrom(ctx context.Context, o *order.Order, fn func(o *order.Order) (order.Effects, error)) (*order.Order, error) {
	timeout := time.After(time.Second)
wait:
	for {
		select {
		case id := <-s.started:
			if id != o.ID {
				s.overlapped.Add(1)
				break wait
			}
		case <-timeout:
			break wait
		}
	}
	return s.Store.UpdateOrderFrom(ctx, o, fn)
}

// TestQueueLaneSendsNextWhileStoringAnswer: once the ERP answered a
// customer's entry, the customer's next entry starts while the answer is
// being stored (the two commits can share a sync), still after the ERP's
// answer; with one lane it waits until the answer is stored.
func TestQueueLaneSendsNextWhileStoringAnswer(t *testing.T) {
	t.Parallel()
	for _, lanes := range []int{2, 1} {
		t.Run(fmt.Sprint(lanes, " lanes"), func(t *testing.T) {
			t.Parallel()
			gate := &answerGate{started: make(chan string, 4)}
			e := newEnv(t, withoutWorker, withQueueConcurrency(lanes), func(o *envOptions) {
				o.wrapStore = func(s order.Store) order.Store { gate.Store = s; return gate }
			})
			a := e.create(t, createReq("gate-a", "C0001", line{"SKU-00001", 1})).GetOrderId()
			b := e.create(t, createReq("gate-b", "C0001", line{"SKU-00001", 1})).GetOrderId()
			e.worker.Pass(t.Context())
			if calls := e.erp.CallsByCustomer()["C0001"]; !slices.Equal(calls, []string{"submit:" + a, "submit:" + b}) {
				t.Errorf("ERP calls = %v", calls)
			}
			want := int32(0)
			if lanes > 1 {
				want = 1 // a's answer stored while b started; b's alone
			}
			if got := gate.overlapped.Load(); got != want {
				t.Errorf("%d answers stored while the next submission started, want %d", got, want)
			}
		})
	}
}
