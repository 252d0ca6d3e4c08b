package events_test

import (
	"context"
	"database/sql"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/testharness/natstest"
)

// countInfoRequests counts the consumer-info requests made for consumer
// name on the test stream, from any connection.
func countInfoRequests(t testing.TB, nc *nats.Conn, name string) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	sub, err := nc.Subscribe("$JS.API.CONSUMER.INFO."+testStream+"."+name, func(*nats.Msg) { n.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return &n
}

// A batch consumer that receives every delivery asks the server for the
// consumer's state once, not once per batch: 100 events in batches of at
// most 5 take 20 or more batches and one consumer-info request.
func TestBatchAsksForConsumerStateOnlyAfterAGap(t *testing.T) {
	db := openSQLite(t)
	s := natstest.Start(t)
	watch, js := natstest.Connect(t, s)
	ensureStream(t, js)
	infos := countInfoRequests(t, watch, "synced")
	publishSeq(t, js, 1, 100)
	c := newBatchConsumer(t, db, js, events.ConsumerConfig{Name: "synced"}, recordingHandler(db.Dialect(), "synced", nil), nil, 5)
	c0, _ := db.CommitStats()
	runConsumer(t, c)
	eventually(t, 20*time.Second, "100 applied", func() bool { return len(readApplied(t, db, "synced")) >= 100 })
	if got := values(readApplied(t, db, "synced")); got != wantSeq(1, 100) {
		t.Fatalf("applied = %s, want 1..100 once, in order", got)
	}
	if c1, _ := db.CommitStats(); c1-c0 < 20 {
		t.Fatalf("%d commits: the batches were not of at most 5", c1-c0)
	}
	if err := watch.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := infos.Load(); n != 1 {
		t.Errorf("%d consumer-info requests, want 1 (the first batch; none after while no delivery went elsewhere)", n)
	}
}

// A delivery that went to another process while the batch consumer was
// synced (another replica pulled a message and died without acknowledging
// it) is noticed by the gap in consumer sequences: the batch consumer does
// not apply the newer event it pulls until the lost one is redelivered,
// so the events stay in stream order. Without the gap check it would
// apply e5 before e4.
func TestBatchWaitsForADeliveryThatWentElsewhere(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		s := natstest.Start(t)
		_, js := natstest.Connect(t, s)
		_, replicaJS := natstest.Connect(t, s)
		ensureStream(t, js)
		cfg := events.ConsumerConfig{Name: "gap", AckWait: time.Second}
		rec := recordingHandler(db.Dialect(), "gap", nil)
		holding, release := make(chan struct{}), make(chan struct{})
		var held atomic.Bool
		h := func(ctx context.Context, tx *sql.Tx, ev events.Event) error {
			if ev.ID == "e3" && held.CompareAndSwap(false, true) {
				close(holding)
				<-release
			}
			return rec(ctx, tx, ev)
		}
		publishSeq(t, js, 1, 3)
		runConsumer(t, newBatchConsumer(t, db, js, cfg, h, nil, 64))
		select {
		case <-holding:
		case <-time.After(20 * time.Second):
			t.Fatal("the consumer did not reach e3")
		}
		// The consumer is busy with e1..e3 and pulls nothing: the other
		// replica's pull takes e4, which it never acknowledges.
		replica, err := replicaJS.Consumer(t.Context(), testStream, "gap")
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan jetstream.Msg, 1)
		go func() {
			b, err := replica.Fetch(1, jetstream.FetchMaxWait(10*time.Second))
			if err != nil {
				close(got)
				return
			}
			for m := range b.Messages() {
				got <- m
			}
			close(got)
		}()
		// Give the replica's pull time to reach the server (e4 would wait
		// for it anyway: nobody else pulls).
		time.Sleep(100 * time.Millisecond)
		publishSeq(t, js, 4, 4)
		m, ok := <-got
		if !ok {
			t.Fatal("the replica received nothing")
		}
		if md, err := m.Metadata(); err != nil || md.Sequence.Stream != 4 {
			t.Fatalf("the replica received %v (%v), want stream sequence 4", md, err)
		}
		publishSeq(t, js, 5, 5)
		close(release)
		eventually(t, 20*time.Second, "5 applied", func() bool { return len(readApplied(t, db, "gap")) >= 5 })
		time.Sleep(200 * time.Millisecond) // anything applied twice would show now
		if got := values(readApplied(t, db, "gap")); got != wantSeq(1, 5) {
			t.Fatalf("applied = %s, want 1..5 once, in order", got)
		}
	})
}

// A lingering batch consumer fed a steady stream makes one pull request
// per batch (a window the server ends after the linger), not two (the
// wait for a first message, then the linger's), and still applies every
// event once, in order.
func TestBatchLingerPullsOncePerBatchWhileBusy(t *testing.T) {
	db := openSQLite(t)
	s := natstest.Start(t)
	watch, js := natstest.Connect(t, s)
	ensureStream(t, js)
	var pulls atomic.Int64
	sub, err := watch.Subscribe("$JS.API.CONSUMER.MSG.NEXT."+testStream+".busy", func(*nats.Msg) { pulls.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := watch.Flush(); err != nil {
		t.Fatal(err)
	}
	c := newConsumer(t, db, js, events.ConsumerConfig{Name: "busy"}, recordingHandler(db.Dialect(), "busy", nil), nil,
		events.WithBatch(64), events.WithBatchLinger(50*time.Millisecond))
	runConsumer(t, c)
	publishSeq(t, js, 1, 1)
	eventually(t, 10*time.Second, "first applied", func() bool { return len(readApplied(t, db, "busy")) >= 1 })
	c0, _ := db.CommitStats()
	p0 := pulls.Load()
	const n = 300
	for i := 2; i <= n; i++ {
		time.Sleep(time.Millisecond)
		publishSeq(t, js, i, i)
	}
	eventually(t, 20*time.Second, "all applied", func() bool { return len(readApplied(t, db, "busy")) >= n })
	if err := watch.Flush(); err != nil {
		t.Fatal(err)
	}
	c1, _ := db.CommitStats()
	batches, p := int64(c1-c0), pulls.Load()-p0
	if got := values(readApplied(t, db, "busy")); got != wantSeq(1, n) {
		t.Fatalf("applied = %s, want 1..%d once, in order", got, n)
	}
	// A pull may come back empty when the stream pauses over 50 ms (a
	// stalled publisher on a loaded machine; such a batch takes three
	// pulls): allow some beyond one per batch, below two per batch.
	if batches == 0 || p > batches+batches/2 {
		t.Errorf("%d pull requests for %d batches, want about one per batch", p, batches)
	}
	t.Logf("%d pull requests for %d batches of %d events", p, batches, n-1)
}
