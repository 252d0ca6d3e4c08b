package grpcapi_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/services/order/internal/order"
)

// queueBacklog places n orders spread over customers (C1001, C1002, ...,
// of this test only) while no worker runs, so they wait in the ERP queue
// as after an outage, and returns their ids.
func queueBacklog(t *testing.T, e *env, prefix string, n, customers int) []string {
	t.Helper()
	for c := range customers {
		e.erp.AddCustomer(fmt.Sprintf("C%04d", 1001+c), erpv1.Customer_ACCOUNT_STATE_ACTIVE)
	}
	ids := make([]string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			r := createReq(fmt.Sprint(prefix, i), fmt.Sprintf("C%04d", 1001+i%customers), line{fmt.Sprintf("SKU-%05d", 200+i%100), 1})
			o, err := e.client.CreateOrder(t.Context(), r)
			if err != nil {
				t.Errorf("order %d: %v", i, err)
				return
			}
			ids[i] = o.GetOrder().GetOrderId()
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return ids
}

// TestDrainCommitsPerOrder: draining a backlog of 500 submissions of 50
// customers costs well under one database commit per order: the worker
// starts the entries it hands out together in one transaction and records
// the ERP's answers of several entries in one transaction, instead of a
// start and an answer transaction per entry (2 per order, or about 1 when
// the lanes' transactions happen to share a group commit). Every order
// ends CONFIRMED after exactly one attempt.
func TestDrainCommitsPerOrder(t *testing.T) {
	t.Parallel()
	const n, customers = 500, 50
	forEachEngine(t, func(t *testing.T, e *env) {
		cs := e.store.(*countingStore) //nolint:forcetypeassert // the option below wraps it
		ids := queueBacklog(t, e, "drain-cost-", n, customers)
		calls0 := cs.counts()
		commits0, txs0 := e.db.CommitStats()
		start := time.Now()
		// A bound for -race on a loaded machine, not a speed claim.
		e.drainQueueWithin(t, 2*time.Minute)
		took := time.Since(start)
		commits1, txs1 := e.db.CommitStats()
		calls := diff(calls0, cs.counts())
		commits, txs := commits1-commits0, txs1-txs0
		t.Logf("drained %d orders in %v (%.0f/s, wall time: information only)", n, took, n/took.Seconds())
		t.Logf("draining %d orders: %d commits (%.2f per order), %d transactions (%.2f per order); store calls per order:%s",
			n, commits, float64(commits)/n, txs, float64(txs)/n, format(calls, n))
		// Per entry one attempt and one answer: 2 transactions per order
		// when each is its own; together, a few per batch of lanes.
		if most := uint64(n); txs > most {
			t.Errorf("%d transactions (%d commits) for %d drained orders, want at most %d: starts and answers are not batched",
				txs, commits, n, most)
		}
		for _, id := range ids {
			o := e.get(t, id)
			if o.GetState() != orderv1.Order_STATE_CONFIRMED || o.GetErpSubmission().GetAttemptCount() != 1 {
				t.Errorf("%s: %s after %d attempts, want CONFIRMED after 1", id, o.GetState(), o.GetErpSubmission().GetAttemptCount())
			}
		}
		if got := len(e.erp.SubmitCalls()); got != n {
			t.Errorf("ERP got %d submissions for %d orders", got, n)
		}
	}, withoutWorker, func(o *envOptions) {
		o.wrapStore = func(s order.Store) order.Store { return &countingStore{Store: s} }
	})
}
