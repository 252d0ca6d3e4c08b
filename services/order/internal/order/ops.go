package order

import (
	"time"
)

// ExceptionKind names a problem the order service raises for the
// operators' exception desk. orderpb maps each kind to its ops.v1 kind,
// severity and domain.
type ExceptionKind int

// Exception kinds.
const (
	// ExceptionERPRejection: the ERP rejected an order for a business
	// reason (raised with the REJECTED state change).
	ExceptionERPRejection ExceptionKind = iota + 1
	// ExceptionERPSubmissionFailed: a queue entry keeps failing at the
	// ERP (raised with the failure that reached the threshold).
	ExceptionERPSubmissionFailed
	// ExceptionClaimReaped: an abandoned CreateOrder claim was reaped
	// (raised with the reap).
	ExceptionClaimReaped
)

// Exception is a problem for operators. The store writes it in the
// transaction of the change that caused it, so the desk hears of it if
// and only if the change committed.
type Exception struct {
	Kind ExceptionKind
	// Resource names the affected resource, e.g. "orders/O-1"; with Kind
	// it is the desk's deduplication key.
	Resource string
	// OrderID is the affected order, "" when there is none (a reaped
	// claim never became an order).
	OrderID string
	// Message is one line for people.
	Message string
	// Details are the kind's details (ops.v1 Exception.Kind documents the
	// keys).
	Details map[string]string
	// OccurredAt is when it happened.
	OccurredAt time.Time
}

// Audit actions of the order service ("<resource type>.<verb>").
const (
	AuditOrderCreate  = "order.create"
	AuditOrderConfirm = "order.confirm"
	AuditOrderReject  = "order.reject"
	AuditOrderCancel  = "order.cancel"
	// AuditOrderShip records an applied shipment report (the states it
	// entered, or new quantities within the state).
	AuditOrderShip = "order.ship"
	// AuditQueueEntryRetry records an operator making an ERP queue entry
	// due now.
	AuditQueueEntryRetry = "erp_queue_entry.retry"
)

// ServiceActor is the audit actor of changes the order service makes on
// its own account (the ERP queue worker's confirmations and rejections).
var ServiceActor = Actor{Kind: "service", ID: "order"}

// Audit is one audit-trail record of a change, written by the store in
// the transaction of the change.
type Audit struct {
	Actor Actor
	// Action is one of the Audit* actions.
	Action string
	// Target names the changed resource ("orders/O-1",
	// "erpQueueEntries/O-1").
	Target string
	// Before and After are the resource around the change: *Order or
	// QueueEntry; a nil Before is a creation.
	Before, After any
	// OccurredAt is when the change happened.
	OccurredAt time.Time
}

// orderAudit is the audit record of a change of o from before.
func orderAudit(action string, actor Actor, before, after *Order, at time.Time) Audit {
	a := Audit{Actor: actor, Action: action, Target: OrderName(after.ID), After: after, OccurredAt: at}
	if before != nil {
		a.Before = before
	}
	return a
}

// OrderName is the resource name of an order.
func OrderName(id string) string { return "orders/" + id }

// QueueEntryName is the resource name of an order's ERP queue entry.
func QueueEntryName(orderID string) string { return "erpQueueEntries/" + orderID }
