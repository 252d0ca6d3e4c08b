package events_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/sqldb"
)

// countProcessed counts consumer's processed-event rows.
func countProcessed(t testing.TB, db *sqldb.DB, consumer string) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRowContext(context.Background(),
		db.Rebind(`SELECT COUNT(*) FROM events_processed WHERE consumer = ?`), consumer).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// oddOnly keeps e1, e3, … and filters the even events.
func oddOnly(_ context.Context, ev events.Event) (bool, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(ev.ID, "e"))
	if err != nil {
		return false, err
	}
	return n%2 == 1, nil
}

// Filtered events are acknowledged without a transaction (no commit, no
// processed-event row, no handler call); kept ones are applied in order,
// one at a time and in batches.
func TestFilterAcknowledgesWithoutATransaction(t *testing.T) {
	for _, batch := range []int{1, 64} {
		t.Run(fmt.Sprint("batch", batch), func(t *testing.T) {
			db := openSQLite(t)
			js := startStream(t)
			reg := prometheus.NewRegistry()
			name := fmt.Sprint("filter", batch)
			var calls atomic.Int32
			h := recordingHandler(db.Dialect(), name, func(events.Event) error { calls.Add(1); return nil })

			// Only even (filtered) events first: nothing is written.
			for i := 2; i <= 20; i += 2 {
				publish(t, js, testEvent{ID: fmt.Sprint("e", i), Aggregate: "a", Seq: int64(i), Value: fmt.Sprint(i)}, "")
			}
			c0, _ := db.CommitStats()
			c := newConsumer(t, db, js, events.ConsumerConfig{Name: name}, h, reg, events.WithBatch(batch), events.WithFilter(oddOnly))
			runConsumer(t, c)
			eventually(t, 10*time.Second, "10 filtered", func() bool { return outcome(t, reg, name, "filtered") == 10 })
			if c1, _ := db.CommitStats(); c1 != c0 {
				t.Errorf("%d commits for 10 filtered events, want 0", c1-c0)
			}
			if n := countProcessed(t, db, name); n != 0 {
				t.Errorf("%d processed-event rows for filtered events, want 0", n)
			}
			if calls.Load() != 0 {
				t.Errorf("handler called %d times for filtered events", calls.Load())
			}
			cons, err := js.Consumer(context.Background(), testStream, name)
			if err != nil {
				t.Fatal(err)
			}
			eventually(t, 5*time.Second, "filtered events acknowledged", func() bool {
				info, err := cons.Info(context.Background())
				return err == nil && info.NumAckPending == 0 && info.AckFloor.Stream == 10
			})

			// Mixed: the odd ones are applied, in order, the even ones not.
			for i := 1; i <= 19; i += 2 {
				publish(t, js, testEvent{ID: fmt.Sprint("e", i), Aggregate: "a", Seq: int64(i), Value: fmt.Sprint(i)}, "")
				publish(t, js, testEvent{ID: fmt.Sprint("e", i+21), Aggregate: "a", Seq: int64(i + 21), Value: fmt.Sprint(i + 21)}, "")
			}
			eventually(t, 10*time.Second, "all resolved", func() bool {
				return outcome(t, reg, name, "applied") == 10 && outcome(t, reg, name, "filtered") == 20
			})
			want := []string{}
			for i := 1; i <= 19; i += 2 {
				want = append(want, fmt.Sprintf("a#%d=%d", i, i))
			}
			if got := values(readApplied(t, db, name)); got != strings.Join(want, ",") {
				t.Errorf("applied %s, want %s", got, strings.Join(want, ","))
			}
			if n := countProcessed(t, db, name); n != 10 {
				t.Errorf("%d processed-event rows, want 10 (the kept events)", n)
			}
		})
	}
}

// A filter error is a failed attempt: the event is retried (in a batch,
// the events after it wait) and then applied in order.
func TestFilterErrorIsRetriedInOrder(t *testing.T) {
	for _, batch := range []int{1, 64} {
		t.Run(fmt.Sprint("batch", batch), func(t *testing.T) {
			db := openSQLite(t)
			js := startStream(t)
			reg := prometheus.NewRegistry()
			name := fmt.Sprint("filtererr", batch)
			var fails atomic.Int32
			filter := func(_ context.Context, ev events.Event) (bool, error) {
				if ev.ID == "e3" && fails.Add(1) <= 2 {
					return false, errors.New("subscriptions unavailable")
				}
				return true, nil
			}
			c := newConsumer(t, db, js, events.ConsumerConfig{Name: name, MaxDeliver: 5,
				Backoff: []time.Duration{20 * time.Millisecond}}, recordingHandler(db.Dialect(), name, nil), reg,
				events.WithBatch(batch), events.WithFilter(filter))
			publishSeq(t, js, 1, 6)
			runConsumer(t, c)
			eventually(t, 10*time.Second, "6 applied", func() bool { return len(readApplied(t, db, name)) >= 6 })
			if got := values(readApplied(t, db, name)); got != wantSeq(1, 6) {
				t.Errorf("applied %s, want 1..6 in order", got)
			}
			if got := outcome(t, reg, name, "retried"); got != 2 {
				t.Errorf("retried = %v, want 2", got)
			}
		})
	}
}

// A batch consumer evaluates the events it holds in one filter round
// (FilterRound: one id for all, so a filter may read its state once);
// without batches every event is a round of its own.
func TestFilterRounds(t *testing.T) {
	for _, batch := range []int{1, 64} {
		t.Run(fmt.Sprint("batch", batch), func(t *testing.T) {
			db := openSQLite(t)
			js := startStream(t)
			name := fmt.Sprint("rounds", batch)
			publishSeq(t, js, 1, 10) // a backlog: one pull takes it whole
			var mu sync.Mutex
			rounds := map[uint64]int{}
			filter := func(ctx context.Context, _ events.Event) (bool, error) {
				mu.Lock()
				defer mu.Unlock()
				rounds[events.FilterRound(ctx)]++
				return false, nil
			}
			reg := prometheus.NewRegistry()
			c := newConsumer(t, db, js, events.ConsumerConfig{Name: name}, recordingHandler(db.Dialect(), name, nil), reg,
				events.WithBatch(batch), events.WithFilter(filter))
			runConsumer(t, c)
			eventually(t, 10*time.Second, "10 filtered", func() bool { return outcome(t, reg, name, "filtered") == 10 })
			mu.Lock()
			defer mu.Unlock()
			if rounds[0] != 0 {
				t.Errorf("%d filter calls without a round", rounds[0])
			}
			if batch == 1 && len(rounds) != 10 {
				t.Errorf("one at a time: %d rounds for 10 events, want 10", len(rounds))
			}
			if batch > 1 && len(rounds) > 2 {
				t.Errorf("batched backlog: %d rounds for 10 events, want 1 (2 if the pull split)", len(rounds))
			}
		})
	}
	if events.FilterRound(context.Background()) != 0 {
		t.Error("FilterRound outside a filter is not 0")
	}
}
