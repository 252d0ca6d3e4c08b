package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/testharness/natstest"
)

// recordingJS passes publishes to a real JetStream context and records
// them: sync publishes, async publishes per row, how many waves a round
// took (a wave ends when the relay starts waiting for an acknowledgement)
// and the largest, and any row sent while a row of its aggregate was
// still waiting for its acknowledgement. Rows named in fail get a failed
// publish instead (once), rows named in hang a publish that is never
// answered.
type recordingJS struct {
	jetstream.JetStream

	mu           sync.Mutex
	syncPubs     int
	published    []string
	inflight     map[string]string // aggregate -> row in flight
	maxInflight  int               // most publishes in one wave
	waves        int
	wave         int  // publishes in the current wave
	waited       bool // the relay asked a future for its answer
	cleanups     int
	violations   []string
	fail         map[string]bool // row -> fail with an error future
	failDirectly map[string]bool // row -> PublishMsgAsync returns an error
	hang         map[string]bool // row -> the future never resolves
}

func newRecordingJS(js jetstream.JetStream) *recordingJS {
	return &recordingJS{JetStream: js, inflight: map[string]string{}, fail: map[string]bool{},
		failDirectly: map[string]bool{}, hang: map[string]bool{}}
}

func rowKey(m *nats.Msg) (agg, key string) {
	agg = m.Header.Get(outbox.HeaderAggregateID)
	return agg, agg + "#" + m.Header.Get(outbox.HeaderSequence)
}

func (r *recordingJS) PublishMsg(ctx context.Context, m *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	r.mu.Lock()
	r.syncPubs++
	r.mu.Unlock()
	return r.JetStream.PublishMsg(ctx, m, opts...)
}

func (r *recordingJS) CleanupPublisher() {
	r.mu.Lock()
	r.cleanups++
	r.mu.Unlock()
	r.JetStream.CleanupPublisher()
}

func (r *recordingJS) PublishMsgAsync(m *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	agg, key := rowKey(m)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failDirectly[key] {
		delete(r.failDirectly, key)
		return nil, errors.New("injected publish error")
	}
	if prev, ok := r.inflight[agg]; ok {
		r.violations = append(r.violations, fmt.Sprintf("%s sent while %s waited for its ack", key, prev))
	}
	if r.waves == 0 || r.waited {
		r.waves++
		r.wave, r.waited = 0, false
	}
	r.wave++
	r.inflight[agg] = key
	r.maxInflight = max(r.maxInflight, r.wave)
	r.published = append(r.published, key)
	f := &fakeFuture{rec: r, msg: m, ok: make(chan *jetstream.PubAck, 1), err: make(chan error, 1)}
	switch {
	case r.hang[key]:
		delete(r.hang, key)
		// Never answered; the relay gives up after its publish timeout.
		// Settle the bookkeeping so later waves of this test count right.
		go func() {
			time.Sleep(time.Second)
			r.settle(agg, key)
		}()
		return f, nil
	case r.fail[key]:
		delete(r.fail, key)
		r.settleLocked(agg, key)
		f.err <- errors.New("injected ack error")
		return f, nil
	}
	inner, err := r.JetStream.PublishMsgAsync(m, opts...)
	if err != nil {
		r.settleLocked(agg, key)
		return nil, err
	}
	go func() {
		select {
		case ack := <-inner.Ok():
			r.settle(agg, key)
			f.ok <- ack
		case err := <-inner.Err():
			r.settle(agg, key)
			f.err <- err
		}
	}()
	return f, nil
}

func (r *recordingJS) settle(agg, key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.settleLocked(agg, key)
}

func (r *recordingJS) settleLocked(agg, key string) {
	if r.inflight[agg] == key {
		delete(r.inflight, agg)
	}
}

func (r *recordingJS) snapshot() (syncPubs int, published []string, maxInflight, waves, cleanups int, violations []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.syncPubs, slices.Clone(r.published), r.maxInflight, r.waves, r.cleanups, slices.Clone(r.violations)
}

func (r *recordingJS) resetCounts() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.published, r.maxInflight, r.waves, r.wave, r.waited = nil, 0, 0, 0, false
}

type fakeFuture struct {
	rec *recordingJS
	msg *nats.Msg
	ok  chan *jetstream.PubAck
	err chan error
}

func (f *fakeFuture) Ok() <-chan *jetstream.PubAck { f.waiting(); return f.ok }
func (f *fakeFuture) Err() <-chan error            { f.waiting(); return f.err }
func (f *fakeFuture) Msg() *nats.Msg               { return f.msg }

func (f *fakeFuture) waiting() {
	f.rec.mu.Lock()
	defer f.rec.mu.Unlock()
	f.rec.waited = true
}

// recordedOutbox returns an SQLite outbox holding perAggregate events of
// each aggregate, written round-robin in their own transactions, a NATS
// server with the test stream, and a recorder in front of it.
func recordedOutbox(t *testing.T, aggregates []string, perAggregate int) (*sqldb.DB, jetstream.JetStream, *recordingJS) {
	t.Helper()
	db := openSQLite(t)
	s := natstest.Start(t)
	_, js := natstest.Connect(t, s)
	ensureStream(t, js)
	for range perAggregate {
		for _, agg := range aggregates {
			if _, err := writeEvent(t.Context(), db, agg, agg); err != nil {
				t.Fatal(err)
			}
		}
	}
	return db, js, newRecordingJS(js)
}

// TestRelayPublishesInWaves: a round of 10 aggregates with 3 rows each
// costs 3 waves of async publishes (every aggregate's next row in flight
// together), not 30 sequential round trips, and no row is sent before
// its aggregate's previous row was acknowledged.
func TestRelayPublishesInWaves(t *testing.T) {
	const aggregates, perAggregate = 10, 3
	var names []string
	for a := range aggregates {
		names = append(names, fmt.Sprintf("agg-%d", a))
	}
	db, js, rec := recordedOutbox(t, names, perAggregate)
	ctx := t.Context()
	relay, err := outbox.NewRelay(db, rec, outbox.WithLogger(discardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := relay.RunOnce(ctx); err != nil || n != aggregates*perAggregate {
		t.Fatalf("RunOnce = %d, %v; want %d rows", n, err, aggregates*perAggregate)
	}
	syncPubs, published, maxInflight, waves, _, violations := rec.snapshot()
	if syncPubs != 0 || len(published) != aggregates*perAggregate {
		t.Errorf("%d sync and %d async publishes, want 0 and %d", syncPubs, len(published), aggregates*perAggregate)
	}
	if waves != perAggregate || maxInflight != aggregates {
		t.Errorf("%d waves of up to %d publishes, want %d waves of %d", waves, maxInflight, perAggregate, aggregates)
	}
	if len(violations) > 0 {
		t.Errorf("rows sent before their aggregate's previous ack: %v", violations)
	}
	if n := unpublishedCount(t, db); n != 0 {
		t.Errorf("%d rows unpublished after the round, want 0", n)
	}
	assertPerAggregateOrder(t, readStream(t, js), aggregates, perAggregate)

	// WithConcurrency caps a wave: 10 heads at 4 per wave take 3 waves
	// per row position.
	for a := range aggregates {
		if _, err := writeEvent(ctx, db, fmt.Sprintf("agg-%d", a), "v"); err != nil {
			t.Fatal(err)
		}
	}
	rec.resetCounts()
	capped, err := outbox.NewRelay(db, rec, outbox.WithLogger(discardLogger()), outbox.WithConcurrency(4))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := capped.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, published, maxInflight, waves, _, _ := rec.snapshot(); len(published) != aggregates || waves != 3 || maxInflight != 4 {
		t.Errorf("capped round: %d publishes in %d waves of up to %d, want %d in 3 of up to 4", len(published), waves, maxInflight, aggregates)
	}
}

// TestRelayFailedAsyncPublishHoldsAggregate fails one row's publish (an
// error acknowledgement, an error from PublishMsgAsync itself, or no
// answer within the publish timeout) in the middle of its aggregate: the
// aggregate's later rows are not even sent in that round, the other
// aggregates publish completely, and the next round publishes the held
// rows in order.
func TestRelayFailedAsyncPublishHoldsAggregate(t *testing.T) {
	for _, mode := range []string{"ack error", "publish error", "no answer"} {
		t.Run(mode, func(t *testing.T) {
			db, js, rec := recordedOutbox(t, []string{"a", "b", "c"}, 3)
			ctx := t.Context()
			switch mode {
			case "ack error":
				rec.fail["b#2"] = true
			case "publish error":
				rec.failDirectly["b#2"] = true
			case "no answer":
				rec.hang["b#2"] = true
			}
			relay, err := outbox.NewRelay(db, rec, outbox.WithLogger(discardLogger()),
				outbox.WithPublishTimeout(300*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			_, err = relay.RunOnce(ctx)
			if err == nil {
				t.Fatal("RunOnce succeeded, want the publish failure")
			}

			_, published, _, _, cleanups, violations := rec.snapshot()
			if slices.Contains(published, "b#3") {
				t.Errorf("b#3 was sent in the round where b#2 failed: %v", published)
			}
			if len(violations) > 0 {
				t.Errorf("rows sent before their aggregate's previous ack: %v", violations)
			}
			if want := map[bool]int{true: 1, false: 0}[mode == "no answer"]; cleanups != want {
				t.Errorf("CleanupPublisher called %d times, want %d", cleanups, want)
			}
			var got []string
			for _, m := range readStream(t, js) {
				got = append(got, fmt.Sprintf("%s#%d", m.Aggregate, m.Sequence))
			}
			slices.Sort(got)
			if diff := cmp.Diff([]string{"a#1", "a#2", "a#3", "b#1", "c#1", "c#2", "c#3"}, got); diff != "" {
				t.Fatalf("stream after the failed round (-want +got):\n%s", diff)
			}
			if n := unpublishedCount(t, db); n != 2 {
				t.Fatalf("unpublished = %d, want 2 (b#2 and b#3)", n)
			}
			if mode == "no answer" {
				// Let the recorder settle the unanswered row.
				eventually(t, 5*time.Second, "unanswered row settled", func() (bool, error) {
					rec.mu.Lock()
					defer rec.mu.Unlock()
					return len(rec.inflight) == 0, nil
				})
			}
			if _, err := relay.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			if n := unpublishedCount(t, db); n != 0 {
				t.Fatalf("unpublished = %d after the retry round, want 0", n)
			}
			assertPerAggregateOrder(t, readStream(t, js), 3, 3)
		})
	}
}
