package events_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/testharness/natstest"
)

// testStreamDecl is the test stream as its producer declares it.
var testStreamDecl = eventstreams.Stream{
	Name: testStream, Subjects: []string{"transload.test.>"}, Events: []string{testSubject},
	Description: "declared",
}

// newStreamConsumer is a consumer of the test stream that ensures it.
func newStreamConsumer(t *testing.T, db *sqldb.DB, js jetstream.JetStream, name string) *events.Consumer {
	t.Helper()
	c, err := events.NewConsumer(db, js, events.ConsumerConfig{
		Name: name, Stream: testStreamDecl.Name, FilterSubjects: []string{testSubject},
	}, recordingHandler(db.Dialect(), name, nil),
		events.WithStreams(testStreamDecl),
		events.WithStreamBackoff(eventstreams.Backoff{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond}),
		events.WithFetchWait(200*time.Millisecond), events.WithRetryWait(20*time.Millisecond),
		events.WithConsumerLogger(discard()))
	if err != nil {
		t.Fatalf("NewConsumer: %v", err)
	}
	return c
}

// TestConsumerWithStreamsCreatesMissingStream starts a consumer before its
// producer ever created the stream: the consumer creates it as declared
// and then consumes what the producer publishes.
func TestConsumerWithStreamsCreatesMissingStream(t *testing.T) {
	db := openSQLite(t)
	_, js := natstest.Connect(t, natstest.Start(t))
	runConsumer(t, newStreamConsumer(t, db, js, "early"))

	eventually(t, 10*time.Second, "the stream created by the consumer", func() bool {
		_, err := js.Stream(t.Context(), testStream)
		return err == nil
	})
	publish(t, js, testEvent{ID: "e-1", Aggregate: "a", Seq: 1, Value: "v"}, "")
	eventually(t, 10*time.Second, "the event applied", func() bool { return len(readApplied(t, db, "early")) == 1 })
	if got := testStreamConfig(t, js); got.Description != testStreamDecl.Description || got.Duplicates != eventstreams.DefaultDuplicateWindow {
		t.Errorf("stream config = %+v, want the declared one", got)
	}
}

// TestConsumerWithStreamsKeepsProducersStream starts a consumer after the
// producer made the stream: the consumer binds to it without rewriting
// the producer's configuration.
func TestConsumerWithStreamsKeepsProducersStream(t *testing.T) {
	db := openSQLite(t)
	_, js := natstest.Connect(t, natstest.Start(t))
	producers := testStreamDecl
	producers.Description = "the producer's newer configuration"
	if _, err := eventstreams.Ensure(t.Context(), js, producers); err != nil {
		t.Fatal(err)
	}
	publish(t, js, testEvent{ID: "e-1", Aggregate: "a", Seq: 1, Value: "v"}, "")
	runConsumer(t, newStreamConsumer(t, db, js, "late"))
	eventually(t, 10*time.Second, "the event applied", func() bool { return len(readApplied(t, db, "late")) == 1 })
	if got := testStreamConfig(t, js).Description; got != producers.Description {
		t.Errorf("stream description = %q, want the producer's %q", got, producers.Description)
	}
}

// testStreamConfig returns the test stream's configuration as JetStream
// has it.
func testStreamConfig(t *testing.T, js jetstream.JetStream) jetstream.StreamConfig {
	t.Helper()
	st, err := js.Stream(t.Context(), testStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.Config
}

func TestNewConsumerChecksFiltersAgainstDeclaredStream(t *testing.T) {
	db := openSQLite(t)
	h := recordingHandler(db.Dialect(), "x", nil)
	for filter, wantOK := range map[string]bool{
		testSubject:             true,
		"transload.test.*":      true,
		"transload.other.thing": false,
		"transload.>":           false,
	} {
		_, err := events.NewConsumer(db, nil, events.ConsumerConfig{
			Name: "x", Stream: testStream, FilterSubjects: []string{filter},
		}, h, events.WithStreams(testStreamDecl))
		if gotOK := err == nil; gotOK != wantOK {
			t.Errorf("filter %q: NewConsumer error = %v, want ok=%v", filter, err, wantOK)
		}
	}
	_, err := events.NewConsumer(db, nil, events.ConsumerConfig{Name: "x", Stream: "S"}, h,
		events.WithStreams(eventstreams.Stream{Name: "S"}))
	if !errors.Is(err, eventstreams.ErrInvalidStream) {
		t.Errorf("invalid stream: NewConsumer error = %v, want ErrInvalidStream", err)
	}
}
