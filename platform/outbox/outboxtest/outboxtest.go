// Package outboxtest reads back, in tests, the events a service's
// transactions wrote to the platform outbox, so a test can prove that an
// event was written with the change that caused it (and not at all when
// the change rolled back) without running a relay.
package outboxtest

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/transload/transload/platform/sqldb"
)

// Row is one outbox event as written.
type Row struct {
	Subject       string
	AggregateType string
	AggregateID   string
	// CreatedUnixUS is the write time; the events of one outbox.WriteBatch
	// share it.
	CreatedUnixUS int64
	// Message is the decoded payload.
	Message proto.Message
}

// Read returns the outbox events of db whose subject is one of subjects
// (every event when none is given), in the order they were written. It
// fails the test when a row cannot be read or decoded; the payload's type
// must be linked into the test binary.
func Read(t testing.TB, db *sqldb.DB, subjects ...string) []Row {
	t.Helper()
	type raw struct {
		subject, aggType, aggID, payloadType string
		createdUS                            int64
		payload                              []byte
	}
	rows, err := sqldb.QueryAll(t.Context(), db.SQL(),
		`SELECT subject, aggregate_type, aggregate_id, payload_type, created_unix_us, payload FROM outbox_events ORDER BY id`, nil,
		func(sc sqldb.Scanner) (raw, error) {
			var r raw
			err := sc.Scan(&r.subject, &r.aggType, &r.aggID, &r.payloadType, &r.createdUS, &r.payload)
			return r, err
		})
	if err != nil {
		t.Fatalf("read outbox: %v", err)
	}
	want := map[string]bool{}
	for _, s := range subjects {
		want[s] = true
	}
	var out []Row
	for _, r := range rows {
		if len(want) > 0 && !want[r.subject] {
			continue
		}
		mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(r.payloadType))
		if err != nil {
			t.Fatalf("outbox event %s: payload type %s: %v", r.subject, r.payloadType, err)
		}
		m := mt.New().Interface()
		if err := proto.Unmarshal(r.payload, m); err != nil {
			t.Fatalf("outbox event %s: decode %s: %v", r.subject, r.payloadType, err)
		}
		out = append(out, Row{Subject: r.subject, AggregateType: r.aggType, AggregateID: r.aggID,
			CreatedUnixUS: r.createdUS, Message: m})
	}
	return out
}
