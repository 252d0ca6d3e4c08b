package order

import (
	"errors"
	"testing"
	"time"
)

func TestQueueEntryState(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		e    QueueEntry
		want QueueEntryState
	}{
		{"new", QueueEntry{NextAttemptAt: now.Add(-time.Second)}, QueueEntryPending},
		{"new, not yet due", QueueEntry{NextAttemptAt: now.Add(time.Second)}, QueueEntryPending},
		{"leased", QueueEntry{Attempts: 1, LeaseUntil: now.Add(time.Second), NextAttemptAt: now.Add(time.Minute)}, QueueEntryInFlight},
		{"lease ran out, backing off", QueueEntry{Attempts: 1, LeaseUntil: now, NextAttemptAt: now.Add(time.Minute)}, QueueEntryBackingOff},
		{"failed, due again", QueueEntry{Attempts: 3, NextAttemptAt: now}, QueueEntryPending},
	} {
		if got := tc.e.State(now); got != tc.want {
			t.Errorf("%s: state %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestActivityCountsTheLastHour: submissions older than an hour drop out
// of the count, and a minute slot reused an hour later starts again.
func TestActivityCountsTheLastHour(t *testing.T) {
	t.Parallel()
	var a activity
	t0 := time.Date(2026, 12, 7, 10, 0, 30, 0, time.UTC)
	for _, at := range []time.Time{t0, t0.Add(time.Second), t0.Add(30 * time.Minute), t0.Add(60 * time.Minute)} {
		a.submitted(at)
	}
	a.failed(t0.Add(61*time.Minute), errors.New("erp down"))
	var st QueueStatus
	a.read(t0.Add(61*time.Minute), &st)
	// t0's minute slot was reused at t0+60m; t0+30m and t0+60m remain.
	if st.SubmittedLastHour != 2 || !st.LastSuccessAt.Equal(t0.Add(60*time.Minute)) || st.LastError != "erp down" ||
		!st.LastErrorAt.Equal(t0.Add(61*time.Minute)) {
		t.Errorf("status = %+v, want 2 submissions in the last hour, the last success and the error", st)
	}
	var later QueueStatus
	a.read(t0.Add(3*time.Hour), &later)
	if later.SubmittedLastHour != 0 {
		t.Errorf("two hours later: %d submissions in the last hour, want 0", later.SubmittedLastHour)
	}
}

func TestSubmissionFailedAtEachMultiple(t *testing.T) {
	t.Parallel()
	w := &Worker{cfg: WorkerConfig{FailureExceptionAfter: 3}.withDefaults()}
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	var raisedAt []int
	for n := range 10 {
		if exs := w.submissionFailed(QueueEntry{OrderID: "O-1", Action: ActionSubmit, Attempts: n, LastError: "boom"}, now); len(exs) > 0 {
			raisedAt = append(raisedAt, n)
			ex := exs[0]
			if ex.Kind != ExceptionERPSubmissionFailed || ex.Resource != "orders/O-1" || ex.Details["order"] != "orders/O-1" || ex.Details["lastError"] != "boom" {
				t.Errorf("exception at %d = %+v", n, ex)
			}
		}
	}
	if len(raisedAt) != 3 || raisedAt[0] != 3 || raisedAt[1] != 6 || raisedAt[2] != 9 {
		t.Errorf("raised at attempts %v, want 3, 6, 9", raisedAt)
	}
}
