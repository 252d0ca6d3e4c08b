package outbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/testharness/natstest"
)

// reconcileSetup starts NATS with a stream of its own (decl), a relay
// and a reconciler over db whose exceptions are written as outbox events
// on the stream's "exception" subject.
type reconcileSetup struct {
	js      jetstream.JetStream
	stream  jetstream.Stream
	decl    eventstreams.Stream
	relay   *outbox.Relay
	rec     *outbox.Reconciler
	reg     *prometheus.Registry
	subject string
}

func newReconcileSetup(t *testing.T, db *sqldb.DB, name string, maxAge time.Duration) *reconcileSetup {
	t.Helper()
	_, js := natstest.Connect(t, natstest.Start(t))
	prefix := "transload.recon" + name
	decl := eventstreams.Stream{
		Name: "RECON_" + name, Subjects: []string{prefix + ".>"},
		Events: []string{prefix + ".happened", prefix + ".exception"}, MaxAge: maxAge,
	}
	s, err := eventstreams.Ensure(t.Context(), js, decl)
	if err != nil {
		t.Fatal(err)
	}
	relay, err := outbox.NewRelay(db, js, outbox.WithLogger(discardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	rec, err := outbox.NewReconciler(db, js, outbox.ReconcileConfig{
		Service: "test", Lookback: time.Hour,
		Exception: func(l outbox.Loss) (outbox.Event, error) {
			return outbox.Event{
				AggregateType: "stream_loss", AggregateID: l.Stream, Subject: prefix + ".exception",
				Payload: wrapperspb.String(fmt.Sprintf("%s lost %d events", l.Stream, len(l.Events))),
			}, nil
		},
	}, reg, discardLogger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &reconcileSetup{js: js, stream: s, decl: decl, relay: relay, rec: rec, reg: reg, subject: prefix + ".happened"}
}

func (s *reconcileSetup) write(t *testing.T, db *sqldb.DB, aggregate, value string) outbox.Written {
	t.Helper()
	var w outbox.Written
	err := db.InTx(t.Context(), func(tx *sql.Tx) error {
		var err error
		w, err = outbox.Write(t.Context(), tx, db.Dialect(), outbox.Event{
			AggregateType: "thing", AggregateID: aggregate, Subject: s.subject, Payload: wrapperspb.String(value),
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (s *reconcileSetup) relayAll(t *testing.T) {
	t.Helper()
	if _, err := s.relay.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// fetchEvents pulls up to n events with a new ordered consumer and
// returns them as "aggregate:sequence:event id" in stream order.
func fetchEvents(t *testing.T, js jetstream.JetStream, stream, subject string, n int) []string {
	t.Helper()
	c, err := js.OrderedConsumer(t.Context(), stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := c.Fetch(n, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for m := range batch.Messages() {
		h := m.Headers()
		out = append(out, h.Get(outbox.HeaderAggregateID)+":"+h.Get(outbox.HeaderSequence)+":"+h.Get(outbox.HeaderEventID))
	}
	return out
}

// TestReconcilerRepublishesPurgedEvents purges the stream after the
// relay published three events that nobody had read yet: the reconciler
// finds all three missing, republishes them (aggregate a in sequence
// order, with their original event ids), counts them, raises one
// exception, and leaves them alone on the next pass.
func TestReconcilerRepublishesPurgedEvents(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		s := newReconcileSetup(t, db, "PURGE", 0)
		a1 := s.write(t, db, "a", "a1")
		b1 := s.write(t, db, "b", "b1")
		a2 := s.write(t, db, "a", "a2")
		s.relayAll(t)

		losses, err := s.rec.Pass(t.Context())
		if err != nil || losses != nil {
			t.Fatalf("pass before the loss = %v, %v; want nothing missing", losses, err)
		}
		if err := s.stream.Purge(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := fetchEvents(t, s.js, s.decl.Name, s.subject, 3); len(got) != 0 {
			t.Fatalf("stream after purge holds %v", got)
		}

		losses, err = s.rec.Pass(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(losses) != 1 || losses[0].Stream != s.decl.Name || len(losses[0].Events) != 3 {
			t.Fatalf("losses = %+v, want the 3 events of %s", losses, s.decl.Name)
		}
		var ids []string
		for _, e := range losses[0].Events {
			ids = append(ids, e.EventID)
		}
		if want := []string{a1.ID, b1.ID, a2.ID}; fmt.Sprint(ids) != fmt.Sprint(want) {
			t.Errorf("republished %v, want %v (id order)", ids, want)
		}
		want := []string{"a:1:" + a1.ID, "b:1:" + b1.ID, "a:2:" + a2.ID}
		if got := fetchEvents(t, s.js, s.decl.Name, s.subject, 5); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("stream after the pass holds %v, want %v", got, want)
		}
		if got := republishedTotal(t, s.reg); got != 3 {
			t.Errorf("republished_total = %v, want 3", got)
		}
		if got := unpublishedCount(t, db); got != 1 {
			t.Errorf("unpublished outbox rows = %d, want the one exception event", got)
		}

		losses, err = s.rec.Pass(t.Context())
		if err != nil || losses != nil {
			t.Fatalf("pass after republishing = %v, %v; want nothing (each event is republished once)", losses, err)
		}
	})
}

// TestReconcilerRepublishesExpiredEvents lets a short max-age expire an
// event before a slow durable consumer read it: the consumer gets
// nothing, and after a reconciler pass it gets the event, with its
// original event id.
func TestReconcilerRepublishesExpiredEvents(t *testing.T) {
	db := openSQLite(t)
	s := newReconcileSetup(t, db, "EXPIRE", 2*time.Second)
	cons, err := s.js.CreateOrUpdateConsumer(t.Context(), s.decl.Name, jetstream.ConsumerConfig{
		Durable: "slow", AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: s.subject,
	})
	if err != nil {
		t.Fatal(err)
	}
	w := s.write(t, db, "x", "expires")
	s.relayAll(t)
	eventually(t, 15*time.Second, "the event expired", func() (bool, error) {
		info, err := s.stream.Info(t.Context())
		return err == nil && info.State.Msgs == 0, err
	})
	if losses, err := s.rec.Pass(t.Context()); err != nil || len(losses) != 1 || len(losses[0].Events) != 1 {
		t.Fatalf("pass = %+v, %v; want the expired event", losses, err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for m := range batch.Messages() {
		got = append(got, m.Headers().Get(outbox.HeaderEventID))
		_ = m.Ack()
	}
	if len(got) != 1 || got[0] != w.ID {
		t.Fatalf("slow consumer got %v, want the republished %s", got, w.ID)
	}
}

// TestReconcilerLease runs two reconcilers (two replicas) on one
// database: only the lease holder checks, and the other takes over once
// the holder's lease expired.
func TestReconcilerLease(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		now := time.Now()
		name := "lease-" + t.Name()
		ok, err := outbox.AcquireLease(ctx, db, name, "a", now, time.Minute)
		if err != nil || !ok {
			t.Fatalf("a acquires a free lease = %v, %v", ok, err)
		}
		if ok, err := outbox.AcquireLease(ctx, db, name, "b", now.Add(time.Second), time.Minute); err != nil || ok {
			t.Fatalf("b acquires a's live lease = %v, %v; want false", ok, err)
		}
		if ok, err := outbox.AcquireLease(ctx, db, name, "a", now.Add(30*time.Second), time.Minute); err != nil || !ok {
			t.Fatalf("a renews = %v, %v", ok, err)
		}
		if ok, err := outbox.AcquireLease(ctx, db, name, "b", now.Add(2*time.Minute), time.Minute); err != nil || !ok {
			t.Fatalf("b takes the expired lease = %v, %v", ok, err)
		}
		if ok, err := outbox.AcquireLease(ctx, db, name, "a", now.Add(2*time.Minute), time.Minute); err != nil || ok {
			t.Fatalf("a after losing the lease = %v, %v; want false", ok, err)
		}

		// Two reconcilers: the second sees the first's lease and skips.
		s := newReconcileSetup(t, db, "LEASE", 0)
		other, err := outbox.NewReconciler(db, s.js, outbox.ReconcileConfig{Service: "test", Lookback: time.Hour}, nil, discardLogger(), nil)
		if err != nil {
			t.Fatal(err)
		}
		s.write(t, db, "l", "one")
		s.relayAll(t)
		if _, err := s.rec.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.stream.Purge(ctx); err != nil {
			t.Fatal(err)
		}
		if losses, err := other.Pass(ctx); err != nil || losses != nil {
			t.Fatalf("second replica's pass = %v, %v; want nothing (lease held)", losses, err)
		}
		if losses, err := s.rec.Pass(ctx); err != nil || len(losses) != 1 {
			t.Fatalf("holder's pass = %v, %v; want the purged event", losses, err)
		}
	})
}

// TestReconcilerIgnoresRowsWithoutStreamSequence: rows published before
// the relay recorded stream sequences cannot be checked and are left
// alone.
func TestReconcilerIgnoresRowsWithoutStreamSequence(t *testing.T) {
	db := openSQLite(t)
	s := newReconcileSetup(t, db, "NOSEQ", 0)
	s.write(t, db, "n", "one")
	s.relayAll(t)
	if _, err := db.SQL().ExecContext(t.Context(), `UPDATE outbox_events SET stream_seq = NULL`); err != nil {
		t.Fatal(err)
	}
	if err := s.stream.Purge(t.Context()); err != nil {
		t.Fatal(err)
	}
	if losses, err := s.rec.Pass(t.Context()); err != nil || losses != nil {
		t.Fatalf("pass = %v, %v; want rows published before stream sequences were recorded left alone", losses, err)
	}
	if _, err := outbox.NewReconciler(db, s.js, outbox.ReconcileConfig{}, nil, nil, nil); err == nil {
		t.Error("reconciler without a service name accepted")
	}
}

// TestRelayRunsTheReconciler runs the reconciler through the relay
// option: after a purge, Run's reconciler republishes the lost event on
// its own; a malformed environment fails NewRelay.
func TestRelayRunsTheReconciler(t *testing.T) {
	db := openSQLite(t)
	s := newReconcileSetup(t, db, "RUN", 0)
	reg := prometheus.NewRegistry()
	relay, err := outbox.NewRelay(db, s.js, outbox.WithLogger(discardLogger()), outbox.WithRegisterer(reg),
		outbox.WithPollInterval(20*time.Millisecond),
		outbox.WithReconcile(outbox.ReconcileConfig{Service: "run", Interval: 50 * time.Millisecond, Lookback: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("relay Run: %v", err)
		}
	}()
	w := s.write(t, db, "r", "one")
	eventually(t, 10*time.Second, "the event published", func() (bool, error) { return unpublishedCount(t, db) == 0, nil })
	if err := s.stream.Purge(t.Context()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the event republished", func() (bool, error) {
		return republishedTotal(t, reg) == 1, nil
	})
	if got := fetchEvents(t, s.js, s.decl.Name, s.subject, 2); len(got) != 1 || got[0] != "r:1:"+w.ID {
		t.Fatalf("stream holds %v after the reconciler ran", got)
	}

	t.Setenv("OUTBOX_RECONCILE_INTERVAL", "soon")
	if _, err := outbox.NewRelay(db, s.js, outbox.WithReconcileFromEnv("run", nil)); err == nil {
		t.Error("NewRelay accepted OUTBOX_RECONCILE_INTERVAL=soon")
	}
}

// republishedTotal sums transload_outbox_reconcile_republished_total over
// its streams (0 before the first republish).
func republishedTotal(t testing.TB, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() == "transload_outbox_reconcile_republished_total" {
			for _, m := range mf.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

// TestReconcilerRepublishesManyEvents loses 1100 events of 50 aggregates
// (more than one read of the missing rows holds) and gets every one back,
// each aggregate in sequence order.
func TestReconcilerRepublishesManyEvents(t *testing.T) {
	db := openSQLite(t)
	s := newReconcileSetup(t, db, "MANY", 0)
	const n = 1100
	evs := make([]outbox.Event, n)
	for i := range evs {
		evs[i] = outbox.Event{AggregateType: "thing", AggregateID: fmt.Sprint("m", i%50), Subject: s.subject, Payload: wrapperspb.String(fmt.Sprint(i))}
	}
	if err := db.InTx(t.Context(), func(tx *sql.Tx) error {
		_, err := outbox.WriteBatch(t.Context(), tx, db.Dialect(), evs)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for unpublishedCount(t, db) > 0 {
		s.relayAll(t)
	}
	if err := s.stream.Purge(t.Context()); err != nil {
		t.Fatal(err)
	}
	losses, err := s.rec.Pass(t.Context())
	if err != nil || len(losses) != 1 || len(losses[0].Events) != n {
		t.Fatalf("pass = %d losses, %v; want one of %d events", len(losses), err, n)
	}
	info, err := s.stream.Info(t.Context())
	if err != nil || info.State.Msgs != n {
		t.Fatalf("stream holds %v messages (%v), want %d", info.State.Msgs, err, n)
	}
	next := map[string]int64{}
	for _, e := range losses[0].Events {
		if e.Sequence != next[e.AggregateID]+1 {
			t.Fatalf("%s #%d republished after #%d", e.AggregateID, e.Sequence, next[e.AggregateID])
		}
		next[e.AggregateID] = e.Sequence
	}
}
