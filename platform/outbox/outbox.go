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
//     duplicate window (see [EnsureStream]). Past that window consumers
//     still apply an event once through their processed-event table
//     (package events).
//
// Run one relay per database. A second relay is safe (JetStream drops its
// duplicates) but wastes work.
//
// # Wire format
//
// The message data is the protobuf-encoded payload; metadata travels in
// headers (see the Header constants): event id, payload type (the proto
// full name), aggregate type, id and sequence, correlation id, creation
// time and the W3C trace context captured at write time.
package outbox

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/protobuf/proto"

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
	// Subject is the NATS subject to publish on, e.g.
	// "transload.order.v1.accepted". It must be captured by a stream.
	Subject string
	// Payload is the event message; it is stored protobuf-encoded with
	// its full name.
	Payload proto.Message
	// CorrelationID defaults to the correlation id in ctx.
	CorrelationID string
}

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
// field or with a malformed subject.
var ErrInvalidEvent = errors.New("outbox: invalid event")

// Write stores ev in the outbox as part of tx, the caller's transaction,
// and assigns its per-aggregate sequence number. The event is relayed only
// if tx commits. d is the engine behind tx. The W3C trace context of ctx
// and its correlation id (unless ev sets one) are stored with the event.
//
// Write returns an error wrapping [ErrInvalidEvent] for a malformed event;
// other errors come from the database (tx must then be rolled back).
func Write(ctx context.Context, tx *sql.Tx, d sqldb.Dialect, ev Event) (Written, error) {
	return write(ctx, tx, d, ev, time.Now())
}

func write(ctx context.Context, tx *sql.Tx, d sqldb.Dialect, ev Event, now time.Time) (Written, error) {
	if err := validate(ev); err != nil {
		return Written{}, err
	}
	id := ev.ID
	if id == "" {
		u, err := uuid.NewV7()
		if err != nil {
			return Written{}, fmt.Errorf("outbox: new event id: %w", err)
		}
		id = u.String()
	}
	payload, err := proto.MarshalOptions{Deterministic: true}.Marshal(ev.Payload)
	if err != nil {
		return Written{}, fmt.Errorf("outbox: marshal %s: %w", ev.Payload.ProtoReflect().Descriptor().FullName(), err)
	}
	corr := ev.CorrelationID
	if corr == "" {
		corr = correlation.ID(ctx)
	}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)

	var seq int64
	// The upsert takes the counter row's write lock (PostgreSQL) or runs
	// under the database write lock (SQLite); a concurrent writer of the
	// same aggregate waits for this transaction and then sees its value.
	err = tx.QueryRowContext(ctx, d.Rebind(`
		INSERT INTO outbox_aggregate_seq (aggregate_type, aggregate_id, last_seq)
		VALUES (?, ?, 1)
		ON CONFLICT (aggregate_type, aggregate_id)
		DO UPDATE SET last_seq = outbox_aggregate_seq.last_seq + 1
		RETURNING last_seq`), ev.AggregateType, ev.AggregateID).Scan(&seq)
	if err != nil {
		return Written{}, fmt.Errorf("outbox: next sequence for %s %s: %w", ev.AggregateType, ev.AggregateID, err)
	}
	now = now.UTC()
	_, err = tx.ExecContext(ctx, d.Rebind(`
		INSERT INTO outbox_events (event_id, aggregate_type, aggregate_id, aggregate_seq, subject,
			payload_type, payload, correlation_id, traceparent, tracestate, created_unix_us)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		id, ev.AggregateType, ev.AggregateID, seq, ev.Subject,
		string(ev.Payload.ProtoReflect().Descriptor().FullName()), payload, corr,
		carrier.Get(HeaderTraceparent), carrier.Get(HeaderTracestate), now.UnixMicro())
	if err != nil {
		return Written{}, fmt.Errorf("outbox: insert event %s: %w", id, err)
	}
	return Written{ID: id, Sequence: seq, CreatedAt: time.UnixMicro(now.UnixMicro()).UTC()}, nil
}

func validate(ev Event) error {
	switch {
	case ev.AggregateType == "":
		return fmt.Errorf("%w: aggregate type is empty", ErrInvalidEvent)
	case ev.AggregateID == "":
		return fmt.Errorf("%w: aggregate id is empty", ErrInvalidEvent)
	case ev.Payload == nil:
		return fmt.Errorf("%w: payload is nil", ErrInvalidEvent)
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
