// Package deskevents is the desk's NATS side: the durable consumers that
// project events into the desk, and the replay of dead letters.
//
//   - ops_desk (platform/events consumer on TRANSLOAD_OPS, subject
//     transload.ops.exception_raised) raises exceptions;
//   - ops_audit (same stream, transload.ops.audit_recorded) appends audit
//     records (record id = event id);
//   - ops_deadletters (a JetStream consumer of its own on the DEADLETTER
//     stream, subjects deadletter.>) stores each dead letter and raises
//     its DEAD_LETTER exception in one transaction.
//
// All three are durable and idempotent: the first two through the
// platform's processed-event table, the third because a dead letter is
// stored once per dead-letter stream sequence. A redelivery, a restart of
// the ops service or of NATS changes nothing and loses nothing.
package deskevents

import (
	"context"
	"database/sql"
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/services/ops/internal/desk"
)

// Durable consumer names. They key JetStream state and processed-event
// rows, so they must not change.
const (
	DeskConsumer       = "ops_desk"
	AuditConsumer      = "ops_audit"
	DeadLetterConsumer = "ops_deadletters"
)

// Binder returns the store's view of a consumer's transaction
// (sqlstore.Store.Bind).
type Binder func(*sql.Tx) desk.Tx

// DeskConfig is the consumer of raised exceptions.
func DeskConfig() events.ConsumerConfig {
	return events.ConsumerConfig{Name: DeskConsumer, Stream: eventstreams.Ops.Name, FilterSubjects: []string{eventstreams.ExceptionRaised}}
}

// AuditConfig is the consumer of audit records.
func AuditConfig() events.ConsumerConfig {
	return events.ConsumerConfig{Name: AuditConsumer, Stream: eventstreams.Ops.Name, FilterSubjects: []string{eventstreams.AuditRecorded}}
}

// DeskHandler raises the exception of each ExceptionRaisedEvent on d. An
// event the desk cannot use (no kind, no resource) is dead-lettered at
// once.
func DeskHandler(d *desk.Desk, bind Binder) events.Handler {
	return events.Typed(func(ctx context.Context, tx *sql.Tx, ev events.Event, msg *opsv1.ExceptionRaisedEvent) error {
		return permanentIfInvalid(d.Raise(ctx, bind(tx), occurrence(ev, msg)))
	})
}

// AuditHandler appends the record of each AuditRecordedEvent on d.
func AuditHandler(d *desk.Desk, bind Binder) events.Handler {
	return events.Typed(func(ctx context.Context, tx *sql.Tx, ev events.Event, msg *opsv1.AuditRecordedEvent) error {
		return permanentIfInvalid(d.RecordAudit(ctx, bind(tx), auditRecord(ev, msg)))
	})
}

func permanentIfInvalid(err error) error {
	if errors.Is(err, desk.ErrInvalidEvent) {
		return events.Permanent(err)
	}
	return err
}

func occurrence(ev events.Event, msg *opsv1.ExceptionRaisedEvent) desk.Occurrence {
	md := msg.GetMetadata()
	o := desk.Occurrence{
		EventID: ev.ID, Producer: md.GetProducer(),
		Kind: desk.Kind(msg.GetKind()), Severity: desk.Severity(msg.GetSeverity()), Domain: desk.Domain(msg.GetDomain()),
		Resource: msg.GetResource(), AggregateType: msg.GetAggregateType(), AggregateID: msg.GetAggregateId(),
		Message: msg.GetMessage(), CorrelationID: firstOf(md.GetCorrelationId(), ev.CorrelationID),
		OccurTime: ev.OccurredAt,
	}
	if msg.GetDetails() != nil {
		o.Details = msg.GetDetails().AsMap()
	}
	switch {
	case msg.GetOccurTime() != nil:
		o.OccurTime = msg.GetOccurTime().AsTime()
	case md.GetOccurTime() != nil:
		o.OccurTime = md.GetOccurTime().AsTime()
	}
	return o
}

func auditRecord(ev events.Event, msg *opsv1.AuditRecordedEvent) desk.AuditRecord {
	md := msg.GetMetadata()
	r := desk.AuditRecord{
		ID: ev.ID, Actor: desk.Actor{Kind: msg.GetActor().GetKind(), ID: msg.GetActor().GetId()},
		Action: msg.GetAction(), Target: msg.GetTarget(), Service: firstOf(msg.GetService(), md.GetProducer()),
		CorrelationID: firstOf(md.GetCorrelationId(), ev.CorrelationID), CreateTime: ev.OccurredAt,
	}
	if md.GetOccurTime() != nil {
		r.CreateTime = md.GetOccurTime().AsTime()
	}
	if msg.GetBefore() != nil {
		r.Before = msg.GetBefore().AsMap()
	}
	if msg.GetAfter() != nil {
		r.After = msg.GetAfter().AsMap()
	}
	return r
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Replayer replays dead letters through the platform's dead-letter
// stream handle; it is the desk's DeadLetterStream.
type Replayer struct {
	dls *events.DeadLetters
}

var _ desk.DeadLetterStream = (*Replayer)(nil)

// NewReplayer returns the replayer of dead-letter stream (empty:
// events.DefaultDeadLetterStream).
func NewReplayer(js jetstream.JetStream, stream string) *Replayer {
	return &Replayer{dls: events.NewDeadLetters(js, stream)}
}

// Replay implements desk.DeadLetterStream with events.DeadLetters.Replay,
// which republishes each dead letter with its event id to its original
// subject and removes it from the stream.
func (r *Replayer) Replay(ctx context.Context, seqs []uint64, dryRun bool) ([]uint64, error) {
	dls, err := r.dls.Replay(ctx, events.DeadLetterFilter{Seqs: seqs, Limit: len(seqs)}, dryRun)
	out := make([]uint64, len(dls))
	for i, dl := range dls {
		out[i] = dl.Seq
	}
	return out, err
}
