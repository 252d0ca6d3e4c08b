// Package desk is the ops service's domain: the exception desk (exceptions
// raised by every service, deduplicated by kind and resource, with their
// history and the actions they allow), the projection of dead letters and
// their replay, and the append-only audit index. It owns the Store and
// neighbour ports it needs and knows nothing of gRPC, protobuf or SQL.
//
// The enumerations are numbered as their transload.ops.v1 counterparts,
// so the API converts them by value and the database stores the numbers
// operators see in the contract.
package desk

import (
	"time"

	"github.com/transload/transload/platform/opsevents"
)

// Kind is the category of an exception (ops.v1 Exception.Kind).
type Kind int32

// The kinds of exception.
const (
	KindERPRejection          Kind = 1
	KindERPSubmissionFailed   Kind = 2
	KindPostingLineRejected   Kind = 3
	KindDeadLetter            Kind = 4
	KindInventoryVariance     Kind = 5
	KindWMSRejection          Kind = 6
	KindShipmentMismatch      Kind = 7
	KindWebhookDisabled       Kind = 8
	KindStockSequenceGap      Kind = 9
	KindOrderClaimReaped      Kind = 10
	KindWebhookDeliveryFailed Kind = 11
	KindEventStreamLoss       Kind = 12
)

// Valid reports whether k is a declared kind.
func (k Kind) Valid() bool { return k >= KindERPRejection && k <= KindEventStreamLoss }

// Severity is how urgent an exception is (ops.v1 Exception.Severity).
type Severity int32

// The severities, least urgent first.
const (
	SeverityLow    Severity = 1
	SeverityMedium Severity = 2
	SeverityHigh   Severity = 3
)

// Valid reports whether s is a declared severity.
func (s Severity) Valid() bool { return s >= SeverityLow && s <= SeverityHigh }

// Domain is the business domain that owns an exception (ops.v1
// Exception.Domain).
type Domain int32

// The owning domains.
const (
	DomainCommerce    Domain = 1
	DomainERP         Domain = 2
	DomainFulfillment Domain = 3
	DomainFinance     Domain = 4
)

// Valid reports whether d is a declared domain.
func (d Domain) Valid() bool { return d >= DomainCommerce && d <= DomainFinance }

// State is the handling state of an exception (ops.v1 Exception.State).
type State int32

// The exception states: OPEN → ACKNOWLEDGED → RESOLVED (terminal).
const (
	StateOpen         State = 1
	StateAcknowledged State = 2
	StateResolved     State = 3
)

// String returns the contract's name of s, as audit records show it.
func (s State) String() string {
	switch s {
	case StateOpen:
		return "STATE_OPEN"
	case StateAcknowledged:
		return "STATE_ACKNOWLEDGED"
	case StateResolved:
		return "STATE_RESOLVED"
	}
	return "STATE_UNSPECIFIED"
}

// Action is something an operator can do about an exception (ops.v1
// Exception.Action).
type Action int32

// The actions.
const (
	ActionAcknowledge           Action = 1
	ActionResolve               Action = 2
	ActionReplayDeadLetter      Action = 3
	ActionRetryERPSubmission    Action = 4
	ActionTriggerReconciliation Action = 5
)

// DeadLetterState says whether a dead letter still needs handling (ops.v1
// DeadLetter.State).
type DeadLetterState int32

// The dead-letter states.
const (
	DeadLetterPending  DeadLetterState = 1
	DeadLetterReplayed DeadLetterState = 2
)

// String returns the contract's name of s, as audit records show it.
func (s DeadLetterState) String() string {
	switch s {
	case DeadLetterPending:
		return "STATE_PENDING"
	case DeadLetterReplayed:
		return "STATE_REPLAYED"
	}
	return "STATE_UNSPECIFIED"
}

// Actor is who caused a change: the platform's opsevents.Actor, whose
// String "kind:id" scopes an actor's idempotency keys.
type Actor = opsevents.Actor

// Exception is one item of the desk.
type Exception struct {
	// ID is assigned by the desk; the resource name is exceptions/{ID}.
	ID       string
	Kind     Kind
	Severity Severity
	Domain   Domain
	// Resource names the affected resource; with Kind it is the
	// deduplication key while the exception is not resolved.
	Resource      string
	SourceService string
	AggregateType string
	AggregateID   string
	Message       string
	State         State
	CorrelationID string
	// Details are the kind's structured details, a JSON object (nil when
	// there are none).
	Details         map[string]any
	OccurrenceCount int64
	Acknowledger    Actor
	Resolver        Actor
	ResolutionNote  string
	CreateTime      time.Time
	UpdateTime      time.Time
	ResolveTime     time.Time
	LastOccurTime   time.Time
	// DeadLetterPending is, for a DEAD_LETTER exception, whether its dead
	// letter is still waiting for a replay; the store fills it on reads.
	DeadLetterPending bool
	// History is filled by Store.GetException only, oldest first.
	History []HistoryEntry
}

// Name returns the exception's resource name.
func (e *Exception) Name() string { return ExceptionName(e.ID) }

// ExceptionName returns the resource name of exception id.
func ExceptionName(id string) string { return "exceptions/" + id }

// AllowedActions returns what an operator can do about e in its current
// state: acknowledge while OPEN, resolve until RESOLVED, and the action
// that fixes the cause of its kind.
func (e *Exception) AllowedActions() []Action {
	var out []Action
	if e.State == StateOpen {
		out = append(out, ActionAcknowledge)
	}
	if e.State != StateResolved {
		out = append(out, ActionResolve)
	}
	switch e.Kind {
	case KindDeadLetter:
		if e.DeadLetterPending {
			out = append(out, ActionReplayDeadLetter)
		}
	case KindERPSubmissionFailed:
		out = append(out, ActionRetryERPSubmission)
	case KindInventoryVariance, KindStockSequenceGap:
		out = append(out, ActionTriggerReconciliation)
	case KindERPRejection, KindPostingLineRejected, KindWMSRejection, KindShipmentMismatch, KindWebhookDisabled,
		KindOrderClaimReaped,
		KindWebhookDeliveryFailed,
		KindEventStreamLoss:
		// Nothing on the desk fixes these; the operator acts in the
		// owning system and resolves.
	}
	return out
}

// History entry actions written by the desk itself; operator actions
// forwarded to other services use their audit action names
// ("erp_submission.retry", "reconciliation.trigger").
const (
	HistoryRaised           = "raised"
	HistoryOccurredAgain    = "occurred_again"
	HistoryAcknowledged     = "acknowledged"
	HistoryResolved         = "resolved"
	HistoryDeadLetterReplay = "dead_letter.replay"
	HistoryERPRetry         = "erp_submission.retry"
	HistoryReconciliation   = "reconciliation.trigger"
)

// HistoryEntry is one step in an exception's life.
type HistoryEntry struct {
	// Action is what happened, e.g. "raised" or "dead_letter.replay".
	Action string
	// Actor is the raising service for occurrences, the operator for
	// actions.
	Actor Actor
	// Note is the operator's note or the occurrence's message.
	Note string
	// Outcome is the result of an action ("" for occurrences).
	Outcome string
	// CreateTime is when it happened.
	CreateTime time.Time
	// DedupeKey, when not empty, makes a second entry with the same key
	// for the same exception a no-op (a retried request's outcome is
	// recorded once). It is not shown.
	DedupeKey string
}

// DeadLetter is the desk's row for one event a consumer gave up on,
// identified by its sequence in the dead-letter stream.
type DeadLetter struct {
	// Seq is the dead letter's sequence in the dead-letter stream; the
	// resource name is deadLetters/{Seq}.
	Seq               uint64
	Consumer          string
	Subject           string
	EventID           string
	AggregateType     string
	AggregateID       string
	AggregateSequence int64
	CorrelationID     string
	// Stream and StreamSeq locate the original message.
	Stream    string
	StreamSeq uint64
	// Error is the consumer's last error.
	Error         string
	DeliveryCount int32
	// PublishTime is when the event was written by its producer (zero
	// when unknown); DeadLetterTime when it was dead-lettered.
	PublishTime    time.Time
	DeadLetterTime time.Time
	// PayloadType is the protobuf full name of Payload.
	PayloadType string
	// Payload is the encoded event; PayloadSize its length, also set
	// where Payload is left out (lists).
	Payload        []byte
	PayloadSize    int64
	State          DeadLetterState
	ReplayCount    int32
	LastReplayTime time.Time
}

// Name returns the dead letter's resource name.
func (d *DeadLetter) Name() string { return DeadLetterName(d.Seq) }

// AuditRecord is one entry of the append-only audit trail.
type AuditRecord struct {
	// ID is the id of the event that recorded it (or one the desk made
	// for its own actions); the resource name is auditRecords/{ID}.
	ID            string
	Actor         Actor
	Action        string
	Target        string
	Service       string
	CorrelationID string
	// Before and After are JSON objects of the resource; nil for a
	// creation (Before) or deletion (After).
	Before, After map[string]any
	// BeforeJSON and AfterJSON, when not empty, are Before and After
	// already encoded as the store writes them (the audit consumer encodes
	// the event's Structs directly); the store then ignores Before and
	// After. Reads fill Before and After only.
	BeforeJSON, AfterJSON string
	CreateTime            time.Time
}

// Name returns the audit record's resource name.
func (a *AuditRecord) Name() string { return "auditRecords/" + a.ID }
