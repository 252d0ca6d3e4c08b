package outbox_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/natsembed"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/testharness/natstest"
)

// testStreamDecl is the test stream as a declaration.
var testStreamDecl = eventstreams.Stream{
	Name: testStream, Subjects: []string{"transload.test.>"}, Events: []string{testSubject},
}

// TestRelayEnsuresStreamsOnceNATSIsUp starts the relay while the NATS
// server is down: it keeps trying to create its stream (counted in the
// metrics), creates it once the server is up, and then publishes the
// event written before.
func TestRelayEnsuresStreamsOnceNATSIsUp(t *testing.T) {
	db := openSQLite(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if _, err := writeEvent(ctx, db, "a", "written before NATS"); err != nil {
		t.Fatal(err)
	}

	srv, js := natsDown(t)
	reg := prometheus.NewRegistry()
	relay, err := outbox.NewRelay(db, js, outbox.WithStreams(testStreamDecl),
		outbox.WithStreamBackoff(eventstreams.Backoff{Base: 20 * time.Millisecond, Max: 100 * time.Millisecond}),
		outbox.WithPublishTimeout(200*time.Millisecond), outbox.WithPollInterval(20*time.Millisecond),
		outbox.WithRegisterer(reg), outbox.WithLogger(discardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	// The metrics are per process (the test stream is their only series
	// here): count from what earlier tests left.
	failed := metricValue(t, reg, "transload_eventstreams_ensure_failures_total")
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()

	eventually(t, 10*time.Second, "failed attempts to create the stream", func() (bool, error) {
		return metricValue(t, reg, "transload_eventstreams_ensure_failures_total") >= failed+2, nil
	})
	if got := metricValue(t, reg, "transload_eventstreams_stream_ready"); got != 0 {
		t.Errorf("stream ready = %v while NATS is down, want 0", got)
	}
	natstest.Restart(t, srv)
	eventually(t, 15*time.Second, "the event published", func() (bool, error) {
		return unpublishedCount(t, db) == 0, nil
	})
	if got := metricValue(t, reg, "transload_eventstreams_stream_ready"); got != 1 {
		t.Errorf("stream ready = %v after publishing, want 1", got)
	}
	msgs := readStream(t, js)
	if len(msgs) != 1 || msgs[0].Value != "written before NATS" {
		t.Errorf("stream holds %+v, want the one event", msgs)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

// TestRelayStoppedBeforeNATSIsUp shuts the relay down while it still waits
// for its stream: Run returns nil and publishes nothing.
func TestRelayStoppedBeforeNATSIsUp(t *testing.T) {
	db := openSQLite(t)
	if _, err := writeEvent(t.Context(), db, "a", "v"); err != nil {
		t.Fatal(err)
	}
	_, js := natsDown(t)
	reg := prometheus.NewRegistry()
	relay, err := outbox.NewRelay(db, js, outbox.WithStreams(testStreamDecl), outbox.WithRegisterer(reg),
		outbox.WithPublishTimeout(100*time.Millisecond), outbox.WithLogger(discardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	failed := metricValue(t, reg, "transload_eventstreams_ensure_failures_total")
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()
	eventually(t, 10*time.Second, "a failed attempt to create the stream", func() (bool, error) {
		return metricValue(t, reg, "transload_eventstreams_ensure_failures_total") > failed, nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	if n := unpublishedCount(t, db); n != 1 {
		t.Errorf("unpublished = %d, want 1", n)
	}
}

func TestNewRelayRejectsInvalidStream(t *testing.T) {
	db := openSQLite(t)
	_, err := outbox.NewRelay(db, nil, outbox.WithStreams(eventstreams.Stream{Name: "NO_SUBJECTS"}))
	if !errors.Is(err, eventstreams.ErrInvalidStream) {
		t.Fatalf("NewRelay = %v, want ErrInvalidStream", err)
	}
}

// natsDown starts a NATS server and shuts it down again, and returns it
// (for natstest.Restart) with a JetStream handle whose connection keeps
// trying to reach it.
func natsDown(t *testing.T) (*natsembed.Server, jetstream.JetStream) {
	t.Helper()
	srv := natstest.Start(t)
	url := srv.ClientURL()
	srv.Shutdown()
	nc, err := nats.Connect(url, nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1),
		nats.ReconnectWait(20*time.Millisecond), nats.ReconnectJitter(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return srv, js
}
