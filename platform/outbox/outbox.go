// Package outbox implements the transactional outbox: a service writes the
// events it raises into its own database in the same transaction as the
// state change that raises them ([Write]), and a [Relay] publishes the
// committed rows to NATS JetStream afterwards.
//
// # Guarantees
//
//   - Atomicity: an event exists if and only if the caller's transaction
//     committed. A rolled-back transaction publishes nothing.
//   - Per-aggregate order: every event carries a sequence number that is
//     monotonic per (aggregate type, aggregate id), assigned inside the
//     writer's transaction from a counter row the transaction locks, so two
//     concurrent writers of one aggregate get consecutive numbers in commit
//     order on both SQLite and PostgreSQL. The relay publishes one
//     aggregate's events strictly in sequence order and never publishes a
//     later event of an aggregate while an earlier one failed.
//   - At-least-once delivery with de-duplication: the relay marks a row
//     published only after JetStream acknowledged it. A crash between the
//     acknowledgement and the mark republishes the row with the same
//     Nats-Msg-Id (the event id), which JetStream drops inside the stream's
//     duplicate window (eventstreams.Stream.DuplicateWindow). Past that
//     window consumers still apply an event once through their
//     processed-event table (package events).
//
// Run one relay per database. A second relay is safe (JetStream drops its
// duplicates) but wastes work. Started with [WithStreams], the relay first
// ensures the streams it publishes to, retrying while NATS is unreachable.
//
// # Broker loss
//
// The relay records the stream sequence of every published row. A
// [Reconciler] (run by the relay with [WithReconcile], one per service
// across replicas under a lease) republishes the recently published
// events their stream lost (purged, expired, recreated), counts them and
// raises an exception; see reconcile.go for the criterion.
//
// # Event metadata
//
// Every Transload event message carries a transload.common.v1
// EventMetadata whose sequence must equal the sequence the outbox stores
// and relays. The outbox owns that number: an [Event] with a [Builder]
// receives the metadata (event id, aggregate, sequence, occur time,
// correlation id, producer) after the outbox took the sequence, inside the
// writer's transaction, and the outbox checks that the built message
// carries it. Nobody else reads the outbox's tables. [WriteBatch] writes
// the several events of one change with consecutive sequences.
//
// # Wire format
//
// The message data is the protobuf-encoded payload; metadata travels in
// headers (see the Header constants): event id, payload type (the proto
// full name), aggregate type, id and sequence, correlation id, creation
// time and the W3C trace context captured at write time.
package outbox

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/correlation"
	"github.com/transload/transload/platform/sqldb"
)

// Header names set on every relayed message.
const (
	// HeaderMsgID is JetStream's de-duplication header; the relay sets it
	// to the event id.
	HeaderMsgID = "Nats-Msg-Id"
	// HeaderEventID is the event's unique id (a UUID).
	HeaderEventID = "Transload-Event-Id"
	// HeaderEventType is the full protobuf name of the payload message,
	// e.g. "transload.order.v1.OrderAccepted".
	HeaderEventType = "Transload-Event-Type"
	// HeaderAggregateType names the kind of aggregate that raised the
	// event, e.g. "order".
	HeaderAggregateType = "Transload-Aggregate-Type"
	// HeaderAggregateID is the id of the aggregate that raised the event.
	HeaderAggregateID = "Transload-Aggregate-Id"
	// HeaderSequence is the event's per-aggregate sequence number
	// (decimal, starting at 1).
	HeaderSequence = "Transload-Aggregate-Seq"
	// HeaderOccurredAt is the time the event was written, RFC 3339 with
	// nanoseconds, UTC.
	HeaderOccurredAt = "Transload-Occurred-At"
	// HeaderCorrelationID carries the correlation id, spelled like the
	// gRPC metadata key and HTTP header.
	HeaderCorrelationID = correlation.MetadataKey
	// HeaderTraceparent is the W3C trace context header.
	HeaderTraceparent = "traceparent"
	// HeaderTracestate is the W3C trace state header.
	HeaderTracestate = "tracestate"
)

// MigrationSet is the migration set name under which the outbox tables are
// recorded by [Migrate].
const MigrationSet = "outbox"

//go:embed migrations
var migrationFiles embed.FS

// Migrations returns the outbox migrations for dialect (a folder of
// numbered .sql files), for services that run all their migrations
// through one call.
func Migrations(d sqldb.Dialect) (fs.FS, error) {
	return sqldb.MigrationsFor(migrationFiles, "migrations", d)
}

// Event is an event to write to the outbox.
type Event struct {
	// ID is the event id; empty means a new UUIDv7. Callers that need a
	// deterministic id (e.g. derived from an idempotency key) set it.
	ID string
	// AggregateType names the kind of aggregate, e.g. "order".
	AggregateType string
	// AggregateID identifies the aggregate instance; events of one
	// (AggregateType, AggregateID) are sequenced and relayed in order.
	AggregateID string
	// Subject is the NATS subject to publish on, one of the subjects
	// declared in package eventstreams, e.g. eventstreams.OrderAccepted.
	// It must be captured by a stream.
	Subject string
	// Build builds the event message from the metadata the outbox
	// assigns (see [Builder]); set either Build or Payload.
	Build Builder
	// Payload is a ready-made event message, for events whose payload
	// carries no EventMetadata; set either Payload or Build. The message
	// is stored protobuf-encoded with its full name.
	Payload proto.Message
	// Producer is the service that raises the event, e.g. "order"; it is
	// stamped into the metadata given to Build, which requires it. The
	// outbox takes it from the event rather than from a writer option so
	// that one transaction can write events on behalf of its service
	// without a writer value threaded through the store.
	Producer string
	// OccurredAt is when the change happened, stamped (in UTC) into the
	// metadata given to Build; zero means the time of the write.
	OccurredAt time.Time
	// CorrelationID defaults to the correlation id in ctx.
	CorrelationID string
}

// Builder builds an event's message from md, the metadata the outbox
// assigned to it: the event id, the aggregate type and id, the
// per-aggregate sequence, the occur time, the correlation id and the
// producer. The message must carry md in its EventMetadata field with the
// event id and sequence unchanged (the outbox checks); a builder may
// adjust the fields the outbox does not own, e.g. the aggregate type when
// the outbox aggregate is a separate sequence of a domain aggregate.
//
// Build runs inside the writer's transaction after the sequence is taken,
// so it must not do I/O; an error aborts the write (see [Write]).
type Builder func(md *commonv1.EventMetadata) (proto.Message, error)

// Written describes an event stored by [Write].
type Written struct {
	// ID is the event id.
	ID string
	// Sequence is the event's per-aggregate sequence number.
	Sequence int64
	// CreatedAt is the time stored with the event.
	CreatedAt time.Time
}

// ErrInvalidEvent is wrapped by [Write] for an event missing a required
// field or with a malformed subject, and for a built message that does
// not carry the metadata the outbox assigned.
var ErrInvalidEvent = errors.New("outbox: invalid event")

// Write stores ev in the outbox as part of tx, the caller's transaction,
// and assigns its per-aggregate sequence number. The event is relayed only
// if tx commits. d is the engine behind tx. The W3C trace context of ctx
// and its correlation id (unless ev sets one) are stored with the event.
//
// For an event with a Build function, Write takes the next sequence of
// the aggregate and then builds the message from the metadata carrying
// it, in tx, so the payload's metadata and the stored sequence agree
// without the caller ever reading the outbox's counters.
//
// Write returns an error wrapping [ErrInvalidEvent] for a malformed event.
// A Build error (returned wrapped) or a malformed built message leaves tx
// as it was: the sequence taken for the event is given back, so a caller
// that carries on and commits leaves no gap. Other errors come from the
// database (tx must then be rolled back).
func Write(ctx context.Context, tx *sql.Tx, d sqldb.Dialect, ev Event) (Written, error) {
	ws, err := writeBatch(ctx, tx, d, []Event{ev}, time.Now())
	if err != nil {
		return Written{}, err
	}
	return ws[0], nil
}

// WriteBatch is [Write] for several events of one transaction, e.g. the
// events of one state change. Each aggregate's counter is advanced once
// for all its events, which get consecutive sequence numbers in the order
// of evs; the result has one [Written] per event, in that order. An
// error of any event writes none of them (the same as Write otherwise).
//
// The batch costs two statements in tx, whatever its size up to 32 events
// and 64 aggregates: one UPSERT … RETURNING advancing every aggregate's
// counter and one multi-row INSERT of the events (larger batches take one
// more statement per 64 aggregates and per 32 events). Passing the events
// of one transaction together is therefore cheaper than several Write
// calls.
func WriteBatch(ctx context.Context, tx *sql.Tx, d sqldb.Dialect, evs []Event) ([]Written, error) {
	return writeBatch(ctx, tx, d, evs, time.Now())
}

// pendingEvent is an event of a batch on its way into the table.
type pendingEvent struct {
	Event
	id          string
	corr        string
	seq         int64
	payloadType string
	payload     []byte
}

func writeBatch(ctx context.Context, tx *sql.Tx, d sqldb.Dialect, evs []Event, now time.Time) ([]Written, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	// Stored with microsecond precision: truncate now so the metadata a
	// builder gets equals the stored time and the relayed header.
	now = time.UnixMicro(now.UnixMicro()).UTC()
	pending := make([]pendingEvent, len(evs))
	for i, ev := range evs {
		p, err := prepare(ctx, ev)
		if err != nil {
			return nil, err
		}
		pending[i] = p
	}
	taken, err := takeSequences(ctx, tx, d, pending)
	if err != nil {
		return nil, err
	}
	for i := range pending {
		if err := pending[i].encode(now); err != nil {
			if gerr := giveBackSequences(ctx, tx, d, taken); gerr != nil {
				return nil, errors.Join(err, gerr)
			}
			return nil, err
		}
	}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	if err := insertEvents(ctx, tx, d, pending, carrier.Get(HeaderTraceparent), carrier.Get(HeaderTracestate), now); err != nil {
		return nil, err
	}
	out := make([]Written, len(pending))
	for i, p := range pending {
		out[i] = Written{ID: p.id, Sequence: p.seq, CreatedAt: now}
	}
	return out, nil
}

// Rows per statement of a batch: one multi-row INSERT (or UPSERT) per
// chunk instead of one statement per event (or aggregate). The chunks
// keep the bound parameters (11 per event, 3 per aggregate) far below
// both engines' limits, and the distinct query texts few, so they stay in
// the statement caches.
const (
	insertChunk = 32
	seqChunk    = 64
)

// batchQuery is the text of a multi-row statement: head, then n copies of
// row separated by commas, then tail, rebound per dialect and row count
// once (up to max rows) and kept.
type batchQuery struct {
	head, row, tail string
	once            [3][max(insertChunk, seqChunk) + 1]sync.Once
	text            [3][max(insertChunk, seqChunk) + 1]string
}

// For returns the statement for n rows in dialect d.
func (q *batchQuery) For(d sqldb.Dialect, n int) string {
	if d < 0 || int(d) >= len(q.once) || n >= len(q.once[d]) {
		return q.build(d, n)
	}
	q.once[d][n].Do(func() { q.text[d][n] = q.build(d, n) })
	return q.text[d][n]
}

func (q *batchQuery) build(d sqldb.Dialect, n int) string {
	var b strings.Builder
	b.WriteString(q.head)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(q.row)
	}
	b.WriteString(q.tail)
	return d.Rebind(b.String())
}

var (
	insertEventsQuery = &batchQuery{
		head: `INSERT INTO outbox_events (event_id, aggregate_type, aggregate_id, aggregate_seq, subject,
			payload_type, payload, correlation_id, traceparent, tracestate, created_unix_us) VALUES `,
		row: `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	}
	// The upsert takes the counter rows' write locks (PostgreSQL, in the
	// order of the VALUES rows) or runs under the database write lock
	// (SQLite); a concurrent writer of the same aggregate waits for this
	// transaction and then sees its value. RETURNING names the key of
	// each row, since neither engine promises the rows' order.
	takeSequencesQuery = &batchQuery{
		head: `INSERT INTO outbox_aggregate_seq (aggregate_type, aggregate_id, last_seq) VALUES `,
		row:  `(?, ?, ?)`,
		tail: `
			ON CONFLICT (aggregate_type, aggregate_id)
			DO UPDATE SET last_seq = outbox_aggregate_seq.last_seq + excluded.last_seq
			RETURNING aggregate_type, aggregate_id, last_seq`,
	}
)

// insertEvents inserts pending in order (ids follow the batch order), one
// statement per insertChunk events.
func insertEvents(ctx context.Context, tx *sql.Tx, d sqldb.Dialect, pending []pendingEvent, traceparent, tracestate string, now time.Time) error {
	for start := 0; start < len(pending); start += insertChunk {
		part := pending[start:min(start+insertChunk, len(pending))]
		q := insertEventsQuery.For(d, len(part))
		args := make([]any, 0, 11*len(part))
		for _, p := range part {
			args = append(args, p.id, p.AggregateType, p.AggregateID, p.seq, p.Subject, p.payloadType, p.payload,
				p.corr, traceparent, tracestate, now.UnixMicro())
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			if len(part) == 1 {
				return fmt.Errorf("outbox: insert event %s: %w", part[0].id, err)
			}
			return fmt.Errorf("outbox: insert events %s..%s: %w", part[0].id, part[len(part)-1].id, err)
		}
	}
	return nil
}

// prepare validates ev and settles its id and correlation id.
func prepare(ctx context.Context, ev Event) (pendingEvent, error) {
	if err := validate(ev); err != nil {
		return pendingEvent{}, err
	}
	p := pendingEvent{Event: ev, id: ev.ID, corr: ev.CorrelationID}
	if p.id == "" {
		u, err := uuid.NewV7()
		if err != nil {
			return pendingEvent{}, fmt.Errorf("outbox: new event id: %w", err)
		}
		p.id = u.String()
	}
	if p.corr == "" {
		p.corr = correlation.ID(ctx)
	}
	return p, nil
}

// aggregateKey identifies one sequence counter.
type aggregateKey struct{ typ, id string }

// takeSequences advances each aggregate's counter by the number of its
// events in pending, assigns the numbers in order, and returns how far
// each counter moved.
func takeSequences(ctx context.Context, tx *sql.Tx, d sqldb.Dialect, pending []pendingEvent) (map[aggregateKey]int64, error) {
	counts := map[aggregateKey]int64{}
	for _, p := range pending {
		counts[aggregateKey{p.AggregateType, p.AggregateID}]++
	}
	// Lock the counter rows in one order, so two batches that touch the
	// same aggregates wait for each other instead of deadlocking.
	keys := slices.SortedFunc(maps.Keys(counts), func(a, b aggregateKey) int {
		return cmp.Or(strings.Compare(a.typ, b.typ), strings.Compare(a.id, b.id))
	})
	next := make(map[aggregateKey]int64, len(keys))
	for start := 0; start < len(keys); start += seqChunk {
		part := keys[start:min(start+seqChunk, len(keys))]
		// One upsert advances the chunk's counters (see takeSequencesQuery).
		q := takeSequencesQuery.For(d, len(part))
		args := make([]any, 0, 3*len(part))
		for _, k := range part {
			args = append(args, k.typ, k.id, counts[k])
		}
		if err := takeChunk(ctx, tx, q, args, counts, next); err != nil {
			return nil, err
		}
		for _, k := range part {
			if _, ok := next[k]; !ok {
				return nil, fmt.Errorf("outbox: next sequence for %s %s: the counter upsert returned no row for it", k.typ, k.id)
			}
		}
	}
	for i := range pending {
		k := aggregateKey{pending[i].AggregateType, pending[i].AggregateID}
		pending[i].seq = next[k]
		next[k]++
	}
	return counts, nil
}

// takeChunk runs one counter upsert and records, for each aggregate it
// returns, the first sequence the batch gets.
func takeChunk(ctx context.Context, tx *sql.Tx, q string, args []any, counts, next map[aggregateKey]int64) error {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("outbox: next sequences: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k    aggregateKey
			last int64
		)
		if err := rows.Scan(&k.typ, &k.id, &last); err != nil {
			return fmt.Errorf("outbox: next sequences: %w", err)
		}
		next[k] = last - counts[k] + 1
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("outbox: next sequences: %w", err)
	}
	return nil
}

// giveBackSequences undoes takeSequences. The transaction still holds the
// counter rows, so nobody took a number after these.
func giveBackSequences(ctx context.Context, tx *sql.Tx, d sqldb.Dialect, taken map[aggregateKey]int64) error {
	for k, n := range taken {
		if _, err := tx.ExecContext(ctx, d.Rebind(`
			UPDATE outbox_aggregate_seq SET last_seq = last_seq - ?
			WHERE aggregate_type = ? AND aggregate_id = ?`), n, k.typ, k.id); err != nil {
			return fmt.Errorf("outbox: give back sequence of %s %s: %w", k.typ, k.id, err)
		}
	}
	return nil
}

// encode builds the payload (when p has a builder) and marshals it.
func (p *pendingEvent) encode(now time.Time) error {
	msg := p.Payload
	if p.Build != nil {
		at := p.OccurredAt
		if at.IsZero() {
			at = now
		}
		md := &commonv1.EventMetadata{
			EventId: p.id, AggregateType: p.AggregateType, AggregateId: p.AggregateID, Sequence: p.seq,
			OccurTime: timestamppb.New(at.UTC()), CorrelationId: p.corr, Producer: p.Producer,
		}
		var err error
		msg, err = p.Build(md)
		if err != nil {
			return fmt.Errorf("outbox: build event %s (%s %s #%d): %w", p.id, p.AggregateType, p.AggregateID, p.seq, err)
		}
		if err := checkMetadata(msg, p.id, p.seq); err != nil {
			return fmt.Errorf("outbox: event %s (%s %s #%d): %w", p.id, p.AggregateType, p.AggregateID, p.seq, err)
		}
	}
	payload, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		return fmt.Errorf("outbox: marshal %s: %w", msg.ProtoReflect().Descriptor().FullName(), err)
	}
	p.payloadType, p.payload = string(msg.ProtoReflect().Descriptor().FullName()), payload
	return nil
}

// metadataName is the full name of the metadata message every built
// payload carries.
var metadataName = (*commonv1.EventMetadata)(nil).ProtoReflect().Descriptor().FullName()

// checkMetadata reports whether msg carries, in a singular field of type
// EventMetadata, the event id and sequence the outbox assigned. The error
// wraps [ErrInvalidEvent].
func checkMetadata(msg proto.Message, id string, seq int64) error {
	if msg == nil {
		return fmt.Errorf("%w: Build returned no message", ErrInvalidEvent)
	}
	m := msg.ProtoReflect()
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		if f.Message() == nil || f.Message().FullName() != metadataName || f.Cardinality() == protoreflect.Repeated {
			continue
		}
		md := m.Get(f).Message()
		mf := md.Descriptor().Fields()
		gotID, gotSeq := md.Get(mf.ByName("event_id")).String(), md.Get(mf.ByName("sequence")).Int()
		if gotID != id || gotSeq != seq {
			return fmt.Errorf("%w: %s metadata says event %q #%d, the outbox assigned %q #%d",
				ErrInvalidEvent, m.Descriptor().FullName(), gotID, gotSeq, id, seq)
		}
		return nil
	}
	return fmt.Errorf("%w: %s has no %s field for the metadata", ErrInvalidEvent, m.Descriptor().FullName(), metadataName)
}

func validate(ev Event) error {
	switch {
	case ev.AggregateType == "":
		return fmt.Errorf("%w: aggregate type is empty", ErrInvalidEvent)
	case ev.AggregateID == "":
		return fmt.Errorf("%w: aggregate id is empty", ErrInvalidEvent)
	case ev.Payload == nil && ev.Build == nil:
		return fmt.Errorf("%w: payload is nil", ErrInvalidEvent)
	case ev.Payload != nil && ev.Build != nil:
		return fmt.Errorf("%w: both a payload and a builder", ErrInvalidEvent)
	case ev.Build != nil && ev.Producer == "":
		return fmt.Errorf("%w: a built event needs its producer", ErrInvalidEvent)
	}
	return ValidateSubject(ev.Subject)
}

// ValidateSubject reports whether s can be published to: non-empty dot
// separated tokens without wildcards or whitespace. The error wraps
// [ErrInvalidEvent].
func ValidateSubject(s string) error {
	if s == "" {
		return fmt.Errorf("%w: subject is empty", ErrInvalidEvent)
	}
	for tok := range strings.SplitSeq(s, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n") {
			return fmt.Errorf("%w: subject %q is not a publishable NATS subject", ErrInvalidEvent, s)
		}
	}
	return nil
}

// Migrate creates or upgrades the outbox tables in db (migration set
// [MigrationSet]).
func Migrate(ctx context.Context, db *sqldb.DB) error {
	if err := sqldb.MigrateEmbedded(ctx, db, MigrationSet, migrationFiles, "migrations"); err != nil {
		return fmt.Errorf("outbox: migrate: %w", err)
	}
	return nil
}
