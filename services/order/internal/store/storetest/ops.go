package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/services/order/internal/order"
)

const (
	subjectException = eventstreams.ExceptionRaised
	subjectAudit     = eventstreams.AuditRecorded
)

// testOpsEvents: exceptions and audit records are written with the change
// that causes them, and not at all when the change fails.
func testOpsEvents(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := t.Context()
	create(t, s, NewOrder("O-x", "C0001", t0))
	want := []OpsEvent{{subjectAudit, "orders/O-x", order.AuditOrderCreate}}
	if diff := cmp.Diff(want, h.OpsEvents(t, s)); diff != "" {
		t.Fatalf("after create (-want +got):\n%s", diff)
	}
	reject := func(o *order.Order) (order.Effects, error) {
		before := o.Clone()
		o.History = append(o.History, order.StateChange{From: o.State, To: order.StateRejected, At: t0.Add(time.Minute), Actor: order.SystemActor})
		o.State, o.Rejection = order.StateRejected, &order.Rejection{Reason: order.RejectionCreditLimit, Message: "over limit", ERPCode: "CL"}
		return order.Effects{
			Events:     []order.Event{{Type: order.EventRejected, Order: o.Clone()}},
			ERPQueue:   order.QueueRemove,
			Exceptions: []order.Exception{{Kind: order.ExceptionERPRejection, Resource: "orders/O-x", OrderID: "O-x", Message: "rejected", Details: map[string]string{"order": "orders/O-x", "erpCode": "CL", "erpMessage": "over limit"}, OccurredAt: t0}},
			Audits:     []order.Audit{{Actor: order.ServiceActor, Action: order.AuditOrderReject, Target: "orders/O-x", Before: before, After: o, OccurredAt: t0}},
		}, nil
	}
	// A failing change writes none of them.
	boom := errors.New("boom")
	if _, err := s.UpdateOrder(ctx, "O-x", nil, func(o *order.Order) (order.Effects, error) {
		eff, _ := reject(o)
		return eff, boom
	}); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if diff := cmp.Diff(want, h.OpsEvents(t, s)); diff != "" {
		t.Fatalf("after a failed change (-want +got):\n%s", diff)
	}
	if _, err := s.UpdateOrder(ctx, "O-x", nil, reject); err != nil {
		t.Fatal(err)
	}
	want = append(want, OpsEvent{subjectException, "orders/O-x", "KIND_ERP_REJECTION"}, OpsEvent{subjectAudit, "orders/O-x", order.AuditOrderReject})
	if diff := cmp.Diff(want, h.OpsEvents(t, s)); diff != "" {
		t.Errorf("after the rejection (-want +got):\n%s", diff)
	}
	if evs := h.Events(t, s, "O-x"); len(evs) != 2 || evs[1].Subject != "transload.order.rejected" || evs[1].Sequence != 2 {
		t.Errorf("order events = %+v, want accepted and rejected with sequences 1, 2 (ops events take none of the order's)", evs)
	}
}

// testReapClaim: reaping deletes the claim and raises its exception in one
// transaction; a claim no longer owned is neither deleted nor raised.
func testReapClaim(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := t.Context()
	c := claim("reap-me", "h", time.Now().Add(time.Minute))
	mustClaim(t, s, c)
	ex := order.Exception{Kind: order.ExceptionClaimReaped, Resource: "orders:claims/reap-me", Message: "reaped",
		Details: map[string]string{"requestId": "reap-me", "claimedAt": t0.Format(time.RFC3339Nano)}, OccurredAt: t0}
	lost := order.ClaimRef{Kind: c.Kind, RequestID: c.RequestID, Owner: "not-the-owner"}
	if err := s.ReapClaim(ctx, lost, ex); !errors.Is(err, order.ErrClaimLost) {
		t.Fatalf("reap by a non-owner: err = %v, want ErrClaimLost", err)
	}
	if evs := h.OpsEvents(t, s); len(evs) != 0 {
		t.Fatalf("exception raised by a failed reap: %+v", evs)
	}
	if err := s.ReapClaim(ctx, order.ClaimRef{Kind: c.Kind, RequestID: c.RequestID, Owner: c.Owner}, ex); err != nil {
		t.Fatal(err)
	}
	want := []OpsEvent{{subjectException, "orders:claims/reap-me", "KIND_ORDER_CLAIM_REAPED"}}
	if diff := cmp.Diff(want, h.OpsEvents(t, s)); diff != "" {
		t.Errorf("after the reap (-want +got):\n%s", diff)
	}
	fresh := c
	fresh.Owner, fresh.OrderID = "fresh", "O-fresh"
	if res := mustClaim(t, s, fresh); !res.Acquired || res.TakenOver {
		t.Errorf("claim after reap = %+v, want a fresh claim", res)
	}
}

// queueIDs returns the order ids of entries.
func queueIDs(entries []order.QueueEntry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.OrderID)
	}
	return out
}

// testQueueOperations: the operators' view of the ERP queue: states,
// filters, paging, per-customer blockers, get and retry.
func testQueueOperations(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := t.Context()
	// C0001: O-a (will fail), O-b, O-c; C0002: O-d (in flight); C0003: O-e.
	for i, c := range []struct{ id, cust string }{{"O-a", "C0001"}, {"O-b", "C0001"}, {"O-c", "C0001"}, {"O-d", "C0002"}, {"O-e", "C0003"}} {
		create(t, s, NewOrder(c.id, c.cust, t0.Add(time.Duration(i)*time.Second)))
	}
	all, err := s.NextQueueEntries(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	seq := map[string]int64{}
	for _, e := range all {
		seq[e.OrderID] = e.Seq
	}
	now := t0.Add(time.Minute)
	// O-a failed once and backs off for an hour; O-d is being sent.
	if err := s.StartQueueAttempt(ctx, seq["O-a"], now.Add(-time.Second), now.Add(-time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordQueueFailure(ctx, seq["O-a"], now.Add(time.Hour), "payload refused", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.StartQueueAttempt(ctx, seq["O-d"], now, now.Add(15*time.Second)); err != nil {
		t.Fatal(err)
	}

	st, err := s.QueueStats(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if st.Depth != 5 || st.InFlight != 1 || !st.OldestCreateAt.Equal(t0) {
		t.Errorf("stats = %+v, want depth 5, 1 in flight, oldest %v", st, t0)
	}

	for _, tc := range []struct {
		name string
		q    order.QueueQuery
		want []string
	}{
		{"all", order.QueueQuery{Now: now, Limit: 10}, []string{"O-a", "O-b", "O-c", "O-d", "O-e"}},
		{"in flight", order.QueueQuery{State: order.QueueEntryInFlight, Now: now, Limit: 10}, []string{"O-d"}},
		{"backing off", order.QueueQuery{State: order.QueueEntryBackingOff, Now: now, Limit: 10}, []string{"O-a"}},
		{"pending", order.QueueQuery{State: order.QueueEntryPending, Now: now, Limit: 10}, []string{"O-b", "O-c", "O-e"}},
		{"lease ran out", order.QueueQuery{State: order.QueueEntryPending, Now: now.Add(15 * time.Second), Limit: 10}, []string{"O-b", "O-c", "O-d", "O-e"}},
		{"backoff over", order.QueueQuery{State: order.QueueEntryBackingOff, Now: now.Add(time.Hour), Limit: 10}, nil},
		{"customer", order.QueueQuery{CustomerID: "C0001", Now: now, Limit: 10}, []string{"O-a", "O-b", "O-c"}},
		{"enqueue window", order.QueueQuery{EnqueuedFrom: t0.Add(time.Second), EnqueuedBefore: t0.Add(3 * time.Second), Now: now, Limit: 10}, []string{"O-b", "O-c"}},
		{"after cursor", order.QueueQuery{AfterSeq: seq["O-b"], Now: now, Limit: 2}, []string{"O-c", "O-d"}},
	} {
		got, err := s.ListQueueEntries(ctx, tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if diff := cmp.Diff(tc.want, queueIDs(got), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
		for _, e := range got {
			if tc.q.State != 0 && e.State(tc.q.Now) != tc.q.State {
				t.Errorf("%s: %s listed in state %d", tc.name, e.OrderID, e.State(tc.q.Now))
			}
		}
	}

	blockers, err := s.QueueBlockers(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(blockers) != 1 || blockers[0].Entry.OrderID != "O-a" || blockers[0].Waiting != 2 || blockers[0].Entry.LastError != "payload refused" {
		t.Errorf("blockers = %+v, want O-a with 2 waiting behind it", blockers)
	}

	got, err := s.GetQueueEntry(ctx, "O-a")
	if err != nil {
		t.Fatal(err)
	}
	wantA := order.QueueEntry{Seq: seq["O-a"], OrderID: "O-a", CustomerID: "C0001", Action: order.ActionSubmit, Attempts: 1,
		NextAttemptAt: now.Add(time.Hour), LastError: "payload refused", CreatedAt: t0}
	if diff := cmp.Diff(wantA, got); diff != "" {
		t.Errorf("GetQueueEntry (-want +got):\n%s", diff)
	}
	if _, err := s.GetQueueEntry(ctx, "O-none"); !errors.Is(err, order.ErrQueueEntryNotFound) {
		t.Errorf("GetQueueEntry(unknown): err = %v, want ErrQueueEntryNotFound", err)
	}

	// Retry makes O-a due now and records who asked, before and after.
	var before, after order.QueueEntry
	operator := order.Actor{Kind: "operator", ID: "key-ops"}
	retried, err := s.RetryQueueEntry(ctx, "O-a", now, func(b, a order.QueueEntry) order.Audit {
		before, after = b, a
		return order.Audit{Actor: operator, Action: order.AuditQueueEntryRetry, Target: order.QueueEntryName("O-a"), Before: b, After: a, OccurredAt: now}
	})
	if err != nil {
		t.Fatal(err)
	}
	wantRetried := wantA
	wantRetried.NextAttemptAt = now
	if diff := cmp.Diff(wantRetried, retried); diff != "" {
		t.Errorf("retried entry (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantA, before); diff != "" {
		t.Errorf("audit before (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantRetried, after); diff != "" {
		t.Errorf("audit after (-want +got):\n%s", diff)
	}
	if retried.State(now) != order.QueueEntryPending {
		t.Errorf("retried entry state = %d, want pending (due)", retried.State(now))
	}
	if got, _ := s.GetQueueEntry(ctx, "O-a"); !got.NextAttemptAt.Equal(now) {
		t.Errorf("stored next attempt = %v, want %v", got.NextAttemptAt, now)
	}
	if o, _ := s.GetOrder(ctx, "O-a"); !o.ERP.NextAttemptAt.Equal(now) {
		t.Errorf("order's next ERP attempt = %v, want %v", o.ERP.NextAttemptAt, now)
	}
	wantOps := OpsEvent{subjectAudit, "erpQueueEntries/O-a", order.AuditQueueEntryRetry}
	if evs := h.OpsEvents(t, s); len(evs) == 0 || evs[len(evs)-1] != wantOps {
		t.Errorf("last ops event = %+v, want %+v", evs, wantOps)
	}
	if _, err := s.RetryQueueEntry(ctx, "O-none", now, func(b, a order.QueueEntry) order.Audit {
		t.Error("audit built for a missing entry")
		return order.Audit{}
	}); !errors.Is(err, order.ErrQueueEntryNotFound) {
		t.Errorf("RetryQueueEntry(unknown): err = %v, want ErrQueueEntryNotFound", err)
	}
}

// testQueueFailureRaises: RecordQueueFailure raises what raise returns for
// the entry as updated, in the same transaction.
func testQueueFailureRaises(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := t.Context()
	create(t, s, NewOrder("O-f", "C0001", t0))
	q, err := s.NextQueueEntries(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	var seen []order.QueueEntry
	raise := func(e order.QueueEntry) []order.Exception {
		seen = append(seen, e)
		if e.Attempts%2 != 0 {
			return nil
		}
		return []order.Exception{{Kind: order.ExceptionERPSubmissionFailed, Resource: order.OrderName(e.OrderID), OrderID: e.OrderID,
			Message: fmt.Sprintf("failed %d times", e.Attempts), Details: map[string]string{"order": order.OrderName(e.OrderID), "lastError": e.LastError}}}
	}
	for i := range 4 {
		at := t0.Add(time.Duration(i) * time.Minute)
		if err := s.StartQueueAttempt(ctx, q[0].Seq, at, at.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordQueueFailure(ctx, q[0].Seq, at.Add(time.Minute), fmt.Sprintf("error %d", i+1), raise); err != nil {
			t.Fatal(err)
		}
	}
	var attempts []int
	for _, e := range seen {
		attempts = append(attempts, e.Attempts)
		if e.LastError != fmt.Sprintf("error %d", e.Attempts) || !e.LeaseUntil.IsZero() {
			t.Errorf("raise saw %+v, want the entry with this failure recorded and no lease", e)
		}
	}
	if diff := cmp.Diff([]int{1, 2, 3, 4}, attempts); diff != "" {
		t.Errorf("attempts raise saw (-want +got):\n%s", diff)
	}
	want := []OpsEvent{
		{subjectAudit, "orders/O-f", order.AuditOrderCreate},
		{subjectException, "orders/O-f", "KIND_ERP_SUBMISSION_FAILED"},
		{subjectException, "orders/O-f", "KIND_ERP_SUBMISSION_FAILED"},
	}
	if diff := cmp.Diff(want, h.OpsEvents(t, s)); diff != "" {
		t.Errorf("ops events (-want +got):\n%s", diff)
	}
}
