// Package opseventstest reads back, for tests, the exceptions and audit
// records a service wrote to its outbox through opsevents, so a test can
// prove they were written in the transaction of the change without running
// a relay.
package opseventstest

import (
	"testing"

	"google.golang.org/protobuf/proto"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox/outboxtest"
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

// Read returns the operations events stored in db's outbox. It fails the
// test when a row cannot be read or decoded, or when an ops subject carries
// a payload of another type.
func Read(t testing.TB, db *sqldb.DB) Events {
	t.Helper()
	var out Events
	for _, r := range outboxtest.Read(t, db, eventstreams.ExceptionRaised, eventstreams.AuditRecorded) {
		switch m := r.Message.(type) {
		case *opsv1.ExceptionRaisedEvent:
			out.Exceptions = append(out.Exceptions, m)
		case *opsv1.AuditRecordedEvent:
			out.Audits = append(out.Audits, m)
		default:
			t.Fatalf("outbox event %s carries a %T", r.Subject, m)
		}
		out.All = append(out.All, r.Message)
	}
	return out
}
