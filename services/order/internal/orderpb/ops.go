package orderpb

import (
	"fmt"
	"time"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/services/order/internal/order"
)

// Encoder is the store's outbox encoder: order events on TRANSLOAD_ORDER,
// exceptions and audit records (platform/opsevents) on TRANSLOAD_OPS.
type Encoder struct{}

// Event implements sqlstore.Encoder with Event.
func (Encoder) Event(ev order.Event) (outbox.Event, error) { return Event(ev) }

// exceptionClass is how the desk files an order exception kind (the table
// of the operations plane design).
type exceptionClass struct {
	kind     opsv1.Exception_Kind
	severity opsv1.Exception_Severity
	domain   opsv1.Exception_Domain
}

var exceptionClasses = map[order.ExceptionKind]exceptionClass{
	order.ExceptionERPRejection: {opsv1.Exception_KIND_ERP_REJECTION, opsv1.Exception_SEVERITY_MEDIUM, opsv1.Exception_DOMAIN_ERP},
	order.ExceptionERPSubmissionFailed: {opsv1.Exception_KIND_ERP_SUBMISSION_FAILED, opsv1.Exception_SEVERITY_HIGH,
		opsv1.Exception_DOMAIN_ERP},
	order.ExceptionClaimReaped: {opsv1.Exception_KIND_ORDER_CLAIM_REAPED, opsv1.Exception_SEVERITY_LOW, opsv1.Exception_DOMAIN_COMMERCE},
}

// Exception implements sqlstore.Encoder: the ExceptionRaisedEvent of ex.
func (Encoder) Exception(ex order.Exception) (outbox.Event, error) {
	c, ok := exceptionClasses[ex.Kind]
	if !ok {
		return outbox.Event{}, fmt.Errorf("orderpb: unknown exception kind %d", ex.Kind)
	}
	details := make(map[string]any, len(ex.Details))
	for k, v := range ex.Details {
		details[k] = v
	}
	e := opsevents.Exception{
		Kind: c.kind, Severity: c.severity, Domain: c.domain, Resource: ex.Resource,
		Message: ex.Message, Details: details, OccurredAt: ex.OccurredAt,
	}
	if ex.OrderID != "" {
		e.AggregateType, e.AggregateID = AggregateType, ex.OrderID
	}
	return opsevents.Raise(Producer, e)
}

// Audit implements sqlstore.Encoder: the AuditRecordedEvent of a, its
// before and after rendered as order.v1 resources (the queue entry's state
// as of the change).
func (Encoder) Audit(a order.Audit) (outbox.Event, error) {
	before, err := auditResource(a.Before, a.OccurredAt)
	if err != nil {
		return outbox.Event{}, fmt.Errorf("orderpb: %s before: %w", a.Action, err)
	}
	after, err := auditResource(a.After, a.OccurredAt)
	if err != nil {
		return outbox.Event{}, fmt.Errorf("orderpb: %s after: %w", a.Action, err)
	}
	return opsevents.Record(Producer, opsevents.Audit{
		Actor: opsevents.Actor{Kind: a.Actor.Kind, ID: a.Actor.ID}, Action: a.Action, Target: a.Target,
		Before: before, After: after, OccurredAt: a.OccurredAt,
	})
}

// auditResource converts the resource of an audit record (nil stays nil).
func auditResource(v any, at time.Time) (any, error) {
	switch r := v.(type) {
	case nil:
		return nil, nil
	case *order.Order:
		if r == nil {
			return nil, nil
		}
		return Order(r), nil
	case order.QueueEntry:
		return ErpQueueEntry(r, at), nil
	default:
		return nil, fmt.Errorf("unsupported resource %T", v)
	}
}

// QueueEntryState converts a domain queue entry state.
func QueueEntryState(s order.QueueEntryState) orderv1.ErpQueueEntry_State {
	return orderv1.ErpQueueEntry_State(s)
}

// QueueEntryStateFromProto converts a contract queue entry state.
func QueueEntryStateFromProto(s orderv1.ErpQueueEntry_State) order.QueueEntryState {
	return order.QueueEntryState(s)
}

// ErpQueueEntry converts a queue entry, in its state at now.
func ErpQueueEntry(e order.QueueEntry, now time.Time) *orderv1.ErpQueueEntry {
	st := e.State(now)
	p := &orderv1.ErpQueueEntry{
		Name: order.QueueEntryName(e.OrderID), Order: order.OrderName(e.OrderID), CustomerId: e.CustomerID,
		Action: string(e.Action), State: QueueEntryState(st), AttemptCount: int32(min(e.Attempts, 1<<31-1)),
		LastError: e.LastError, EnqueueTime: ts(e.CreatedAt),
	}
	if st == order.QueueEntryBackingOff {
		p.NextAttemptTime = ts(e.NextAttemptAt)
	}
	p.StrikeCount, p.ParkTime = int32(min(e.Strikes, 1<<31-1)), ts(e.ParkedAt)
	return p
}

// ErpQueueStatus converts the queue status, entry states as of now.
func ErpQueueStatus(s order.QueueStatus, now time.Time) *orderv1.ErpQueueStatus {
	p := &orderv1.ErpQueueStatus{
		Depth: int64(s.Depth), InFlight: int64(s.InFlight), OldestEnqueueTime: ts(s.OldestCreateAt),
		BreakerState: s.BreakerState, LastError: s.LastError, LastErrorTime: ts(s.LastErrorAt),
		LastSuccessTime: ts(s.LastSuccessAt), SubmittedLastHour: int64(s.SubmittedLastHour), ParkedCount: int64(s.Parked),
	}
	for _, b := range s.Blockers {
		p.CustomerBlockers = append(p.CustomerBlockers, &orderv1.ErpQueueBlocker{Entry: ErpQueueEntry(b.Entry, now), WaitingCount: int64(b.Waiting)})
	}
	return p
}
