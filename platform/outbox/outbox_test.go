package outbox_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/transload/transload/platform/correlation"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/natstest"
)

func TestWriteValidates(t *testing.T) {
	db := openSQLite(t)
	ctx := context.Background()
	valid := outbox.Event{AggregateType: "thing", AggregateID: "a", Subject: testSubject, Payload: wrapperspb.String("x")}
	tests := map[string]func(*outbox.Event){
		"no aggregate type": func(e *outbox.Event) { e.AggregateType = "" },
		"no aggregate id":   func(e *outbox.Event) { e.AggregateID = "" },
		"no payload":        func(e *outbox.Event) { e.Payload = nil },
		"no subject":        func(e *outbox.Event) { e.Subject = "" },
		"wildcard subject":  func(e *outbox.Event) { e.Subject = "transload.*.x" },
		"empty token":       func(e *outbox.Event) { e.Subject = "transload..x" },
		"space in subject":  func(e *outbox.Event) { e.Subject = "transload.a b" },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			ev := valid
			mutate(&ev)
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				_, err := outbox.Write(ctx, tx, db.Dialect(), ev)
				return err
			})
			if !errors.Is(err, outbox.ErrInvalidEvent) {
				t.Fatalf("Write error = %v, want ErrInvalidEvent", err)
			}
		})
	}
}

func TestWriteStoresMetadataAndSequences(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		ctx := correlation.WithID(context.Background(), "corr-123")
		sc := trace.NewSpanContext(trace.SpanContextConfig{
			TraceID:    trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
			SpanID:     trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
			TraceFlags: trace.FlagsSampled,
		})
		ctx = trace.ContextWithSpanContext(ctx, sc)

		var got []int64
		for _, agg := range []string{"a", "b", "a", "a", "b"} {
			w, err := writeEvent(ctx, db, agg, "v")
			if err != nil {
				t.Fatalf("write: %v", err)
			}
			got = append(got, w.Sequence)
		}
		if diff := cmp.Diff([]int64{1, 1, 2, 3, 2}, got); diff != "" {
			t.Errorf("sequences (-want +got):\n%s", diff)
		}

		s := natstest.Start(t)
		_, js := natstest.Connect(t, s)
		ensureStream(t, js)
		relay, err := outbox.NewRelay(db, js)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := relay.RunOnce(ctx); err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		msgs := readStream(t, js)
		if len(msgs) != 5 {
			t.Fatalf("stream has %d messages, want 5", len(msgs))
		}
		var h map[string]string
		for _, m := range msgs {
			if m.Aggregate == "a" && m.Sequence == 1 {
				h = m.Headers
			}
		}
		want := map[string]string{
			outbox.HeaderCorrelationID: "corr-123",
			outbox.HeaderTraceparent:   "00-0102030405060708090a0b0c0d0e0f10-0102030405060708-01",
			outbox.HeaderEventType:     "google.protobuf.StringValue",
			outbox.HeaderAggregateType: "thing",
			outbox.HeaderAggregateID:   "a",
			outbox.HeaderSequence:      "1",
		}
		for k, v := range want {
			if h[k] != v {
				t.Errorf("header %s = %q, want %q", k, h[k], v)
			}
		}
		if h[outbox.HeaderMsgID] == "" || h[outbox.HeaderMsgID] != h[outbox.HeaderEventID] {
			t.Errorf("Nats-Msg-Id = %q, event id = %q; want equal and non-empty", h[outbox.HeaderMsgID], h[outbox.HeaderEventID])
		}
		if _, err := time.Parse(time.RFC3339Nano, h[outbox.HeaderOccurredAt]); err != nil {
			t.Errorf("occurred-at header %q: %v", h[outbox.HeaderOccurredAt], err)
		}
	})
}

func TestRolledBackTransactionPublishesNothing(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := natstest.Start(t)
		_, js := natstest.Connect(t, s)
		ensureStream(t, js)

		errBusiness := errors.New("business rule failed")
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := outbox.Write(ctx, tx, db.Dialect(), outbox.Event{
				AggregateType: "thing", AggregateID: "a", Subject: testSubject, Payload: wrapperspb.String("rolled back"),
			}); err != nil {
				return err
			}
			return errBusiness
		})
		if !errors.Is(err, errBusiness) {
			t.Fatalf("InTx = %v, want the business error", err)
		}
		// A committed event after the rollback proves the relay ran and
		// that the rolled-back write did not consume a sequence number.
		w, err := writeEvent(ctx, db, "a", "committed")
		if err != nil {
			t.Fatal(err)
		}
		if w.Sequence != 1 {
			t.Errorf("sequence after rollback = %d, want 1", w.Sequence)
		}
		relay, err := outbox.NewRelay(db, js)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := relay.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		msgs := readStream(t, js)
		if len(msgs) != 1 || msgs[0].Value != "committed" {
			t.Fatalf("stream = %+v, want only the committed event", msgs)
		}
	})
}

func TestPublishedOnceWhenRelayDiesBeforeMark(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := natstest.Start(t)
		_, js := natstest.Connect(t, s)
		ensureStream(t, js)
		if _, err := writeEvent(ctx, db, "a", "once"); err != nil {
			t.Fatal(err)
		}

		crashed := errors.New("relay killed after publish")
		first, err := outbox.NewRelay(db, js)
		if err != nil {
			t.Fatal(err)
		}
		outbox.SetAfterPublishHook(first, func(context.Context, outbox.Row) error { return crashed })
		if _, err := first.RunOnce(ctx); !errors.Is(err, crashed) {
			t.Fatalf("first relay RunOnce = %v, want the crash", err)
		}
		if n := unpublishedCount(t, db); n != 1 {
			t.Fatalf("unpublished after crash = %d, want 1 (row must not be marked)", n)
		}
		if got := len(readStream(t, js)); got != 1 {
			t.Fatalf("stream after first relay has %d messages, want 1", got)
		}

		reg := prometheus.NewRegistry()
		second, err := outbox.NewRelay(db, js, outbox.WithRegisterer(reg))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := second.RunOnce(ctx); err != nil {
			t.Fatalf("second relay: %v", err)
		}
		if n := unpublishedCount(t, db); n != 0 {
			t.Fatalf("unpublished after second relay = %d, want 0", n)
		}
		if got := len(readStream(t, js)); got != 1 {
			t.Fatalf("stream has %d messages after republish, want exactly 1", got)
		}
		if got := metricValue(t, reg, "transload_outbox_duplicate_publishes_total"); got != 1 {
			t.Errorf("duplicate publishes = %v, want 1", got)
		}
	})
}

func TestPerAggregateOrderWithConcurrentWriters(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s := natstest.Start(t)
		_, js := natstest.Connect(t, s)
		ensureStream(t, js)

		relay, err := outbox.NewRelay(db, js, outbox.WithPollInterval(5*time.Millisecond), outbox.WithBatchSize(7))
		if err != nil {
			t.Fatal(err)
		}
		relayDone := make(chan error, 1)
		go func() { relayDone <- relay.Run(ctx) }()

		const (
			aggregates = 4
			writers    = 3 // per aggregate, concurrently
			perWriter  = 10
		)
		var wg sync.WaitGroup
		errs := make(chan error, aggregates*writers)
		for a := range aggregates {
			for w := range writers {
				wg.Go(func() {
					for i := range perWriter {
						if _, err := writeEvent(ctx, db, fmt.Sprintf("agg-%d", a), fmt.Sprintf("w%d-%d", w, i)); err != nil {
							errs <- err
							return
						}
						relay.Notify()
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("write: %v", err)
		}
		total := aggregates * writers * perWriter
		eventually(t, 20*time.Second, "all events published", func() (bool, error) {
			return unpublishedCount(t, db) == 0, nil
		})
		cancel()
		if err := <-relayDone; err != nil {
			t.Fatalf("Run: %v", err)
		}

		msgs := readStream(t, js)
		if len(msgs) != total {
			t.Fatalf("stream has %d messages, want %d", len(msgs), total)
		}
		assertPerAggregateOrder(t, msgs, aggregates, writers*perWriter)
		// Each writer's own events keep their order within the aggregate.
		lastPerWriter := map[string]int{}
		for _, m := range msgs {
			var w, i int
			if _, err := fmt.Sscanf(m.Value, "w%d-%d", &w, &i); err != nil {
				t.Fatal(err)
			}
			key := m.Aggregate + "/" + fmt.Sprint(w)
			if last, ok := lastPerWriter[key]; ok && i <= last {
				t.Fatalf("writer %s: event %d after %d", key, i, last)
			}
			lastPerWriter[key] = i
		}
	})
}

// assertPerAggregateOrder checks that every aggregate's messages appear in
// the stream with sequences exactly 1..perAggregate, in order.
func assertPerAggregateOrder(t *testing.T, msgs []streamMsg, aggregates, perAggregate int) {
	t.Helper()
	next := map[string]int64{}
	for _, m := range msgs {
		want := next[m.Aggregate] + 1
		if m.Sequence != want {
			t.Fatalf("aggregate %s: got sequence %d, want %d", m.Aggregate, m.Sequence, want)
		}
		next[m.Aggregate] = want
	}
	if len(next) != aggregates {
		t.Fatalf("saw %d aggregates, want %d", len(next), aggregates)
	}
	for agg, n := range next {
		if n != int64(perAggregate) {
			t.Errorf("aggregate %s: %d events, want %d", agg, n, perAggregate)
		}
	}
}

func TestRelayRestartLosesNothing(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := natstest.Start(t)
		_, js := natstest.Connect(t, s)
		ensureStream(t, js)

		const aggregates, perAggregate = 3, 20
		for i := range perAggregate {
			for a := range aggregates {
				if _, err := writeEvent(ctx, db, fmt.Sprintf("agg-%d", a), fmt.Sprint(i)); err != nil {
					t.Fatal(err)
				}
			}
		}

		// The first relay is stopped (its context cancelled) after 25
		// publishes, in the middle of a round.
		runCtx, stop := context.WithCancel(ctx)
		first, err := outbox.NewRelay(db, js, outbox.WithBatchSize(10), outbox.WithConcurrency(2), outbox.WithPollInterval(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		published := 0
		outbox.SetAfterPublishHook(first, func(context.Context, outbox.Row) error {
			mu.Lock()
			defer mu.Unlock()
			published++
			if published == 25 {
				stop()
			}
			return nil
		})
		if err := first.Run(runCtx); err != nil {
			t.Fatal(err)
		}
		left := unpublishedCount(t, db)
		if left == 0 || left == aggregates*perAggregate {
			t.Fatalf("after stopping midway %d rows unpublished; want some but not all", left)
		}

		second, err := outbox.NewRelay(db, js, outbox.WithBatchSize(10))
		if err != nil {
			t.Fatal(err)
		}
		for unpublishedCount(t, db) > 0 {
			if _, err := second.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		msgs := readStream(t, js)
		if len(msgs) != aggregates*perAggregate {
			t.Fatalf("stream has %d messages, want %d", len(msgs), aggregates*perAggregate)
		}
		assertPerAggregateOrder(t, msgs, aggregates, perAggregate)
	})
}

func TestFailedPublishHoldsBackLaterEventsOfAggregate(t *testing.T) {
	db := openSQLite(t)
	ctx := context.Background()
	s := natstest.Start(t)
	_, js := natstest.Connect(t, s)
	ensureStream(t, js)

	for _, agg := range []string{"a", "b", "a", "b"} {
		if _, err := writeEvent(ctx, db, agg, agg); err != nil {
			t.Fatal(err)
		}
	}
	relay, err := outbox.NewRelay(db, js)
	if err != nil {
		t.Fatal(err)
	}
	// Publishing "a"#1 fails by making JetStream reject it: the hook runs
	// after the publish, so instead fail the first publish of "a" by
	// pointing its row at a subject no stream captures.
	if _, err := db.SQL().ExecContext(ctx, db.Rebind(
		`UPDATE outbox_events SET subject = 'nostream.here' WHERE aggregate_id = ? AND aggregate_seq = 1`), "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := relay.RunOnce(ctx); err == nil {
		t.Fatal("RunOnce succeeded, want the publish failure")
	}
	msgs := readStream(t, js)
	var got []string
	for _, m := range msgs {
		got = append(got, fmt.Sprintf("%s#%d", m.Aggregate, m.Sequence))
	}
	if diff := cmp.Diff([]string{"b#1", "b#2"}, got); diff != "" {
		t.Fatalf("published (-want +got):\n%s", diff)
	}
	if n := unpublishedCount(t, db); n != 2 {
		t.Fatalf("unpublished = %d, want 2 (a#1 and a#2)", n)
	}
	// Fix the row; the next round publishes a#1 then a#2.
	if _, err := db.SQL().ExecContext(ctx, db.Rebind(
		`UPDATE outbox_events SET subject = ? WHERE aggregate_id = ? AND aggregate_seq = 1`), testSubject, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := relay.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	assertPerAggregateOrder(t, readStream(t, js), 2, 2)
}

func TestLagMetrics(t *testing.T) {
	db := openSQLite(t)
	ctx := context.Background()
	s := natstest.Start(t)
	_, js := natstest.Connect(t, s)
	// No stream yet: publishes fail and the backlog shows in the gauges.
	now := time.Now()
	clock := func() time.Time { return now }
	reg := prometheus.NewRegistry()
	relay, err := outbox.NewRelay(db, js, outbox.WithRegisterer(reg), outbox.WithClock(clock),
		outbox.WithPublishTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for _, agg := range []string{"a", "b", "c"} {
		if _, err := writeEvent(ctx, db, agg, "x"); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(90 * time.Second)
	if _, err := relay.RunOnce(ctx); err == nil {
		t.Fatal("RunOnce without a stream succeeded")
	}
	if got := metricValue(t, reg, "transload_outbox_unpublished_events"); got != 3 {
		t.Errorf("unpublished gauge = %v, want 3", got)
	}
	if got := metricValue(t, reg, "transload_outbox_oldest_unpublished_age_seconds"); got < 89 || got > 91 {
		t.Errorf("oldest age gauge = %v, want about 90", got)
	}
	if got := metricValue(t, reg, "transload_outbox_publish_failures_total"); got != 3 {
		t.Errorf("failures = %v, want 3", got)
	}

	ensureStream(t, js)
	if _, err := relay.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := metricValue(t, reg, "transload_outbox_unpublished_events"); got != 0 {
		t.Errorf("unpublished gauge after publish = %v, want 0", got)
	}
	if got := metricValue(t, reg, "transload_outbox_oldest_unpublished_age_seconds"); got != 0 {
		t.Errorf("oldest age gauge after publish = %v, want 0", got)
	}
	if got := metricValue(t, reg, "transload_outbox_published_total"); got != 3 {
		t.Errorf("published = %v, want 3", got)
	}
}

func TestPurgeKeepsUnpublishedAndSequences(t *testing.T) {
	db := openSQLite(t)
	ctx := context.Background()
	s := natstest.Start(t)
	_, js := natstest.Connect(t, s)
	ensureStream(t, js)
	if _, err := writeEvent(ctx, db, "a", "1"); err != nil {
		t.Fatal(err)
	}
	relay, err := outbox.NewRelay(db, js)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := relay.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := writeEvent(ctx, db, "a", "2"); err != nil {
		t.Fatal(err)
	}
	n, err := outbox.Purge(ctx, db, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("purged %d rows, want 1", n)
	}
	if got := unpublishedCount(t, db); got != 1 {
		t.Fatalf("unpublished after purge = %d, want 1", got)
	}
	w, err := writeEvent(ctx, db, "a", "3")
	if err != nil {
		t.Fatal(err)
	}
	if w.Sequence != 3 {
		t.Fatalf("sequence after purge = %d, want 3", w.Sequence)
	}
}

func TestNATSRestartRelayResumes(t *testing.T) {
	db := openSQLite(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := natstest.Start(t)
	_, js := natstest.Connect(t, s)
	ensureStream(t, js)

	relay, err := outbox.NewRelay(db, js, outbox.WithPollInterval(10*time.Millisecond),
		outbox.WithPublishTimeout(300*time.Millisecond), outbox.WithLogger(discardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()

	// The restart lands while the relay is publishing the first half.
	for i := range 20 {
		if i == 10 {
			s = natstest.Restart(t, s)
		}
		if _, err := writeEvent(ctx, db, "a", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
		relay.Notify()
	}
	eventually(t, 20*time.Second, "all events published after NATS restart", func() (bool, error) {
		return unpublishedCount(t, db) == 0, nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	msgs := readStream(t, js)
	if len(msgs) != 20 {
		t.Fatalf("stream has %d messages, want 20", len(msgs))
	}
	assertPerAggregateOrder(t, msgs, 1, 20)
}

func TestBatchedMarksDoNotRepublish(t *testing.T) {
	db := openSQLite(t)
	ctx, cancel := context.WithCancel(context.Background())
	s := natstest.Start(t)
	_, js := natstest.Connect(t, s)
	ensureStream(t, js)
	reg := prometheus.NewRegistry()
	relay, err := outbox.NewRelay(db, js, outbox.WithRegisterer(reg), outbox.WithMarkInterval(time.Hour),
		outbox.WithPollInterval(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()
	for i := range 5 {
		if _, err := writeEvent(ctx, db, "a", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
		relay.Notify()
	}
	eventually(t, 10*time.Second, "5 messages in the stream", func() (bool, error) {
		return len(readStream(t, js)) == 5, nil
	})
	// Many more rounds run while the marks are held back; none may
	// republish the held rows.
	for range 20 {
		relay.Notify()
		time.Sleep(time.Millisecond)
	}
	if n := unpublishedCount(t, db); n != 5 {
		t.Fatalf("unmarked rows before stop = %d, want 5 (marks are batched for an hour)", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := unpublishedCount(t, db); n != 0 {
		t.Fatalf("unmarked rows after stop = %d, want 0 (Run marks on exit)", n)
	}
	if got := metricValue(t, reg, "transload_outbox_duplicate_publishes_total"); got != 0 {
		t.Errorf("duplicate publishes = %v, want 0", got)
	}
	if got := metricValue(t, reg, "transload_outbox_published_total"); got != 5 {
		t.Errorf("published = %v, want 5", got)
	}
	assertPerAggregateOrder(t, readStream(t, js), 1, 5)
}

func TestRelayPurgesOldPublishedRows(t *testing.T) {
	db := openSQLite(t)
	ctx := context.Background()
	s := natstest.Start(t)
	_, js := natstest.Connect(t, s)
	ensureStream(t, js)
	now := time.Now()
	relay, err := outbox.NewRelay(db, js, outbox.WithPurgeAfter(time.Hour), outbox.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writeEvent(ctx, db, "a", "1"); err != nil {
		t.Fatal(err)
	}
	rowCount := func() int {
		var n int
		if err := db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox_events`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := relay.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := rowCount(); n != 1 {
		t.Fatalf("rows right after publishing = %d, want 1 (kept for an hour)", n)
	}
	now = now.Add(2 * time.Hour)
	if _, err := relay.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := rowCount(); n != 0 {
		t.Fatalf("rows two hours after publishing = %d, want 0", n)
	}
}

// TestLateCommittedLowerIDIsPublished covers PostgreSQL handing out ids at
// insert time: a transaction that inserted first but commits after a later
// one leaves a row below the relay's scan cursor, which the relay must
// still find.
func TestLateCommittedLowerIDIsPublished(t *testing.T) {
	db := sqldbtest.OpenPostgres(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := outbox.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	s := natstest.Start(t)
	_, js := natstest.Connect(t, s)
	ensureStream(t, js)

	slow, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := outbox.Write(ctx, slow, db.Dialect(), outbox.Event{
		AggregateType: "thing", AggregateID: "slow", Subject: testSubject, Payload: wrapperspb.String("slow"),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := writeEvent(ctx, db, "fast", "fast"); err != nil {
		t.Fatal(err)
	}

	relay, err := outbox.NewRelay(db, js, outbox.WithPollInterval(5*time.Millisecond),
		outbox.WithMarkInterval(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()
	eventually(t, 10*time.Second, "fast event published", func() (bool, error) {
		return len(readStream(t, js)) == 1, nil
	})
	if err := slow.Commit(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "late-committed event published", func() (bool, error) {
		return len(readStream(t, js)) == 2, nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	var got []string
	for _, m := range readStream(t, js) {
		got = append(got, m.Value)
	}
	if diff := cmp.Diff([]string{"fast", "slow"}, got); diff != "" {
		t.Errorf("stream (-want +got):\n%s", diff)
	}
}

// TestLateCommittedEventIsNotOvertaken: on PostgreSQL an event that
// committed after a later id was published must still go out before the
// next event of its own aggregate, even while marks are held back.
func TestLateCommittedEventIsNotOvertaken(t *testing.T) {
	db := sqldbtest.OpenPostgres(t)
	ctx := context.Background()
	if err := outbox.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	s := natstest.Start(t)
	_, js := natstest.Connect(t, s)
	ensureStream(t, js)
	relay, err := outbox.NewRelay(db, js, outbox.WithMarkInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}

	slow, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := outbox.Write(ctx, slow, db.Dialect(), outbox.Event{
		AggregateType: "thing", AggregateID: "x", Subject: testSubject, Payload: wrapperspb.String("x1"),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := writeEvent(ctx, db, "y", "y1"); err != nil {
		t.Fatal(err)
	}
	if _, err := outbox.RoundWithoutMark(ctx, relay); err != nil {
		t.Fatal(err)
	}
	if err := slow.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := writeEvent(ctx, db, "x", "x2"); err != nil {
		t.Fatal(err)
	}
	if _, err := outbox.RoundWithoutMark(ctx, relay); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range readStream(t, js) {
		got = append(got, m.Value)
	}
	if diff := cmp.Diff([]string{"y1", "x1", "x2"}, got); diff != "" {
		t.Errorf("stream (-want +got):\n%s", diff)
	}
}
