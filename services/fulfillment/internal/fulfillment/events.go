package fulfillment

import "time"

// EventType names an event the service publishes (fulfillment.v1
// events.proto).
type EventType int

// Event types.
const (
	// EventShipmentUpdated: a shipment was created or changed (Shipment,
	// PreviousShipmentState, WMSEventID).
	EventShipmentUpdated EventType = iota + 1
	// EventRequestFailed: a request went to FAILED (Request,
	// PreviousRequestState).
	EventRequestFailed
	// EventRequestCancelled: a request was cancelled by CancelFulfillment
	// (Request, PreviousRequestState, PreviousRequest, Actor).
	EventRequestCancelled
	// EventRequestRetried: an operator put a FAILED request back to
	// PENDING (Request, PreviousRequest, Actor). fulfillment.v1 has no
	// event for it: it goes to the audit trail only.
	EventRequestRetried
	// EventShipmentMismatch: the WMS reported a shipment that does not
	// match the request's allocation (Mismatch). It changes nothing here
	// and goes to the exception desk only.
	EventShipmentMismatch
	// EventReturnReceived: a warehouse received goods against a return
	// authorization (ReturnReceipt).
	EventReturnReceived
	// EventReturnReceiptRefused: a WMS return receipt was refused, or the
	// WMS refused to register an expected return (ReturnRefusal, without
	// a WMS event). It goes to the exception desk only.
	EventReturnReceiptRefused
)

// Event is an event raised by a change; Tx.WriteEvent writes it to the
// outbox in the change's transaction, together with what it tells the
// operations plane: a failed request raises an exception for the desk, a
// mismatching shipment report too, and retries, cancellations and
// shipment state changes are recorded in the audit trail.
type Event struct {
	Type EventType
	// ID is the event id; empty means a new one. An event caused by a WMS
	// event gets an id derived from it, so a re-poll raises the same id.
	ID string
	// Request is the request after the change (request events).
	Request *Request
	// PreviousRequestState is the request's state before the change.
	PreviousRequestState RequestState
	// Shipment is the shipment after the change (shipment events).
	Shipment *Shipment
	// PreviousShipmentState is the shipment's state before the change (0
	// for a new shipment).
	PreviousShipmentState ShipmentState
	// PreviousRequest is the request before a retry or a cancellation,
	// for the audit trail.
	PreviousRequest *Request
	// WMSEventID is the WMS event that caused a shipment change.
	WMSEventID string
	// WMSCode and WMSMessage are the WMS's refusal of a failed request
	// (WMSCode is empty when the request failed because it could not be
	// delivered).
	WMSCode, WMSMessage string
	// Mismatch is what an EventShipmentMismatch reports.
	Mismatch *ShipmentMismatch
	// ReturnReceipt is the receipt an EventReturnReceived reports.
	ReturnReceipt *ReturnReceipt
	// ReturnRefusal is what an EventReturnReceiptRefused reports.
	ReturnRefusal *ReturnRefusal
	// Actor is who made the change; zero means the service acting on its
	// own account (its workers and consumers).
	Actor Actor
	// OccurTime is when the change happened.
	OccurTime time.Time
}

// Actor identifies who caused a change, for the audit trail.
type Actor struct {
	// Kind is "operator", "api_key", "service" or "system".
	Kind string
	// ID is the key id or the service's name.
	ID string
}

// IsZero reports whether a names nobody.
func (a Actor) IsZero() bool { return a == Actor{} }
