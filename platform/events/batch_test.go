package events_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/testharness/natstest"
)

// newBatchConsumer is newConsumer with WithBatch(n) (n <= 1: one event
// per transaction).
func newBatchConsumer(t testing.TB, db *sqldb.DB, js jetstream.JetStream, cfg events.ConsumerConfig, h events.Handler,
	reg *prometheus.Registry, n int) *events.Consumer {
	t.Helper()
	return newConsumer(t, db, js, cfg, h, reg, events.WithBatch(n))
}

// runUntil runs c until holding is closed, then stops it and waits for
// Run to return.
func runUntil(t testing.TB, c *events.Consumer, holding <-chan struct{}) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	<-holding
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// startStream starts a NATS server and returns a JetStream client with
// the test stream.
func startStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	s := natstest.Start(t)
	_, js := natstest.Connect(t, s)
	ensureStream(t, js)
	return js
}

// publishSeq publishes events e<from>..e<to> of aggregate a, value = seq.
func publishSeq(t testing.TB, js jetstream.JetStream, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		publish(t, js, testEvent{ID: fmt.Sprint("e", i), Aggregate: "a", Seq: int64(i), Value: fmt.Sprint(i)}, "")
	}
}

func wantSeq(from, to int) string {
	var parts []string
	for i := from; i <= to; i++ {
		parts = append(parts, fmt.Sprintf("a#%d=%d", i, i))
	}
	return strings.Join(parts, ",")
}

// A backlog of 50 events is applied in one transaction by a batch
// consumer, against one commit per event without batching.
func TestBatchAppliesBacklogWithOneCommit(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		js := startStream(t)
		const n = 50
		publishSeq(t, js, 1, n)

		commitsFor := func(name string, batch int) uint64 {
			c0, _ := db.CommitStats()
			c := newBatchConsumer(t, db, js, events.ConsumerConfig{Name: name}, recordingHandler(db.Dialect(), name, nil), nil, batch)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx) }()
			eventually(t, 20*time.Second, name+": all applied", func() bool { return len(readApplied(t, db, name)) >= n })
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			c1, _ := db.CommitStats()
			if got := values(readApplied(t, db, name)); got != wantSeq(1, n) {
				t.Fatalf("%s applied %s", name, got)
			}
			return c1 - c0
		}
		single := commitsFor("single", 1)
		batched := commitsFor("batched", 64)
		t.Logf("commits for %d events: %d one at a time, %d batched", n, single, batched)
		if single < n {
			t.Errorf("one-at-a-time consumer: %d commits for %d events, want >= %d (the baseline moved)", single, n, n)
		}
		// One pull takes the whole backlog: one commit (two if the
		// server split the pull).
		if batched > 2 {
			t.Errorf("batch consumer: %d commits for %d events, want 1 (at most 2)", batched, n)
		}
	})
}

// Event 7 fails twice: the events after it in its batch are not applied
// before it succeeds, and the prefix before it is committed.
func TestBatchKeepsOrderAroundAFailingEvent(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		js := startStream(t)
		reg := prometheus.NewRegistry()
		publishSeq(t, js, 1, 20)

		var attempts atomic.Int32
		fail := func(ev events.Event) error {
			if ev.ID != "e7" {
				return nil
			}
			n := attempts.Add(1)
			if ev.Delivery != uint64(n) {
				t.Errorf("e7 attempt %d: Delivery = %d", n, ev.Delivery)
			}
			if n <= 2 {
				return errors.New("not yet")
			}
			return nil
		}
		c := newBatchConsumer(t, db, js, events.ConsumerConfig{Name: "order", MaxDeliver: 5,
			Backoff: []time.Duration{50 * time.Millisecond}}, recordingHandler(db.Dialect(), "order", fail), reg, 50)
		runConsumer(t, c)
		eventually(t, 20*time.Second, "20 applied", func() bool { return len(readApplied(t, db, "order")) >= 20 })
		if got := values(readApplied(t, db, "order")); got != wantSeq(1, 20) {
			t.Fatalf("applied = %s, want 1..20 in order", got)
		}
		if got := attempts.Load(); got != 3 {
			t.Errorf("attempts of e7 = %d, want 3", got)
		}
		eventually(t, 5*time.Second, "outcomes counted", func() bool { return outcome(t, reg, "order", "applied") == 20 })
		if got := outcome(t, reg, "order", "retried"); got != 2 {
			t.Errorf("retried = %v, want 2", got)
		}
		publishSeq(t, js, 21, 22)
		eventually(t, 10*time.Second, "later events applied", func() bool { return len(readApplied(t, db, "order")) >= 22 })
	})
}

// The same event delivered twice within one batch is applied once.
func TestBatchSkipsDuplicatesWithinABatch(t *testing.T) {
	db := openSQLite(t)
	js := startStream(t)
	reg := prometheus.NewRegistry()
	publish(t, js, testEvent{ID: "e1", Aggregate: "a", Seq: 1, Value: "1"}, "m1")
	publish(t, js, testEvent{ID: "e1", Aggregate: "a", Seq: 1, Value: "1"}, "m2")
	publish(t, js, testEvent{ID: "e2", Aggregate: "a", Seq: 2, Value: "2"}, "")
	publish(t, js, testEvent{ID: "e1", Aggregate: "a", Seq: 1, Value: "1"}, "m3")
	c0, _ := db.CommitStats()
	c := newBatchConsumer(t, db, js, events.ConsumerConfig{Name: "dups"}, recordingHandler(db.Dialect(), "dups", nil), reg, 10)
	runConsumer(t, c)
	eventually(t, 10*time.Second, "all four resolved", func() bool {
		return outcome(t, reg, "dups", "applied")+outcome(t, reg, "dups", "duplicate") == 4
	})
	if got := values(readApplied(t, db, "dups")); got != "a#1=1,a#2=2" {
		t.Fatalf("applied = %s, want each event once", got)
	}
	if got := outcome(t, reg, "dups", "duplicate"); got != 2 {
		t.Errorf("duplicates = %v, want 2", got)
	}
	if c1, _ := db.CommitStats(); c1-c0 != 1 {
		t.Errorf("commits = %d, want 1 (one batch)", c1-c0)
	}
}

// A poison event (its handler panics every time) is dead-lettered after
// MaxDeliver attempts; the events after it wait for that and then go on,
// in order.
func TestBatchDeadLettersPoisonAndContinuesInOrder(t *testing.T) {
	db := openSQLite(t)
	ctx := context.Background()
	js := startStream(t)
	reg := prometheus.NewRegistry()
	publishSeq(t, js, 1, 10)

	var calls atomic.Int32
	rec := recordingHandler(db.Dialect(), "poison", nil)
	h := func(ctx context.Context, tx *sql.Tx, ev events.Event) error {
		if ev.ID == "e5" {
			calls.Add(1)
			panic("handler bug")
		}
		return rec(ctx, tx, ev)
	}
	c := newBatchConsumer(t, db, js, events.ConsumerConfig{Name: "poison", MaxDeliver: 3}, h, reg, 50)
	runConsumer(t, c)
	eventually(t, 20*time.Second, "9 applied", func() bool { return len(readApplied(t, db, "poison")) >= 9 })
	want := strings.Replace(wantSeq(1, 10), "a#5=5,", "", 1)
	if got := values(readApplied(t, db, "poison")); got != want {
		t.Fatalf("applied = %s, want %s", got, want)
	}
	list, err := events.NewDeadLetters(js, "").List(ctx, events.DeadLetterFilter{Consumer: "poison"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].EventID != "e5" || list[0].Deliveries != 3 ||
		!strings.Contains(list[0].Error, "handler panicked: handler bug") {
		t.Fatalf("dead letters = %+v, want e5 after 3 attempts", list)
	}
	if got := calls.Load(); got != 3 {
		t.Errorf("poison handler calls = %d, want 3", got)
	}
	if got := outcome(t, reg, "poison", "dead_lettered"); got != 1 {
		t.Errorf("dead_lettered = %v, want 1", got)
	}
}

// A consumer dies inside a batch transaction (its goroutine exits, as in
// a crash: no commit, no ack, no nak). A new consumer started after more
// events arrived applies the dead one's batch once and before the newer
// events, although the server hands it the newer ones first (the old
// batch stays pending until its ack wait runs out).
func TestBatchCrashBeforeCommitIsRedeliveredInOrderOnce(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		s := natstest.Start(t)
		nc1, js1 := natstest.Connect(t, s)
		_, js := natstest.Connect(t, s)
		ensureStream(t, js)
		publishSeq(t, js, 1, 10)
		cfg := events.ConsumerConfig{Name: "crash", AckWait: time.Second}
		rec := recordingHandler(db.Dialect(), "crash", nil)

		var crashed atomic.Bool
		dying := func(ctx context.Context, tx *sql.Tx, ev events.Event) error {
			if ev.ID == "e7" && crashed.CompareAndSwap(false, true) {
				runtime.Goexit()
			}
			return rec(ctx, tx, ev)
		}
		c0, _ := db.CommitStats()
		first := newBatchConsumer(t, db, js1, cfg, dying, nil, 50)
		exited := make(chan struct{})
		ctx1, cancel1 := context.WithCancel(context.Background())
		defer cancel1()
		go func() {
			defer close(exited)
			_ = first.Run(ctx1)
		}()
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			t.Fatal("first consumer did not reach e7")
		}
		nc1.Close()
		if got := readApplied(t, db, "crash"); len(got) != 0 {
			t.Fatalf("applied %d events of a batch that never committed", len(got))
		}
		if c1, _ := db.CommitStats(); c1 != c0 {
			t.Fatalf("the dead batch committed")
		}

		publishSeq(t, js, 11, 20)
		second := newBatchConsumer(t, db, js, cfg, rec, nil, 50)
		runConsumer(t, second)
		eventually(t, 20*time.Second, "20 applied", func() bool { return len(readApplied(t, db, "crash")) >= 20 })
		time.Sleep(200 * time.Millisecond) // anything applied twice would show now
		if got := values(readApplied(t, db, "crash")); got != wantSeq(1, 20) {
			t.Fatalf("applied = %s, want 1..20 once, in order", got)
		}
	})
}

// Shutdown inside a batch releases it; the next consumer applies it
// once, in order.
func TestBatchShutdownReleasesBatchInOrder(t *testing.T) {
	db := openSQLite(t)
	js := startStream(t)
	publishSeq(t, js, 1, 10)
	rec := recordingHandler(db.Dialect(), "stop", nil)
	holding := make(chan struct{})
	var once sync.Once
	h := func(ctx context.Context, tx *sql.Tx, ev events.Event) error {
		if ev.ID == "e4" {
			once.Do(func() { close(holding) })
			<-ctx.Done()
			return ctx.Err()
		}
		return rec(ctx, tx, ev)
	}
	// MaxDeliver 1: a failure caused by the shutdown must not dead-letter.
	cfg := events.ConsumerConfig{Name: "stop", AckWait: 30 * time.Second, MaxDeliver: 1}
	runUntil(t, newBatchConsumer(t, db, js, cfg, h, nil, 50), holding)
	publishSeq(t, js, 11, 12)
	// The released messages come back at once (not after the 30s ack
	// wait), ahead of the new ones.
	second := newBatchConsumer(t, db, js, cfg, rec, nil, 50)
	runConsumer(t, second)
	eventually(t, 10*time.Second, "12 applied", func() bool { return len(readApplied(t, db, "stop")) >= 12 })
	if got := values(readApplied(t, db, "stop")); got != wantSeq(1, 12) {
		t.Fatalf("applied = %s, want 1..12 once, in order", got)
	}
}

// AfterCommit hooks run after the commit that applied the event (they
// see its effects from another connection), never for an attempt that
// was rolled back, and not for duplicates; with and without batching.
func TestAfterCommitRunsOnlyAfterCommit(t *testing.T) {
	for _, batch := range []int{1, 10} {
		t.Run(fmt.Sprint("batch=", batch), func(t *testing.T) {
			db := openSQLite(t)
			js := startStream(t)
			reg := prometheus.NewRegistry()
			publishSeq(t, js, 1, 3)
			publish(t, js, testEvent{ID: "e1", Aggregate: "a", Seq: 1, Value: "1"}, "dup")

			var mu sync.Mutex
			var ran []string // event ids whose hook ran, with what the hook saw
			var e2Failures atomic.Int32
			rec := recordingHandler(db.Dialect(), "hooks", nil)
			h := func(ctx context.Context, tx *sql.Tx, ev events.Event) error {
				if err := rec(ctx, tx, ev); err != nil {
					return err
				}
				if !events.AfterCommit(ctx, func() {
					var n int
					err := db.SQL().QueryRow(db.Rebind(`SELECT COUNT(*) FROM applied WHERE event_id = ?`), ev.ID).Scan(&n)
					mu.Lock()
					defer mu.Unlock()
					ran = append(ran, fmt.Sprintf("%s:%d:%v", ev.ID, n, err))
				}) {
					t.Error("AfterCommit did not register inside a handler")
				}
				if ev.ID == "e2" && e2Failures.Add(1) == 1 {
					return errors.New("rolled back once")
				}
				return nil
			}
			c := newBatchConsumer(t, db, js, events.ConsumerConfig{Name: "hooks", MaxDeliver: 5}, h, reg, batch)
			runConsumer(t, c)
			eventually(t, 10*time.Second, "all resolved", func() bool {
				return outcome(t, reg, "hooks", "applied")+outcome(t, reg, "hooks", "duplicate") == 4
			})
			mu.Lock()
			got := strings.Join(ran, ",")
			mu.Unlock()
			if want := "e1:1:<nil>,e2:1:<nil>,e3:1:<nil>"; got != want {
				t.Errorf("hooks ran = %s, want %s (once per committed event, after its commit)", got, want)
			}
		})
	}
	if events.AfterCommit(context.Background(), func() { t.Error("hook outside a handler ran") }) {
		t.Error("AfterCommit registered outside a handler")
	}
}

// BenchmarkConsumerBacklog applies a backlog of b.N events one per
// transaction and in batches of 64 (SQLite file, synchronous=FULL), and
// reports commits per event; compare the two in one run.
func BenchmarkConsumerBacklog(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprint("batch=", batch), func(b *testing.B) {
			db := openSQLite(b)
			js := startStream(b)
			publishSeq(b, js, 1, b.N)
			c0, _ := db.CommitStats()
			c := newBatchConsumer(b, db, js, events.ConsumerConfig{Name: "bench"}, recordingHandler(db.Dialect(), "bench", nil), nil, batch)
			cpu0 := processCPU(b)
			b.ResetTimer()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx) }()
			for {
				var n int
				if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM applied`).Scan(&n); err != nil {
					b.Fatal(err)
				}
				if n >= b.N {
					break
				}
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			cpu := processCPU(b) - cpu0
			c1, _ := db.CommitStats()
			b.ReportMetric(float64(c1-c0)/float64(b.N), "commits/event")
			// The process holds the consumer, the embedded NATS server and
			// SQLite: the CPU of the whole event path.
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/event")
		})
	}
}

// With a linger, events published while the batch consumer waits after
// the first one are applied with it, in one commit.
func TestBatchLingerGathersEventsArrivingAfterTheFirst(t *testing.T) {
	db := openSQLite(t)
	js := startStream(t)
	publishSeq(t, js, 1, 1)
	c0, _ := db.CommitStats()
	c := newConsumer(t, db, js, events.ConsumerConfig{Name: "linger"}, recordingHandler(db.Dialect(), "linger", nil), nil,
		events.WithBatch(64), events.WithBatchLinger(3*time.Second))
	runConsumer(t, c)
	eventually(t, 10*time.Second, "first event in hand", func() bool {
		cons, err := js.Consumer(t.Context(), testStream, "linger")
		if err != nil {
			return false
		}
		info, err := cons.Info(t.Context())
		return err == nil && info.NumAckPending == 1
	})
	publishSeq(t, js, 2, 10)
	eventually(t, 10*time.Second, "10 applied", func() bool { return len(readApplied(t, db, "linger")) >= 10 })
	if got := values(readApplied(t, db, "linger")); got != wantSeq(1, 10) {
		t.Fatalf("applied = %s", got)
	}
	if c1, _ := db.CommitStats(); c1-c0 != 1 {
		t.Errorf("commits = %d, want 1: the events published during the linger joined the first", c1-c0)
	}
}

// processCPU returns the user and system CPU time of this process so far.
func processCPU(t testing.TB) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
