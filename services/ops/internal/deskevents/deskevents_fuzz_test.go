package deskevents

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
)

// representable reports whether t survives the desk's storage as unix
// microseconds (no wrap).
func representable(t time.Time) bool {
	return t.IsZero() || time.UnixMicro(t.UnixMicro()).Equal(t.Truncate(time.Microsecond))
}

// FuzzOpsEventDecoding decodes arbitrary payloads of the two ops events
// the desk consumes, as the consumers do, and projects them: never a
// panic; the projection keeps the event id and a time the store can
// hold (an out-of-range Timestamp falls back, it does not wrap).
func FuzzOpsEventDecoding(f *testing.F) {
	marshal := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	details, _ := structpb.NewStruct(map[string]any{"order": "orders/1", "n": -1e308, "list": []any{"a", nil, true}})
	f.Add(false, marshal(&opsv1.ExceptionRaisedEvent{
		Metadata: &commonv1.EventMetadata{EventId: "e1", Producer: "order"}, Kind: 99, Severity: -1, Domain: 7,
		Resource: "orders/1", Message: string(make([]byte, 1<<12)), Details: details,
		OccurTime: &timestamppb.Timestamp{Seconds: 1 << 62},
	}))
	f.Add(false, marshal(&opsv1.ExceptionRaisedEvent{Kind: opsv1.Exception_KIND_DEAD_LETTER, Severity: opsv1.Exception_SEVERITY_HIGH,
		Domain: opsv1.Exception_DOMAIN_ERP, Resource: "streams/X", OccurTime: &timestamppb.Timestamp{Seconds: -1 << 62, Nanos: -5}}))
	f.Add(true, marshal(&opsv1.AuditRecordedEvent{
		Metadata: &commonv1.EventMetadata{EventId: "a1", OccurTime: &timestamppb.Timestamp{Seconds: 253402300800}},
		Actor:    &commonv1.AuditActor{Kind: "api_key", Id: "k"}, Action: "order.create", Target: "orders/1",
		Before: details, After: details,
	}))
	f.Add(true, []byte{0x12, 0x03, 0x0a})
	f.Fuzz(func(t *testing.T, audit bool, data []byte) {
		subject, typ := eventstreams.ExceptionRaised, "transload.ops.v1.ExceptionRaisedEvent"
		if audit {
			subject, typ = eventstreams.AuditRecorded, "transload.ops.v1.AuditRecordedEvent"
		}
		h := nats.Header{}
		h.Set(outbox.HeaderEventID, "evt-fuzz")
		h.Set(outbox.HeaderEventType, typ)
		h.Set(outbox.HeaderOccurredAt, "2026-12-07T10:00:00Z")
		ev, err := events.Decode(subject, h, data)
		if err != nil {
			return
		}
		if audit {
			r := auditRecord(ev, ev.Payload.(*opsv1.AuditRecordedEvent))
			if r.ID != ev.ID || !representable(r.CreateTime) {
				t.Fatalf("audit record id %q time %v (event %s)", r.ID, r.CreateTime, ev.ID)
			}
			msg := ev.Payload.(*opsv1.AuditRecordedEvent)
			if err := auditJSON(&r, msg); err == nil {
				if want := reference(t, msg.GetBefore()); r.BeforeJSON != want {
					t.Fatalf("before JSON %s, want %s", r.BeforeJSON, want)
				}
				if want := reference(t, msg.GetAfter()); r.AfterJSON != want {
					t.Fatalf("after JSON %s, want %s", r.AfterJSON, want)
				}
			}
			return
		}
		o := occurrence(ev, ev.Payload.(*opsv1.ExceptionRaisedEvent))
		if o.EventID != ev.ID || !representable(o.OccurTime) {
			t.Fatalf("occurrence id %q time %v (event %s)", o.EventID, o.OccurTime, ev.ID)
		}
	})
}
