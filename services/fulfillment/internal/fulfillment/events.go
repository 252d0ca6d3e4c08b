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
	// (Request, PreviousRequestState).
	EventRequestCancelled
)

// Event is an event raised by a change; Tx.WriteEvent writes it to the
// outbox in the change's transaction.
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
	// WMSEventID is the WMS event that caused a shipment change.
	WMSEventID string
	// OccurTime is when the change happened.
	OccurTime time.Time
}
