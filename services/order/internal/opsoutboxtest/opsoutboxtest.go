// Package opsoutboxtest reads back, for tests, the exceptions and audit
// records the order service wrote to its outbox (platform/opsevents), so a
// test can prove they were written in the transaction of the change
// without running a relay.
package opsoutboxtest

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/platform/sqldb"
)

// Events is what the outbox holds for operators, in write order.
type Events struct {
	// All is every exception and audit record, in write order (each an
	// *opsv1.ExceptionRaisedEvent or *opsv1.AuditRecordedEvent).
	All        []proto.Message
	Exceptions []*opsv1.ExceptionRaisedEvent
	Audits     []*opsv1.AuditRecordedEvent
}

// Read returns the operations events stored in db's outbox.
func Read(t testing.TB, db *sqldb.DB) Events {
	t.Helper()
	type row struct {
		subject string
		payload []byte
	}
	rows, err := sqldb.QueryAll(t.Context(), db.SQL(), db.Rebind(
		`SELECT subject, payload FROM outbox_events WHERE aggregate_type IN (?, ?) ORDER BY id`),
		[]any{opsevents.AggregateException, opsevents.AggregateAudit}, func(sc sqldb.Scanner) (row, error) {
			var r row
			err := sc.Scan(&r.subject, &r.payload)
			return r, err
		})
	if err != nil {
		t.Fatalf("read ops outbox events: %v", err)
	}
	var out Events
	for _, r := range rows {
		switch r.subject {
		case eventstreams.ExceptionRaised:
			ev := &opsv1.ExceptionRaisedEvent{}
			mustUnmarshal(t, r.payload, ev)
			out.Exceptions = append(out.Exceptions, ev)
			out.All = append(out.All, ev)
		case eventstreams.AuditRecorded:
			ev := &opsv1.AuditRecordedEvent{}
			mustUnmarshal(t, r.payload, ev)
			out.Audits = append(out.Audits, ev)
			out.All = append(out.All, ev)
		default:
			t.Fatalf("ops outbox event on unexpected subject %q", r.subject)
		}
	}
	return out
}

func mustUnmarshal(t testing.TB, b []byte, m proto.Message) {
	t.Helper()
	if err := proto.Unmarshal(b, m); err != nil {
		t.Fatal(fmt.Errorf("decode %T: %w", m, err))
	}
}
