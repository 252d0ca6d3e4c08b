package desk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/transload/transload/platform/fingerprint"
	"github.com/transload/transload/platform/opsevents"
)

// Service is the ops service's name: the source of the exceptions the
// desk raises itself (dead letters) and the service of the audit records
// of operator actions on the desk.
const Service = "ops"

// ErrUnavailable is wrapped when the dead-letter stream cannot be reached.
var ErrUnavailable = errors.New("desk: dead-letter stream unavailable")

// NotFoundError names a resource a request asked for that does not exist;
// it matches ErrNotFound.
type NotFoundError struct{ Name string }

// Error says which resource is missing.
func (e *NotFoundError) Error() string { return e.Name + " not found" }

// Is reports whether target is ErrNotFound.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// DeadLetterStream is the dead-letter stream in NATS.
type DeadLetterStream interface {
	// Replay re-delivers the dead letters among seqs that are still in
	// the stream to their original subjects and removes them from it, in
	// stream order; with dryRun it only reports which are there. It
	// returns the seqs it replayed (would replay); on error, those
	// replayed before it, with the error (NATS unreachable, a publish that
	// failed).
	Replay(ctx context.Context, seqs []uint64, dryRun bool) ([]uint64, error)
}

// Desk runs the desk's use cases: projecting events into the store and
// the operators' actions.
type Desk struct {
	store  Store
	stream DeadLetterStream
	now    func() time.Time
	newID  func() string
}

// Option configures New.
type Option func(*Desk)

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(d *Desk) { d.now = now } }

// WithIDs sets how the ids of the desk's own audit records are made
// (default UUIDv7, so they sort by time).
func WithIDs(newID func() string) Option { return func(d *Desk) { d.newID = newID } }

// New returns the desk over store; stream serves dead-letter replays.
func New(store Store, stream DeadLetterStream, opts ...Option) *Desk {
	d := &Desk{store: store, stream: stream, now: time.Now, newID: func() string { return uuid.Must(uuid.NewV7()).String() }}
	for _, o := range opts {
		o(d)
	}
	return d
}

// Occurrence is one raised exception (an ExceptionRaisedEvent).
type Occurrence struct {
	// EventID is the id of the raising event; the id of an exception it
	// opens derives from it, so projecting the same events again gives the
	// same ids.
	EventID string
	// Producer is the raising service.
	Producer                   string
	Kind                       Kind
	Severity                   Severity
	Domain                     Domain
	Resource                   string
	AggregateType, AggregateID string
	Message                    string
	Details                    map[string]any
	CorrelationID              string
	// OccurTime is when the problem occurred (zero: now).
	OccurTime time.Time
}

// Raise projects o into the desk in tx. While an exception of o's kind
// for its resource is OPEN or ACKNOWLEDGED, o is another occurrence of
// it: its count goes up, its last occurrence time, message and details
// follow the latest occurrence, its severity the highest, and its history
// gets an "occurred_again" entry. Otherwise (none, or only RESOLVED ones)
// o opens a new exception. Errors: ErrInvalidEvent for an occurrence
// without an event id, kind, severity, domain or resource.
func (d *Desk) Raise(ctx context.Context, tx Tx, o Occurrence) error {
	if o.EventID == "" || !o.Kind.Valid() || !o.Severity.Valid() || !o.Domain.Valid() || o.Resource == "" {
		return fmt.Errorf("%w: exception on %q needs an event id, kind, severity, domain and resource (kind %d, severity %d, domain %d)",
			ErrInvalidEvent, o.Resource, o.Kind, o.Severity, o.Domain)
	}
	now := d.now().UTC()
	at := o.OccurTime.UTC()
	if o.OccurTime.IsZero() {
		at = now
	}
	h := HistoryEntry{Actor: opsevents.Service(o.Producer), Note: o.Message, CreateTime: at, DedupeKey: "event:" + o.EventID}
	e, err := tx.OpenException(ctx, o.Kind, o.Resource)
	switch {
	case err == nil:
		e.OccurrenceCount++
		if !at.Before(e.LastOccurTime) {
			e.LastOccurTime = at
			e.Message = o.Message
			if o.Details != nil {
				e.Details = o.Details
			}
		}
		e.Severity = max(e.Severity, o.Severity)
		e.UpdateTime = now
		if err := tx.UpdateException(ctx, e); err != nil {
			return err
		}
		h.Action = HistoryOccurredAgain
	case errors.Is(err, ErrNotFound):
		e = &Exception{
			ID: exceptionID(o.EventID), Kind: o.Kind, Severity: o.Severity, Domain: o.Domain, Resource: o.Resource,
			SourceService: o.Producer, AggregateType: o.AggregateType, AggregateID: o.AggregateID,
			Message: o.Message, State: StateOpen, CorrelationID: o.CorrelationID, Details: o.Details,
			OccurrenceCount: 1, CreateTime: at, UpdateTime: now, LastOccurTime: at,
		}
		if err := tx.InsertException(ctx, e); err != nil {
			return err
		}
		h.Action = HistoryRaised
	default:
		return err
	}
	return tx.AppendHistory(ctx, e.ID, h)
}

// exceptionID derives a short, stable exception id from the id of the
// event that opened it.
func exceptionID(eventID string) string {
	return fingerprint.Bytes([]byte("ops.exception:" + eventID))[:24]
}

// RecordAudit appends r (an AuditRecordedEvent) to the audit index in tx;
// a record whose id is there already is left as it is. Errors:
// ErrInvalidEvent for a record without an id, action or target.
func (d *Desk) RecordAudit(ctx context.Context, tx Tx, r AuditRecord) error {
	if r.ID == "" || r.Action == "" || r.Target == "" {
		return fmt.Errorf("%w: audit record %q needs an id, an action and a target", ErrInvalidEvent, r.ID)
	}
	if r.CreateTime.IsZero() {
		r.CreateTime = d.now()
	}
	r.CreateTime = r.CreateTime.UTC()
	_, err := tx.InsertAuditRecord(ctx, &r)
	return err
}

// ProjectDeadLetter stores dl as PENDING and raises its DEAD_LETTER
// exception (resource deadLetters/{seq}, severity HIGH, domain by the
// consumer, see DeadLetterDomain) in tx. A dead letter already stored is
// left as it is and raises nothing. Errors: ErrInvalidEvent for a dead
// letter without a sequence.
func (d *Desk) ProjectDeadLetter(ctx context.Context, tx Tx, dl DeadLetter) error {
	if dl.Seq == 0 {
		return fmt.Errorf("%w: dead letter without a stream sequence", ErrInvalidEvent)
	}
	dl.State, dl.ReplayCount, dl.LastReplayTime = DeadLetterPending, 0, time.Time{}
	dl.PayloadSize = int64(len(dl.Payload))
	if dl.DeadLetterTime.IsZero() {
		dl.DeadLetterTime = d.now()
	}
	created, err := tx.InsertDeadLetter(ctx, &dl)
	if err != nil || !created {
		return err
	}
	name := dl.Name()
	msg := fmt.Sprintf("%s gave up on %s after %d deliveries: %s", dl.Consumer, dl.Subject, dl.DeliveryCount, dl.Error)
	return d.Raise(ctx, tx, Occurrence{
		EventID: "deadletter:" + name + ":" + dl.EventID, Producer: Service,
		Kind: KindDeadLetter, Severity: SeverityHigh, Domain: DeadLetterDomain(dl.Consumer), Resource: name,
		AggregateType: dl.AggregateType, AggregateID: dl.AggregateID, Message: truncate(msg, 500),
		Details:       map[string]any{"deadLetter": name, "consumer": dl.Consumer, "subject": dl.Subject, "eventId": dl.EventID},
		CorrelationID: dl.CorrelationID, OccurTime: dl.DeadLetterTime,
	})
}

// DeadLetterDomain is the domain owning the dead letters of consumer:
// FINANCE for posting consumers, FULFILLMENT for the fulfillment
// service's, COMMERCE for the rest.
func DeadLetterDomain(consumer string) Domain {
	switch {
	case strings.Contains(consumer, "posting"):
		return DomainFinance
	case strings.HasPrefix(consumer, "fulfillment"):
		return DomainFulfillment
	}
	return DomainCommerce
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// ActParams is an operator's action on an exception.
type ActParams struct {
	// ID is the exception's id.
	ID string
	// RequestID is the client's idempotency key.
	RequestID string
	// Note is the resolution note (Resolve only).
	Note string
	// Actor is who acts; CorrelationID the request's correlation id for
	// the audit record.
	Actor         Actor
	CorrelationID string
}

// Acknowledge marks an exception ACKNOWLEDGED by p.Actor (taking it over
// from another owner if it was acknowledged already), with a history
// entry and an audit record "exception.acknowledge", in one transaction.
// Repeating the request id with the same exception returns the first
// result. Errors: ErrNotFound, ErrAlreadyResolved, ErrIdempotencyKeyReused.
func (d *Desk) Acknowledge(ctx context.Context, p ActParams) (*Exception, error) {
	fp := fingerprint.Of([]string{"exception.acknowledge", p.ID})
	return remember(ctx, d.store, p.Actor, p.RequestID, fp, func(tx Tx) (*Exception, error) {
		return d.act(ctx, tx, p, "exception.acknowledge", HistoryAcknowledged, func(e *Exception, _ time.Time) {
			e.State, e.Acknowledger = StateAcknowledged, p.Actor
		})
	})
}

// Resolve marks an exception RESOLVED by p.Actor with p.Note, with a
// history entry and an audit record "exception.resolve", in one
// transaction. Repeating the request id with the same exception and note
// returns the first result. Errors: ErrNotFound, ErrAlreadyResolved,
// ErrIdempotencyKeyReused.
func (d *Desk) Resolve(ctx context.Context, p ActParams) (*Exception, error) {
	fp := fingerprint.Of([]string{"exception.resolve", p.ID, p.Note})
	return remember(ctx, d.store, p.Actor, p.RequestID, fp, func(tx Tx) (*Exception, error) {
		return d.act(ctx, tx, p, "exception.resolve", HistoryResolved, func(e *Exception, now time.Time) {
			e.State, e.Resolver, e.ResolutionNote, e.ResolveTime = StateResolved, p.Actor, p.Note, now
		})
	})
}

// act applies change to exception p.ID in tx and records it in the
// exception's history and the audit trail.
func (d *Desk) act(ctx context.Context, tx Tx, p ActParams, action, history string, change func(*Exception, time.Time)) (*Exception, error) {
	e, err := tx.GetException(ctx, p.ID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, &NotFoundError{Name: ExceptionName(p.ID)}
		}
		return nil, err
	}
	if e.State == StateResolved {
		return nil, ErrAlreadyResolved
	}
	now := d.now().UTC()
	before := exceptionView(e)
	change(e, now)
	e.UpdateTime = now
	if err := tx.UpdateException(ctx, e); err != nil {
		return nil, err
	}
	if err := tx.AppendHistory(ctx, e.ID, HistoryEntry{Action: history, Actor: p.Actor, Note: p.Note, CreateTime: now}); err != nil {
		return nil, err
	}
	_, err = tx.InsertAuditRecord(ctx, &AuditRecord{
		ID: d.newID(), Actor: p.Actor, Action: action, Target: e.Name(), Service: Service,
		CorrelationID: p.CorrelationID, Before: before, After: exceptionView(e), CreateTime: now,
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// exceptionView is what the audit trail keeps of an exception: the fields
// operators change.
func exceptionView(e *Exception) map[string]any {
	v := map[string]any{"name": e.Name(), "state": e.State.String()}
	if !e.Acknowledger.IsZero() {
		v["acknowledger"] = actorView(e.Acknowledger)
	}
	if !e.Resolver.IsZero() {
		v["resolver"] = actorView(e.Resolver)
		v["resolutionNote"] = e.ResolutionNote
	}
	return v
}

func actorView(a Actor) map[string]any { return map[string]any{"kind": a.Kind, "id": a.ID} }

// remember runs fn in a transaction as request requestID of actor, whose
// payload has fingerprint fp: the first time fn runs and its result is
// stored with the fingerprint in the same transaction; a repetition with
// the same fingerprint returns the stored result without running fn, one
// with another fingerprint fails with ErrIdempotencyKeyReused. An error
// of fn is not stored, so a failed request may be repeated.
func remember[T any](ctx context.Context, store Store, actor Actor, requestID, fp string, fn func(tx Tx) (T, error)) (T, error) {
	var out T
	err := store.InTx(ctx, func(tx Tx) error {
		var zero T
		out = zero
		prev, ok, err := tx.Remembered(ctx, actor.String(), requestID)
		if err != nil {
			return err
		}
		if ok {
			return decodeRemembered(prev, fp, &out)
		}
		v, err := fn(tx)
		if err != nil {
			return err
		}
		b, err := encodeJSON(v)
		if err != nil {
			return err
		}
		if err := tx.Remember(ctx, actor.String(), requestID, Remembered{Fingerprint: fp, Result: b}); err != nil {
			return err
		}
		// Answer from the stored form, so the first answer and a replayed
		// one are the same.
		return json.Unmarshal(b, &out)
	})
	return out, err
}

// decodeRemembered reads a stored result into out, or reports a request
// id reused for another payload.
func decodeRemembered(r Remembered, fp string, out any) error {
	if r.Fingerprint != fp {
		return ErrIdempotencyKeyReused
	}
	if err := json.Unmarshal(r.Result, out); err != nil {
		return fmt.Errorf("desk: decode stored result: %w", err)
	}
	return nil
}

// RecordAction appends h to the history of every exception of resource
// that is not resolved: the desk's record of an operator action another
// service carried out (an ERP retry). An entry whose DedupeKey an
// exception has already is not added again.
func (d *Desk) RecordAction(ctx context.Context, resource string, h HistoryEntry) error {
	if h.CreateTime.IsZero() {
		h.CreateTime = d.now().UTC()
	}
	return d.store.InTx(ctx, func(tx Tx) error {
		es, err := tx.UnresolvedExceptions(ctx, resource)
		if err != nil {
			return err
		}
		for _, e := range es {
			if err := tx.AppendHistory(ctx, e.ID, h); err != nil {
				return err
			}
			e.UpdateTime = h.CreateTime
			if err := tx.UpdateException(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
}

// encodeJSON encodes a result to remember.
func encodeJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("desk: encode result: %w", err)
	}
	return b, nil
}
