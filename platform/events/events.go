// Package events consumes the events that services publish through their
// transactional outbox (package outbox) from NATS JetStream, and manages
// the events that could not be applied (dead letters).
//
// # Consumers
//
// A [Consumer] is a durable JetStream pull consumer whose handler runs
// inside a transaction of the consuming service's own database:
//
//   - Idempotent: the event id is recorded in the events_processed table
//     (migration set "events", see [Migrate]) in the same transaction as
//     the handler's effects. A redelivered, republished or replayed event
//     whose id is already recorded is skipped and acknowledged.
//   - Acknowledged after commit: the message is acked only once the
//     transaction committed, so a crash in between redelivers it (and the
//     processed-event row turns the redelivery into a skip).
//   - Ordered: the consumer runs with MaxAckPending 1 (a batch consumer
//     with n and its own ordering, see [WithBatch]), so one message is
//     in flight at a time and events are handled in stream order, which
//     keeps every aggregate's events in sequence order. The price is
//     throughput (one round trip per event) and head-of-line blocking
//     while an event is retried; a service that needs more parallelism
//     runs several consumers on disjoint subject filters.
//   - Batched (opt-in, [WithBatch]): a busy consumer applies up to n events
//     in one transaction, each in its own savepoint, with one commit for
//     the batch and the same guarantees (order included, see WithBatch).
//   - After-commit effects: a handler that must act outside the database
//     once its changes are visible (wake a worker) registers it with
//     [AfterCommit]; it runs after the commit, never after a rollback.
//   - Bounded redelivery: a failing handler's event is redelivered after
//     the configured backoff (Nak with delay) up to MaxDeliver deliveries;
//     then, or at once for an error wrapped with [Permanent] or an
//     undecodable payload, it is dead-lettered and terminated, and the
//     consumer moves on. Later events of the same aggregate are then
//     handled before the dead-lettered one is replayed; handlers that
//     cannot tolerate a gap check [Event.Sequence].
//
// # Dead letters
//
// A dead letter is the original message (data and headers) published to
// the dead-letter stream (default "DEADLETTER") on subject
// "deadletter.<consumer>", with headers recording the consumer, the
// original stream, stream sequence and subject, the error, the delivery
// count and the time. [DeadLetters] lists them and replays them: a replay
// republishes the original event to its original subject and removes the
// dead letter. Every consumer on that subject receives the replayed event;
// the ones that already applied it skip it by its event id, so a replay
// applies the event once, and replaying again changes nothing.
package events

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
)

// MigrationSet is the migration set name of the processed-event table.
const MigrationSet = "events"

//go:embed migrations
var migrationFiles embed.FS

// Migrations returns the processed-event migrations for dialect.
func Migrations(d sqldb.Dialect) (fs.FS, error) {
	return sqldb.MigrationsFor(migrationFiles, "migrations", d)
}

// Migrate creates or upgrades the processed-event table in db (migration
// set [MigrationSet]).
func Migrate(ctx context.Context, db *sqldb.DB) error {
	if err := sqldb.MigrateEmbedded(ctx, db, MigrationSet, migrationFiles, "migrations"); err != nil {
		return fmt.Errorf("events: migrate: %w", err)
	}
	return nil
}

// Event is a received event with its payload decoded.
type Event struct {
	// ID is the event id (unique per event, stable across redeliveries
	// and replays).
	ID string
	// Type is the full protobuf name of the payload.
	Type string
	// AggregateType and AggregateID identify the aggregate that raised
	// the event.
	AggregateType string
	AggregateID   string
	// Sequence is the event's per-aggregate sequence number (from 1).
	Sequence int64
	// Subject is the subject the event was published on.
	Subject string
	// OccurredAt is when the producer wrote the event.
	OccurredAt time.Time
	// CorrelationID is the correlation id of the request that caused the
	// event; it is also in the handler's context.
	CorrelationID string
	// Payload is the decoded message, of the type registered for Type.
	Payload proto.Message
	// Data is the encoded payload as received.
	Data []byte
	// Header holds every header of the message.
	Header nats.Header
	// Delivery is the delivery attempt, 1 for the first (for a batch
	// consumer, which retries in process, the attempt).
	Delivery uint64
	// StreamSequence is the message's sequence in its stream.
	StreamSequence uint64
}

// Handler applies an event. tx is a transaction of the consumer's
// database; the handler makes its changes through tx and must not commit
// or roll it back. A nil return commits tx (together with the
// processed-event row) and acknowledges the event; an error rolls back and
// leads to a redelivery, or to a dead letter once the deliveries are used
// up or when the error is wrapped with [Permanent]. The handler may run
// again for the same event after a rollback, so it must not have effects
// outside tx; register those with [AfterCommit]. With [WithBatch], tx is
// shared with the other events of the batch, each handler running inside
// its own savepoint: it must not commit, roll back or release savepoints
// it did not create.
type Handler func(ctx context.Context, tx *sql.Tx, ev Event) error

// Typed adapts a handler for one payload type. An event with another
// payload type is a permanent error (it is dead-lettered, not retried).
func Typed[M proto.Message](fn func(ctx context.Context, tx *sql.Tx, ev Event, msg M) error) Handler {
	return func(ctx context.Context, tx *sql.Tx, ev Event) error {
		msg, ok := ev.Payload.(M)
		if !ok {
			var zero M
			return Permanent(fmt.Errorf("events: payload %s is not %T", ev.Type, zero))
		}
		return fn(ctx, tx, ev, msg)
	}
}

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent wraps err so the consumer dead-letters the event at once
// instead of redelivering it. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err: err}
}

// IsPermanent reports whether err was wrapped with [Permanent].
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// ErrMalformedEvent is wrapped by [Decode] for a message without an event
// id or type, or whose payload does not decode.
var ErrMalformedEvent = errors.New("events: malformed event")

// Decode turns a received message into an Event, resolving the payload
// type in protoregistry.GlobalTypes (generated packages register their
// types when imported). Delivery and StreamSequence are left zero.
func Decode(subject string, header nats.Header, data []byte) (Event, error) {
	ev, err := decodeHeaders(subject, header, data)
	if err != nil {
		return ev, err
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(ev.Type))
	if err != nil {
		return ev, fmt.Errorf("%w: payload type %s is not registered (is its gen package imported?): %w", ErrMalformedEvent, ev.Type, err)
	}
	msg := mt.New().Interface()
	if err := proto.Unmarshal(data, msg); err != nil {
		return ev, fmt.Errorf("%w: decode %s: %w", ErrMalformedEvent, ev.Type, err)
	}
	ev.Payload = msg
	return ev, nil
}

// decodeHeaders is Decode without the payload: Payload stays nil.
func decodeHeaders(subject string, header nats.Header, data []byte) (Event, error) {
	ev := Event{
		ID:            header.Get(outbox.HeaderEventID),
		Type:          header.Get(outbox.HeaderEventType),
		AggregateType: header.Get(outbox.HeaderAggregateType),
		AggregateID:   header.Get(outbox.HeaderAggregateID),
		Subject:       subject,
		CorrelationID: header.Get(outbox.HeaderCorrelationID),
		Data:          data,
		Header:        header,
	}
	if ev.ID == "" {
		ev.ID = header.Get(outbox.HeaderMsgID)
	}
	if ev.ID == "" {
		return ev, fmt.Errorf("%w: no %s header", ErrMalformedEvent, outbox.HeaderEventID)
	}
	if s := header.Get(outbox.HeaderSequence); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return ev, fmt.Errorf("%w: %s %q: %w", ErrMalformedEvent, outbox.HeaderSequence, s, err)
		}
		ev.Sequence = n
	}
	if s := header.Get(outbox.HeaderOccurredAt); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return ev, fmt.Errorf("%w: %s %q: %w", ErrMalformedEvent, outbox.HeaderOccurredAt, s, err)
		}
		ev.OccurredAt = t.UTC()
	}
	if ev.Type == "" {
		return ev, fmt.Errorf("%w: no %s header", ErrMalformedEvent, outbox.HeaderEventType)
	}
	return ev, nil
}
