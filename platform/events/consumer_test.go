package events_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/testharness/natstest"
)

func TestConsumerAppliesInOrderWithCorrelationAndTrace(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		s := natstest.Start(t)
		_, js := natstest.Connect(t, s)
		ensureStream(t, js)

		const traceparent = "00-0102030405060708090a0b0c0d0e0f10-0102030405060708-01"
		var want []string
		for i := 1; i <= 5; i++ {
			for _, agg := range []string{"a", "b", "c"} {
				publish(t, js, testEvent{ID: fmt.Sprintf("%s-%d", agg, i), Aggregate: agg, Seq: int64(i),
					Value: fmt.Sprint(i), Correlation: "corr-" + agg, Traceparent: traceparent}, "")
				want = append(want, fmt.Sprintf("%s#%d=%d", agg, i, i))
			}
		}
		c := newConsumer(t, db, js, events.ConsumerConfig{Name: "orders"}, recordingHandler(db.Dialect(), "orders", nil), nil)
		runConsumer(t, c)
		eventually(t, 10*time.Second, "15 events applied", func() bool { return len(readApplied(t, db, "orders")) == 15 })

		got := readApplied(t, db, "orders")
		// One message in flight at a time: the stream order is kept, and
		// with it every aggregate's sequence order.
		if diff := cmp.Diff(strings.Join(want, ","), values(got)); diff != "" {
			t.Errorf("applied order (-want +got):\n%s", diff)
		}
		for _, r := range got {
			if r.CorrelationID != "corr-"+r.AggregateID {
				t.Errorf("event %s: correlation id in handler ctx = %q", r.EventID, r.CorrelationID)
			}
			if r.TraceID != "0102030405060708090a0b0c0d0e0f10" {
				t.Errorf("event %s: trace id in handler ctx = %q", r.EventID, r.TraceID)
			}
		}
	})
}

func TestDuplicateDeliveryAppliedOnce(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		s := natstest.Start(t)
		_, js := natstest.Connect(t, s)
		ensureStream(t, js)
		reg := prometheus.NewRegistry()

		ev := testEvent{ID: "evt-1", Aggregate: "a", Seq: 1, Value: "once"}
		// Different Nats-Msg-Ids defeat JetStream's de-duplication: both
		// copies are stored and delivered.
		publish(t, js, ev, "msg-1")
		publish(t, js, ev, "msg-2")
		publish(t, js, testEvent{ID: "evt-2", Aggregate: "a", Seq: 2, Value: "sentinel"}, "")

		c := newConsumer(t, db, js, events.ConsumerConfig{Name: "dups"}, recordingHandler(db.Dialect(), "dups", nil), reg)
		runConsumer(t, c)
		eventually(t, 10*time.Second, "sentinel applied", func() bool {
			rows := readApplied(t, db, "dups")
			return len(rows) > 0 && rows[len(rows)-1].Value == "sentinel"
		})
		if got := values(readApplied(t, db, "dups")); got != "a#1=once,a#2=sentinel" {
			t.Fatalf("applied = %s, want the duplicate applied once", got)
		}
		// The outcome is counted just after the commit the test saw.
		eventually(t, 5*time.Second, "outcomes counted", func() bool {
			return outcome(t, reg, "dups", "applied") == 2
		})
		if got := outcome(t, reg, "dups", "duplicate"); got != 1 {
			t.Errorf("duplicate outcomes = %v, want 1", got)
		}
	})
}

func TestDeadLetterThenReplayAppliesOnce(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := natstest.Start(t)
		_, js := natstest.Connect(t, s)
		ensureStream(t, js)
		reg := prometheus.NewRegistry()

		var fixed atomic.Bool
		var attempts atomic.Int32
		failing := func(ev events.Event) error {
			if ev.ID == "bad" && !fixed.Load() {
				attempts.Add(1)
				return fmt.Errorf("boom: cannot apply %s\nsecond line", ev.ID)
			}
			return nil
		}
		// A second consumer on the same stream applies everything; replays
		// reach it too and it must skip them.
		other := newConsumer(t, db, js, events.ConsumerConfig{Name: "other"}, recordingHandler(db.Dialect(), "other", nil), reg)
		runConsumer(t, other)
		c := newConsumer(t, db, js, events.ConsumerConfig{Name: "picky", MaxDeliver: 3,
			Backoff: []time.Duration{5 * time.Millisecond, 20 * time.Millisecond}},
			recordingHandler(db.Dialect(), "picky", failing), reg)
		runConsumer(t, c)

		before := time.Now()
		publish(t, js, testEvent{ID: "bad", Aggregate: "a", Seq: 1, Value: "bad", Correlation: "corr-bad"}, "")
		publish(t, js, testEvent{ID: "good", Aggregate: "b", Seq: 1, Value: "good"}, "")

		dls := events.NewDeadLetters(js, "")
		eventually(t, 10*time.Second, "good applied after bad dead-lettered", func() bool {
			return values(readApplied(t, db, "picky")) == "b#1=good"
		})
		eventually(t, 10*time.Second, "other consumer applied both", func() bool {
			return len(readApplied(t, db, "other")) == 2
		})
		if got := attempts.Load(); got != 3 {
			t.Errorf("handler attempts = %d, want MaxDeliver = 3", got)
		}
		eventually(t, 5*time.Second, "dead letter counted", func() bool {
			return outcome(t, reg, "picky", "dead_lettered") == 1
		})
		if got := outcome(t, reg, "picky", "retried"); got != 2 {
			t.Errorf("retried outcomes = %v, want 2", got)
		}
		if got := outcome(t, reg, "picky", "dead_lettered"); got != 1 {
			t.Errorf("dead-lettered outcomes = %v, want 1", got)
		}

		list, err := dls.List(ctx, events.DeadLetterFilter{Consumer: "picky"})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 {
			t.Fatalf("dead letters = %d, want 1", len(list))
		}
		dl := list[0]
		if dl.EventID != "bad" || dl.Consumer != "picky" || dl.Subject != testSubject || dl.AggregateID != "a" ||
			dl.Sequence != 1 || dl.Stream != testStream || dl.StreamSeq != 1 || dl.CorrelationID != "corr-bad" ||
			dl.EventType != "google.protobuf.StringValue" {
			t.Errorf("dead letter = %+v", dl)
		}
		if dl.Deliveries != 3 {
			t.Errorf("dead letter deliveries = %d, want 3", dl.Deliveries)
		}
		if dl.Error != "boom: cannot apply bad second line" {
			t.Errorf("dead letter error = %q", dl.Error)
		}
		if dl.DeadAt.Before(before) || dl.DeadAt.After(time.Now()) {
			t.Errorf("dead letter time %v outside the test", dl.DeadAt)
		}
		var payload wrapperspb.StringValue
		if err := protoUnmarshal(dl.Data, &payload); err != nil || payload.GetValue() != "bad" {
			t.Errorf("dead letter payload = %v (%v), want the original event", payload.GetValue(), err)
		}
		if n, err := dls.Count(ctx, "picky"); err != nil || n != 1 {
			t.Errorf("Count(picky) = %d, %v; want 1", n, err)
		}
		if n, err := dls.Count(ctx, "other"); err != nil || n != 0 {
			t.Errorf("Count(other) = %d, %v; want 0", n, err)
		}

		filters := map[string]struct {
			f    events.DeadLetterFilter
			want int
		}{
			"by aggregate":        {events.DeadLetterFilter{AggregateID: "a"}, 1},
			"other aggregate":     {events.DeadLetterFilter{AggregateID: "b"}, 0},
			"by subject":          {events.DeadLetterFilter{Subject: testSubject}, 1},
			"other subject":       {events.DeadLetterFilter{Subject: "transload.test.v1.other"}, 0},
			"other consumer":      {events.DeadLetterFilter{Consumer: "other"}, 0},
			"time range":          {events.DeadLetterFilter{Since: before, Until: time.Now().Add(time.Minute)}, 1},
			"since after":         {events.DeadLetterFilter{Since: time.Now().Add(time.Minute)}, 0},
			"until before":        {events.DeadLetterFilter{Until: before}, 0},
			"by dead-letter seq":  {events.DeadLetterFilter{Seqs: []uint64{dl.Seq}}, 1},
			"other dead-letter":   {events.DeadLetterFilter{Seqs: []uint64{dl.Seq + 100}}, 0},
			"by event id":         {events.DeadLetterFilter{EventID: "bad"}, 1},
			"limit 1 of everyone": {events.DeadLetterFilter{Limit: 1}, 1},
		}
		for name, tc := range filters {
			got, err := dls.List(ctx, tc.f)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(got) != tc.want {
				t.Errorf("List(%s) = %d dead letters, want %d", name, len(got), tc.want)
			}
		}

		// Dry run: reports, changes nothing.
		dry, err := dls.Replay(ctx, events.DeadLetterFilter{Consumer: "picky"}, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(dry) != 1 || dry[0].EventID != "bad" {
			t.Fatalf("dry run = %+v, want the bad event", dry)
		}
		if n, _ := dls.Count(ctx, "picky"); n != 1 {
			t.Fatalf("dry run removed the dead letter")
		}

		fixed.Store(true)
		replayed, err := dls.Replay(ctx, events.DeadLetterFilter{Consumer: "picky"}, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(replayed) != 1 || replayed[0].EventID != "bad" {
			t.Fatalf("replayed = %+v, want the bad event", replayed)
		}
		eventually(t, 10*time.Second, "replayed event applied", func() bool {
			return values(readApplied(t, db, "picky")) == "b#1=good,a#1=bad"
		})
		eventually(t, 10*time.Second, "other consumer skipped the replay", func() bool {
			return outcome(t, reg, "other", "duplicate") == 1
		})
		if n, _ := dls.Count(ctx, "picky"); n != 0 {
			t.Errorf("dead letters after replay = %d, want 0", n)
		}

		// Replaying again finds nothing and changes nothing.
		again, err := dls.Replay(ctx, events.DeadLetterFilter{Consumer: "picky"}, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != 0 {
			t.Errorf("second replay = %+v, want nothing", again)
		}
		publish(t, js, testEvent{ID: "after", Aggregate: "b", Seq: 2, Value: "after"}, "")
		eventually(t, 10*time.Second, "sentinel applied", func() bool {
			return len(readApplied(t, db, "picky")) == 3 && len(readApplied(t, db, "other")) == 3
		})
		if got := values(readApplied(t, db, "picky")); got != "b#1=good,a#1=bad,b#2=after" {
			t.Errorf("picky applied = %s", got)
		}
		if got := values(readApplied(t, db, "other")); got != "a#1=bad,b#1=good,b#2=after" {
			t.Errorf("other applied = %s", got)
		}
	})
}

func TestReplayOfSameEventTwiceAppliesOnce(t *testing.T) {
	db := openSQLite(t)
	ctx := context.Background()
	s := natstest.Start(t)
	_, js := natstest.Connect(t, s)
	ensureStream(t, js)

	var fixed atomic.Bool
	c := newConsumer(t, db, js, events.ConsumerConfig{Name: "twice", MaxDeliver: 1},
		recordingHandler(db.Dialect(), "twice", func(ev events.Event) error {
			if !fixed.Load() {
				return errors.New("not yet")
			}
			return nil
		}), nil)
	runConsumer(t, c)
	// The same event published twice (two msg ids) fails twice and is
	// dead-lettered twice.
	ev := testEvent{ID: "e", Aggregate: "a", Seq: 1, Value: "v"}
	publish(t, js, ev, "m1")
	publish(t, js, ev, "m2")
	dls := events.NewDeadLetters(js, "")
	eventually(t, 10*time.Second, "two dead letters", func() bool {
		n, err := dls.Count(ctx, "twice")
		return err == nil && n == 2
	})
	fixed.Store(true)
	replayed, err := dls.Replay(ctx, events.DeadLetterFilter{EventID: "e"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(replayed) != 2 {
		t.Fatalf("replayed %d dead letters, want 2", len(replayed))
	}
	publish(t, js, testEvent{ID: "s", Aggregate: "a", Seq: 2, Value: "sentinel"}, "")
	eventually(t, 10*time.Second, "sentinel applied", func() bool {
		rows := readApplied(t, db, "twice")
		return len(rows) > 0 && rows[len(rows)-1].Value == "sentinel"
	})
	if got := values(readApplied(t, db, "twice")); got != "a#1=v,a#2=sentinel" {
		t.Fatalf("applied = %s, want the event once", got)
	}
}

func TestPermanentFailuresDeadLetterAtOnce(t *testing.T) {
	db := openSQLite(t)
	ctx := context.Background()
	s := natstest.Start(t)
	_, js := natstest.Connect(t, s)
	ensureStream(t, js)

	var calls atomic.Int32
	h := events.Handler(func(ctx context.Context, tx *sql.Tx, ev events.Event) error {
		calls.Add(1)
		switch ev.ID {
		case "permanent":
			return events.Permanent(errors.New("invalid forever"))
		case "panics":
			panic("handler bug")
		}
		return recordingHandler(db.Dialect(), "perm", nil)(ctx, tx, ev)
	})
	c := newConsumer(t, db, js, events.ConsumerConfig{Name: "perm", MaxDeliver: 10}, events.Typed(
		func(ctx context.Context, tx *sql.Tx, ev events.Event, _ *wrapperspb.StringValue) error {
			return h(ctx, tx, ev)
		}), nil)
	runConsumer(t, c)

	publish(t, js, testEvent{ID: "permanent", Aggregate: "a", Seq: 1, Value: "x"}, "")
	publish(t, js, testEvent{ID: "wrongtype", Aggregate: "a", Seq: 2, Payload: &structpb.Struct{}}, "")
	unknown := testEvent{ID: "unknown", Aggregate: "a", Seq: 3, Value: "x"}
	publishWithType(t, js, unknown, "transload.nope.v1.Missing")
	publish(t, js, testEvent{ID: "ok", Aggregate: "a", Seq: 4, Value: "ok"}, "")

	eventually(t, 10*time.Second, "ok applied", func() bool { return len(readApplied(t, db, "perm")) == 1 })
	dls := events.NewDeadLetters(js, "")
	list, err := dls.List(ctx, events.DeadLetterFilter{Consumer: "perm"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, dl := range list {
		if dl.Deliveries != 1 {
			t.Errorf("%s: deliveries = %d, want 1 (no retries for permanent errors)", dl.EventID, dl.Deliveries)
		}
		got[dl.EventID] = dl.Error
	}
	for id, wantErr := range map[string]string{
		"permanent": "invalid forever",
		"wrongtype": "is not *wrapperspb.StringValue",
		"unknown":   "not registered",
	} {
		if !strings.Contains(got[id], wantErr) {
			t.Errorf("dead letter %s error = %q, want it to mention %q", id, got[id], wantErr)
		}
	}
	if len(list) != 3 {
		t.Errorf("dead letters = %d, want 3", len(list))
	}
	if calls.Load() != 2 { // permanent + ok; the others never reach h
		t.Errorf("handler calls = %d, want 2", calls.Load())
	}
}

func TestHandlerPanicIsRetriedThenDeadLettered(t *testing.T) {
	db := openSQLite(t)
	ctx := context.Background()
	s := natstest.Start(t)
	_, js := natstest.Connect(t, s)
	ensureStream(t, js)
	var calls atomic.Int32
	c := newConsumer(t, db, js, events.ConsumerConfig{Name: "panicky", MaxDeliver: 2},
		func(ctx context.Context, tx *sql.Tx, ev events.Event) error {
			calls.Add(1)
			panic("handler bug")
		}, nil)
	runConsumer(t, c)
	publish(t, js, testEvent{ID: "p", Aggregate: "a", Seq: 1, Value: "x"}, "")
	dls := events.NewDeadLetters(js, "")
	eventually(t, 10*time.Second, "panicking event dead-lettered", func() bool {
		n, err := dls.Count(ctx, "panicky")
		return err == nil && n == 1
	})
	list, err := dls.List(ctx, events.DeadLetterFilter{Consumer: "panicky"})
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v", list, err)
	}
	if !strings.Contains(list[0].Error, "handler panicked: handler bug") || list[0].Deliveries != 2 {
		t.Errorf("dead letter = error %q, deliveries %d", list[0].Error, list[0].Deliveries)
	}
	if calls.Load() != 2 {
		t.Errorf("calls = %d, want 2", calls.Load())
	}
}

func TestNewConsumerValidates(t *testing.T) {
	db := openSQLite(t)
	h := recordingHandler(db.Dialect(), "x", nil)
	for name, cfg := range map[string]events.ConsumerConfig{
		"no name":       {Stream: "S"},
		"dot in name":   {Name: "a.b", Stream: "S"},
		"wildcard name": {Name: "a*", Stream: "S"},
		"no stream":     {Name: "a"},
	} {
		if _, err := events.NewConsumer(db, nil, cfg, h); err == nil {
			t.Errorf("%s: NewConsumer succeeded, want error", name)
		}
	}
	if _, err := events.NewConsumer(db, nil, events.ConsumerConfig{Name: "a", Stream: "S"}, nil); err == nil {
		t.Error("nil handler: NewConsumer succeeded, want error")
	}
}

// TestNATSRestartPipelineResumes runs the whole path (outbox write, relay,
// consumer) across a NATS restart and checks every event is applied
// exactly once, in order per aggregate, one event per transaction and in
// batches.
func TestNATSRestartPipelineResumes(t *testing.T) {
	for _, batch := range []int{1, 16} {
		t.Run(fmt.Sprint("batch=", batch), func(t *testing.T) { testNATSRestartPipeline(t, batch) })
	}
}

func testNATSRestartPipeline(t *testing.T, batch int) {
	forEachEngine(t, func(t *testing.T, consumerDB *sqldb.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		producerDB := openSQLite(t)
		if err := outbox.Migrate(ctx, producerDB); err != nil {
			t.Fatal(err)
		}
		s := natstest.Start(t)
		_, js := natstest.Connect(t, s)
		ensureStream(t, js)

		relay, err := outbox.NewRelay(producerDB, js, outbox.WithPollInterval(10*time.Millisecond),
			outbox.WithPublishTimeout(300*time.Millisecond), outbox.WithLogger(discard()))
		if err != nil {
			t.Fatal(err)
		}
		relayDone := make(chan error, 1)
		go func() { relayDone <- relay.Run(ctx) }()
		c := newConsumer(t, consumerDB, js, events.ConsumerConfig{Name: "pipeline", AckWait: 2 * time.Second},
			recordingHandler(consumerDB.Dialect(), "pipeline", nil), nil, events.WithBatch(batch))
		runConsumer(t, c)

		const n = 40
		for i := range n {
			if i == n/2 {
				s = natstest.Restart(t, s)
			}
			agg := []string{"x", "y"}[i%2]
			err := producerDB.InTx(ctx, func(tx *sql.Tx) error {
				_, err := outbox.Write(ctx, tx, producerDB.Dialect(), outbox.Event{
					AggregateType: "thing", AggregateID: agg, Subject: testSubject,
					Payload: wrapperspb.String(fmt.Sprint(i)),
				})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			relay.Notify()
		}
		eventually(t, 30*time.Second, "all events applied after NATS restart", func() bool {
			return len(readApplied(t, consumerDB, "pipeline")) >= n
		})
		cancel()
		if err := <-relayDone; err != nil {
			t.Fatalf("relay Run: %v", err)
		}
		rows := readApplied(t, consumerDB, "pipeline")
		if len(rows) != n {
			t.Fatalf("applied %d events, want exactly %d", len(rows), n)
		}
		next := map[string]int64{}
		for _, r := range rows {
			if r.Seq != next[r.AggregateID]+1 {
				t.Fatalf("aggregate %s: applied #%d after #%d", r.AggregateID, r.Seq, next[r.AggregateID])
			}
			next[r.AggregateID] = r.Seq
		}
	})
}

func TestConsumerRestartResumesWithoutLossOrRepeat(t *testing.T) {
	db := openSQLite(t)
	s := natstest.Start(t)
	_, js := natstest.Connect(t, s)
	ensureStream(t, js)
	for i := 1; i <= 30; i++ {
		publish(t, js, testEvent{ID: fmt.Sprint("e", i), Aggregate: "a", Seq: int64(i), Value: fmt.Sprint(i)}, "")
	}
	h := recordingHandler(db.Dialect(), "restart", nil)

	// The first consumer applies events 1..10 and is stopped while it
	// handles event 11 (its handler holds 11 until the stop).
	holding := make(chan struct{})
	var once sync.Once
	firstHandler := func(hctx context.Context, tx *sql.Tx, ev events.Event) error {
		if ev.Sequence > 10 {
			once.Do(func() { close(holding) })
			<-hctx.Done()
			return hctx.Err()
		}
		return h(hctx, tx, ev)
	}
	// MaxDeliver 1: a failure caused by the shutdown must not dead-letter
	// event 11.
	runUntil(t, newConsumer(t, db, js, events.ConsumerConfig{Name: "restart", AckWait: time.Second, MaxDeliver: 1}, firstHandler, nil), holding)
	if n := len(readApplied(t, db, "restart")); n != 10 {
		t.Fatalf("first consumer applied %d events, want 10", n)
	}

	second := newConsumer(t, db, js, events.ConsumerConfig{Name: "restart", AckWait: time.Second}, h, nil)
	runConsumer(t, second)
	eventually(t, 15*time.Second, "all 30 applied", func() bool { return len(readApplied(t, db, "restart")) >= 30 })
	rows := readApplied(t, db, "restart")
	if len(rows) != 30 {
		t.Fatalf("applied %d events, want exactly 30", len(rows))
	}
	for i, r := range rows {
		if r.Seq != int64(i+1) {
			t.Fatalf("position %d: applied #%d", i, r.Seq)
		}
	}
}
