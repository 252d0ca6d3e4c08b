package eventstreams_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/testharness/natstest"
)

func TestBackoffPauseIsBoundedAndJittered(t *testing.T) {
	t.Parallel()
	b := eventstreams.Backoff{Base: 100 * time.Millisecond, Max: 2 * time.Second}
	for failures := 1; failures <= 40; failures++ {
		full := min(b.Base<<min(failures-1, 20), b.Max)
		seen := map[time.Duration]bool{}
		for range 200 {
			got := b.Pause(failures)
			if got < full/2 || got > full {
				t.Fatalf("Pause(%d) = %v, want within [%v, %v]", failures, got, full/2, full)
			}
			seen[got] = true
		}
		if len(seen) < 2 {
			t.Errorf("Pause(%d) drew %d distinct pauses in 200 draws, want jitter", failures, len(seen))
		}
	}
	if got, limit := (eventstreams.Backoff{}).Pause(100), eventstreams.DefaultBackoff.Max; got > limit {
		t.Errorf("zero Backoff paused %v, want DefaultBackoff (at most %v)", got, limit)
	}
}

// fakeJS fails the first failures[name] attempts at each stream.
type fakeJS struct {
	jetstream.JetStream
	mu       sync.Mutex
	failures map[string]int
	calls    []string
}

func (f *fakeJS) attempt(method string, cfg jetstream.StreamConfig) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, method+" "+cfg.Name)
	if f.failures[cfg.Name] != 0 {
		f.failures[cfg.Name]--
		return errors.New("nats: no responders available for request")
	}
	return nil
}

func (f *fakeJS) UpdateStream(_ context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return nil, f.attempt("update", cfg)
}

func (f *fakeJS) CreateStream(_ context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return nil, f.attempt("create", cfg)
}

// recordSleep returns a sleep that records the pauses without waiting.
func recordSleep(pauses *[]time.Duration) eventstreams.EnsureOption {
	return eventstreams.WithSleep(func(ctx context.Context, d time.Duration) error {
		*pauses = append(*pauses, d)
		return ctx.Err()
	})
}

func testStream(name string) eventstreams.Stream {
	return eventstreams.Stream{Name: name, Subjects: []string{"test." + name + ".>"}}
}

func discard() eventstreams.EnsureOption {
	return eventstreams.WithLogger(slog.New(slog.DiscardHandler))
}

func TestEnsurerRetriesOnlyFailedStreamsWithBoundedBackoff(t *testing.T) {
	t.Parallel()
	js := &fakeJS{failures: map[string]int{"RETRY_A": 3, "RETRY_B": 1}}
	b := eventstreams.Backoff{Base: 100 * time.Millisecond, Max: 300 * time.Millisecond}
	reg := prometheus.NewRegistry()
	var pauses []time.Duration
	e, err := eventstreams.NewEnsurer([]eventstreams.Stream{testStream("RETRY_A"), testStream("RETRY_B")},
		eventstreams.WithBackoff(b), eventstreams.WithRegisterer(reg), recordSleep(&pauses), discard())
	if err != nil {
		t.Fatal(err)
	}
	if got := metric(t, reg, "transload_eventstreams_stream_ready", "RETRY_A"); got != 0 {
		t.Errorf("ready before Run = %v, want 0", got)
	}
	if err := e.Run(t.Context(), js); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Ensure creates first and updates only a stream that exists with
	// another configuration, which these failures never reach.
	wantCalls := []string{
		"create RETRY_A", "create RETRY_B", // both fail
		"create RETRY_A", "create RETRY_B", // B succeeds
		"create RETRY_A", // fails
		"create RETRY_A", // succeeds
	}
	if diff := cmp.Diff(wantCalls, js.calls); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
	if len(pauses) != 3 {
		t.Fatalf("paused %d times (%v), want 3", len(pauses), pauses)
	}
	for i, p := range pauses {
		full := min(b.Base<<i, b.Max)
		if p < full/2 || p > full {
			t.Errorf("pause %d = %v, want within [%v, %v]", i+1, p, full/2, full)
		}
	}
	for stream, want := range map[string]float64{"RETRY_A": 3, "RETRY_B": 1} {
		if got := metric(t, reg, "transload_eventstreams_ensure_failures_total", stream); got != want {
			t.Errorf("failures of %s = %v, want %v", stream, got, want)
		}
		if got := metric(t, reg, "transload_eventstreams_stream_ready", stream); got != 1 {
			t.Errorf("ready of %s = %v, want 1", stream, got)
		}
	}
}

func TestEnsurerExistsOnlyCreatesWithoutUpdating(t *testing.T) {
	t.Parallel()
	js := &fakeJS{}
	e, err := eventstreams.NewEnsurer([]eventstreams.Stream{testStream("EXISTS_ONLY")}, eventstreams.ExistsOnly(), discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Run(t.Context(), js); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"create EXISTS_ONLY"}, js.calls); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
}

func TestEnsurerStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	js := &fakeJS{failures: map[string]int{"NEVER": -1}} // negative: fails forever
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	sleeps := 0
	e, err := eventstreams.NewEnsurer([]eventstreams.Stream{testStream("NEVER")}, discard(),
		eventstreams.WithSleep(func(ctx context.Context, _ time.Duration) error {
			sleeps++
			if sleeps == 2 {
				cancel()
			}
			return ctx.Err()
		}))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Run(ctx, js); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if len(js.calls) != 2 {
		t.Errorf("attempts = %v, want 2", js.calls)
	}
}

func TestNewEnsurerRejectsInvalidStream(t *testing.T) {
	t.Parallel()
	_, err := eventstreams.NewEnsurer([]eventstreams.Stream{{Name: "NO_SUBJECTS"}})
	if !errors.Is(err, eventstreams.ErrInvalidStream) {
		t.Fatalf("NewEnsurer = %v, want ErrInvalidStream", err)
	}
}

// TestEnsureUpdatesAndEnsureExistsKeeps runs against a real server: the
// producer's Ensure sets the declared configuration, a consumer's
// EnsureExists creates a missing stream but never rewrites an existing one.
func TestEnsureUpdatesAndEnsureExistsKeeps(t *testing.T) {
	t.Parallel()
	_, js := natstest.Connect(t, natstest.Start(t))
	ctx := t.Context()
	s := eventstreams.Stream{Name: "KEEP", Subjects: []string{"keep.>"}, Description: "v1"}

	if err := eventstreams.EnsureExists(ctx, js, s); err != nil {
		t.Fatalf("EnsureExists on a missing stream: %v", err)
	}
	s.Description = "v2"
	if err := eventstreams.EnsureExists(ctx, js, s); err != nil {
		t.Fatalf("EnsureExists on an existing stream: %v", err)
	}
	if got := description(t, js, "KEEP"); got != "v1" {
		t.Errorf("after EnsureExists description = %q, want the existing %q", got, "v1")
	}
	st, err := eventstreams.Ensure(ctx, js, s)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := s.JetStreamConfig()
	got := info.Config
	if got.Description != "v2" || got.Storage != jetstream.FileStorage || got.Duplicates != eventstreams.DefaultDuplicateWindow ||
		!cmp.Equal(got.Subjects, want.Subjects) {
		t.Errorf("after Ensure config = %+v, want %+v", got, want)
	}
	if _, err := eventstreams.Ensure(ctx, js, eventstreams.Stream{Name: "KEEP"}); !errors.Is(err, eventstreams.ErrInvalidStream) {
		t.Errorf("Ensure of an invalid stream = %v, want ErrInvalidStream", err)
	}
}

func description(t *testing.T, js jetstream.JetStream, name string) string {
	t.Helper()
	st, err := js.Stream(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.Config.Description
}

// metric returns the value of the series of name labelled stream.
func metric(t *testing.T, reg *prometheus.Registry, name, stream string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "stream" && l.GetValue() == stream {
					if m.GetGauge() != nil {
						return m.GetGauge().GetValue()
					}
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s series for stream %s", name, stream)
	return 0
}

// TestEnsurersShareRegisterer wires a relay's and a consumer's ensurer to
// one registry, as a service that produces and consumes does.
func TestEnsurersShareRegisterer(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	for _, s := range []eventstreams.Stream{testStream("SHARED_A"), testStream("SHARED_B")} {
		if _, err := eventstreams.NewEnsurer([]eventstreams.Stream{s}, eventstreams.WithRegisterer(reg)); err != nil {
			t.Fatalf("NewEnsurer(%s): %v", s.Name, err)
		}
	}
	if got := metric(t, reg, "transload_eventstreams_stream_ready", "SHARED_B"); got != 0 {
		t.Errorf("ready of SHARED_B = %v, want 0", got)
	}
}

// TestEnsureAlongsideConsumerCreation: services ensure their streams at
// every start while other processes create consumers on them. An
// unconditional stream update each time raced, inside nats-server's file
// store, with the consumer creation (the race detector reported it in the
// ops service's tests); Ensure of an unchanged stream leaves it alone.
func TestEnsureAlongsideConsumerCreation(t *testing.T) {
	t.Parallel()
	_, js := natstest.Connect(t, natstest.Start(t))
	ctx := t.Context()
	s := eventstreams.Stream{Name: "BUSY", Subjects: []string{"busy.>"}, Description: "v1"}
	if _, err := eventstreams.Ensure(ctx, js, s); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			if _, err := eventstreams.Ensure(ctx, js, s); err != nil {
				t.Errorf("Ensure: %v", err)
			}
		})
		wg.Go(func() {
			if _, err := js.CreateOrUpdateConsumer(ctx, "BUSY", jetstream.ConsumerConfig{
				Durable: fmt.Sprintf("c%d", i), AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
				t.Errorf("consumer: %v", err)
			}
		})
	}
	wg.Wait()
	if got := description(t, js, "BUSY"); got != "v1" {
		t.Errorf("description = %q", got)
	}
}
