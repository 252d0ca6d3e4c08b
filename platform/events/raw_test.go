package events_test

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/outbox"
)

// With WithRawPayload the handler gets the event with its headers decoded
// and Payload nil, decodes Data itself, and an event whose payload type is
// not even registered reaches it (it decides); a message without an event
// type is still dead-lettered before the handler, as without the option.
func TestRawPayloadLeavesDecodingToTheHandler(t *testing.T) {
	db := openSQLite(t)
	js := startStream(t)
	var sawPayload, sawUnknown atomic.Bool
	h := func(ctx context.Context, tx *sql.Tx, ev events.Event) error {
		if ev.Payload != nil {
			sawPayload.Store(true)
		}
		if ev.Type != "google.protobuf.StringValue" {
			sawUnknown.Store(true)
			return events.Permanent(errors.New("not a StringValue"))
		}
		var v wrapperspb.StringValue
		if err := proto.Unmarshal(ev.Data, &v); err != nil {
			return events.Permanent(err)
		}
		ev.Payload = &v // what recordingHandler (events.Typed) expects
		return recordingHandler(db.Dialect(), "raw", nil)(ctx, tx, ev)
	}
	c := newConsumer(t, db, js, events.ConsumerConfig{Name: "raw"}, h, nil, events.WithRawPayload(), events.WithBatch(8))
	runConsumer(t, c)
	publishSeq(t, js, 1, 2)
	publishWithType(t, js, testEvent{ID: "unknown", Aggregate: "b", Seq: 1, Value: "x"}, "transload.nope.v1.Missing")
	// No event type header at all.
	m := nats.NewMsg(testSubject)
	m.Header.Set(outbox.HeaderEventID, "typeless")
	if _, err := js.PublishMsg(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	publishSeq(t, js, 3, 3)
	eventually(t, 10*time.Second, "3 applied", func() bool { return len(readApplied(t, db, "raw")) >= 3 })
	if got := values(readApplied(t, db, "raw")); got != wantSeq(1, 3) {
		t.Fatalf("applied = %s", got)
	}
	list, err := events.NewDeadLetters(js, "").List(t.Context(), events.DeadLetterFilter{Consumer: "raw"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, dl := range list {
		got[dl.EventID] = true
	}
	if len(list) != 2 || !got["unknown"] || !got["typeless"] {
		t.Errorf("dead letters %v, want unknown (by the handler) and typeless (no type header)", got)
	}
	if sawPayload.Load() || !sawUnknown.Load() {
		t.Errorf("handler saw a decoded payload: %v, saw the unregistered type: %v; want false, true", sawPayload.Load(), sawUnknown.Load())
	}
}
