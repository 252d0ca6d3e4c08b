package deskevents

import (
	"reflect"
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
		if audit {
			// The audit consumer reads the payload from the wire
			// (events.WithRawPayload): the same record as from the
			// decoded payload, and an error where decoding fails.
			raw := ev
			raw.Payload = nil
			wr, werr := auditFromEvent(raw)
			switch {
			case err != nil && werr == nil:
				t.Fatalf("the wire read accepted a payload Decode refused (%v): %+v", err, wr)
			case err == nil:
				dr, derr := auditFromEvent(ev)
				if (derr == nil) != (werr == nil) || !reflect.DeepEqual(dr, wr) {
					t.Fatalf("wire read %+v (%v), decoded %+v (%v)", wr, werr, dr, derr)
				}
			}
		}
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

// FuzzWireStructJSON: for any bytes, wireStructJSON is structJSON of the
// Struct proto.Unmarshal decodes from them, and fails where it fails.
func FuzzWireStructJSON(f *testing.F) {
	marshal := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	s1, _ := structpb.NewStruct(map[string]any{"a": "<x>", "n": 1.5e-7, "l": []any{"q", nil, true, map[string]any{"z": 1.0, "b": false}},
		"o": map[string]any{"k": "v"}})
	s2, _ := structpb.NewStruct(map[string]any{"a": 2.0, "o": map[string]any{"j": "w"}, "l": []any{"r"}})
	f.Add(marshal(s1))
	f.Add(append(marshal(s1), marshal(s2)...)) // a field twice: entries replaced by key
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x02, 0x12, 0x00})                   // an entry without a key, an empty value
	f.Add([]byte{0x0a, 0x05, 0x0a, 0x01, 0xff, 0x12, 0x00}) // invalid UTF-8 key
	f.Add([]byte{0x0a, 0x04, 0x12, 0x02, 0x11, 0x00})       // truncated number
	f.Fuzz(func(t *testing.T, data []byte) {
		var s structpb.Struct
		perr := proto.Unmarshal(data, &s)
		got, werr := wireStructJSON([][]byte{data})
		if perr != nil {
			if werr == nil {
				t.Fatalf("wireStructJSON accepted what proto.Unmarshal refused (%v): %s", perr, got)
			}
			return
		}
		want, serr := structJSON(&s)
		if (serr == nil) != (werr == nil) || got != want {
			t.Fatalf("wireStructJSON %s (%v), structJSON %s (%v)", got, werr, want, serr)
		}
	})
}
