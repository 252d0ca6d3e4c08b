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
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

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

// ConsumerBatch is how many events the desk and audit consumers apply per
// transaction (events.WithBatch). Every order change brings an audit
// event, so one transaction and one fsync per event was most of the
// service's CPU under load; a batch keeps the consumers' order, once-only
// and dead-letter guarantees and pays one commit for up to this many
// events. Run both consumers with it and with ConsumerLinger.
const ConsumerBatch = 64

// ConsumerLinger is how long the desk and audit consumers wait for more
// events after the first of a batch when nothing else is queued
// (events.WithBatchLinger). Keeping up with a steady stream they would
// otherwise commit almost every event alone; 50 ms more before an
// exception or audit record shows is nothing to an operator and gathers
// several events per commit (at ~700 events/s, 20 ms gave 0.15 commits
// per event against 0.58 without it and 1 without batches, platform/events
// measurements). Every batch also costs a pull request, an
// acknowledgement round trip and a commit with its fsync, and every
// delivered order brings about five audit events (order and inventory
// changes), so at issue #12's rates 50 ms gathers about 2.5 times the
// events of 20 ms per batch.
const ConsumerLinger = 50 * time.Millisecond

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

// AuditHandler appends the record of each AuditRecordedEvent on d. Run
// its consumer with AuditOptions: it reads the resources straight from
// the wire (wireAudit); an event decoded by the consumer is taken as it
// is.
func AuditHandler(d *desk.Desk, bind Binder) events.Handler {
	return func(ctx context.Context, tx *sql.Tx, ev events.Event) error {
		r, err := auditFromEvent(ev)
		if err != nil {
			return events.Permanent(err)
		}
		return permanentIfInvalid(d.RecordAudit(ctx, bind(tx), r))
	}
}

// AuditOptions are the audit consumer's own options: the payload is left
// to AuditHandler (events.WithRawPayload).
func AuditOptions() []events.ConsumerOption {
	return []events.ConsumerOption{events.WithRawPayload()}
}

// auditType is the payload type of audit events.
var auditType = string((&opsv1.AuditRecordedEvent{}).ProtoReflect().Descriptor().FullName())

// auditFromEvent is the audit record of ev, from its decoded payload or,
// without one, from its wire bytes.
func auditFromEvent(ev events.Event) (desk.AuditRecord, error) {
	if ev.Payload != nil {
		msg, ok := ev.Payload.(*opsv1.AuditRecordedEvent)
		if !ok {
			return desk.AuditRecord{}, fmt.Errorf("deskevents: payload %s is not an audit event", ev.Type)
		}
		r := auditRecord(ev, msg)
		err := auditJSON(&r, msg)
		return r, err
	}
	if ev.Type != auditType {
		return desk.AuditRecord{}, fmt.Errorf("deskevents: payload %s is not %s", ev.Type, auditType)
	}
	msg, before, after, err := wireAudit(ev.Data)
	if err != nil {
		return desk.AuditRecord{}, fmt.Errorf("%w: decode %s: %w", events.ErrMalformedEvent, ev.Type, err)
	}
	r := auditRecord(ev, msg)
	if r.BeforeJSON, err = wireStructJSON(before); err != nil {
		return r, err
	}
	r.AfterJSON, err = wireStructJSON(after)
	return r, err
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
		Message: msg.GetMessage(), CorrelationID: cmp.Or(md.GetCorrelationId(), ev.CorrelationID),
		OccurTime: ev.OccurredAt,
	}
	if msg.GetDetails() != nil {
		o.Details = msg.GetDetails().AsMap()
	}
	switch {
	case msg.GetOccurTime().IsValid(): // an out-of-range time would wrap in the store
		o.OccurTime = msg.GetOccurTime().AsTime()
	case md.GetOccurTime().IsValid():
		o.OccurTime = md.GetOccurTime().AsTime()
	}
	return o
}

func auditRecord(ev events.Event, msg *opsv1.AuditRecordedEvent) desk.AuditRecord {
	md := msg.GetMetadata()
	r := desk.AuditRecord{
		ID: ev.ID, Actor: desk.Actor{Kind: msg.GetActor().GetKind(), ID: msg.GetActor().GetId()},
		Action: msg.GetAction(), Target: msg.GetTarget(), Service: cmp.Or(msg.GetService(), md.GetProducer()),
		CorrelationID: cmp.Or(md.GetCorrelationId(), ev.CorrelationID), CreateTime: ev.OccurredAt,
	}
	if md.GetOccurTime().IsValid() {
		r.CreateTime = md.GetOccurTime().AsTime()
	}
	return r
}

// auditJSON sets r's before and after resources from msg, encoded
// straight from the Structs (structJSON; no map in between).
func auditJSON(r *desk.AuditRecord, msg *opsv1.AuditRecordedEvent) error {
	var err error
	if r.BeforeJSON, err = structJSON(msg.GetBefore()); err != nil {
		return err
	}
	r.AfterJSON, err = structJSON(msg.GetAfter())
	return err
}

// Replayer replays dead letters through the platform's dead-letter
// stream handle; it is the desk's DeadLetterStream.
type Replayer struct {
	js  jetstream.JetStream
	dls *events.DeadLetters
}

var _ desk.DeadLetterStream = (*Replayer)(nil)

// NewReplayer returns the replayer of dead-letter stream (empty:
// events.DefaultDeadLetterStream).
func NewReplayer(js jetstream.JetStream, stream string) *Replayer {
	return &Replayer{js: js, dls: events.NewDeadLetters(js, stream)}
}

// Replay implements desk.DeadLetterStream with events.DeadLetters.Replay,
// which republishes each dead letter with its event id to its original
// subject and removes it from the stream.
//
// On error, events.DeadLetters.Replay returns either the dead letters it
// republished before the failure or, when listing the stream failed, some
// it never republished; which ones were replayed is read back from the
// stream (a replayed dead letter is gone from it). When that read fails
// too, none is reported replayed: they stay PENDING, and replaying them
// again is harmless because consumers skip an event id they applied.
//
// While the connection to NATS is down it fails at once rather than wait
// for a reconnection the operator's request cannot wait for; a call is
// bounded by ReplayTimeout.
func (r *Replayer) Replay(ctx context.Context, seqs []uint64, dryRun bool) ([]uint64, error) {
	if nc := r.js.Conn(); nc != nil && !nc.IsConnected() {
		return nil, errNotConnected
	}
	ctx, cancel := context.WithTimeout(ctx, ReplayTimeout)
	defer cancel()
	f := events.DeadLetterFilter{Seqs: seqs, Limit: len(seqs)}
	dls, err := r.dls.Replay(ctx, f, dryRun)
	if err != nil && dryRun {
		return nil, err
	}
	out := seqsOf(dls)
	if err == nil || len(out) == 0 {
		return out, err
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), listTimeout)
	defer cancel()
	left, lerr := r.dls.List(lctx, events.DeadLetterFilter{Seqs: out, Limit: len(out)})
	if lerr != nil {
		return nil, err
	}
	still := seqsOf(left)
	return slices.DeleteFunc(out, func(s uint64) bool { return slices.Contains(still, s) }), err
}

// ReplayTimeout bounds one replay: reading the dead-letter stream and
// republishing up to the contract's 10000 dead letters.
const ReplayTimeout = time.Minute

var errNotConnected = errors.New("deskevents: not connected to NATS")

// listTimeout bounds the read-back after a failed replay, which runs even
// when the caller gave up, so the desk records what was republished.
const listTimeout = 5 * time.Second

func seqsOf(dls []events.DeadLetter) []uint64 {
	out := make([]uint64, len(dls))
	for i, dl := range dls {
		out[i] = dl.Seq
	}
	return out
}
