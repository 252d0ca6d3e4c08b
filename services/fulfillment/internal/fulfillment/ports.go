package fulfillment

import (
	"context"
	"time"
)

// WMS is the warehouse management system as the service uses it (the wms.v1
// adapter contract): requests go in, a feed of events comes out. Every
// method's error is a *DependencyError (errors.Is ErrDependencyUnavailable
// when the WMS gave no answer, ErrCircuitOpen when the breaker refused the
// call), possibly wrapped with one of the WMS answers named below.
type WMS interface {
	// CreateShipmentRequest asks the WMS to ship r, idempotently on r.ID.
	// A refusal of the request's content is an answer (Accepted false),
	// not an error.
	CreateShipmentRequest(ctx context.Context, r *Request) (WMSAnswer, error)
	// ShipmentEvents reads up to pageSize events of the shipment event
	// feed after cursor ("" is the oldest retained event). ErrCursorRefused
	// when the WMS no longer accepts cursor.
	ShipmentEvents(ctx context.Context, cursor string, pageSize int) (FeedPage, error)
	// CancelShipmentRequest cancels the WMS's outbound order of request
	// id. ErrUnknownAtWMS when the WMS never created it;
	// ErrTooLateToCancel when it shipped or is past its cut-off.
	CancelShipmentRequest(ctx context.Context, id, reason string) error
	// RegisterExpectedReturn announces er to its warehouse, idempotently
	// on er.ID. A refusal is an answer (Accepted false), not an error.
	RegisterExpectedReturn(ctx context.Context, er ExpectedReturn) (WMSAnswer, error)
	// CancelExpectedReturn withdraws expected return id at its warehouse;
	// an already cancelled one answers nil. ErrReturnAlreadyReceived when
	// goods were received against it, ErrExpectedReturnUnknown when the
	// WMS never registered it.
	CancelExpectedReturn(ctx context.Context, id, reason string) error
	// ReturnEvents reads up to pageSize events of the return receipt feed
	// after cursor, like ShipmentEvents.
	ReturnEvents(ctx context.Context, cursor string, pageSize int) (FeedPage, error)
}

// Inventory commits the reservations of shipped goods.
type Inventory interface {
	// CommitReservation commits c, idempotently on c.RequestID. Errors:
	// *DependencyError.
	CommitReservation(ctx context.Context, c Commit) error
	// Restock applies r's RETURN_RESTOCK stock events, idempotently on
	// their event ids. An event inventory refuses is a rejected
	// *DependencyError.
	Restock(ctx context.Context, r Restock) error
}

// Orders is the order service as fulfilment reports to it.
type Orders interface {
	// RecordShipmentProgress reports p, idempotently on p.EventID.
	// Errors: *DependencyError.
	RecordShipmentProgress(ctx context.Context, p Progress) error
	// RecordReturnReceipt reports a return receipt, idempotently on
	// r.EventID. Errors: *DependencyError.
	RecordReturnReceipt(ctx context.Context, r ReceiptReport) error
}

// WMSAnswer is the WMS's answer to a shipment request, synchronous
// (CreateShipmentRequest) or pushed later (an acknowledgement event).
type WMSAnswer struct {
	// Accepted is true when the WMS took the request.
	Accepted bool
	// Reference is the WMS's id of its outbound order (accepted).
	Reference string
	// Duplicate is true when the WMS had the request already (a retry).
	Duplicate bool
	// RejectionReason and RejectionMessage say why the WMS refused.
	RejectionReason  string
	RejectionMessage string
}

// FeedPage is one page of the WMS shipment event feed.
type FeedPage struct {
	Events []WMSEvent
	// NextCursor resumes the feed after this page ("" or the cursor asked
	// for when there is nothing new).
	NextCursor string
	// HasMore is true when the WMS holds more events right now.
	HasMore bool
}

// WMSEventKind says what a WMS event reports.
type WMSEventKind int

// WMS event kinds.
const (
	// WMSEventIgnored carries nothing to apply: the feed's ACCEPTED and
	// REJECTED milestones, answered already by the synchronous call.
	WMSEventIgnored WMSEventKind = iota
	// WMSEventShipment is a shipment milestone (WMSEvent.Shipment).
	WMSEventShipment
	// WMSEventCancelled says the WMS cancelled the request on its own.
	WMSEventCancelled
	// WMSEventAcknowledgement is the WMS's asynchronous answer to a
	// request (WMSEvent.Answer).
	WMSEventAcknowledgement
	// WMSEventReturnReceipt is a return receipt (WMSEvent.Receipt).
	WMSEventReturnReceipt
	// WMSEventUnsupported is an event of a kind the service does not
	// know; it is recorded as rejected.
	WMSEventUnsupported
)

// WMSEvent is one event a WMS reported, read from its feed or pushed by an
// adapter, in the domain's terms.
type WMSEvent struct {
	// ID is the WMS's event id, unique per source.
	ID string
	// RequestID is the fulfilment request the event is about ("" when it
	// names none).
	RequestID string
	Kind      WMSEventKind
	// Shipment is the milestone of a WMSEventShipment.
	Shipment ShipmentEvent
	// Answer is the WMS's answer of a WMSEventAcknowledgement.
	Answer WMSAnswer
	// Receipt is the receipt of a WMSEventReturnReceipt.
	Receipt ReturnReceiptEvent
	// Fingerprint digests the event as received, and Payload is its
	// encoding: an id seen again with another fingerprint is a reused id.
	Fingerprint string
	Payload     []byte
}

// WMSEventOutcome is what applying a WMS event did.
type WMSEventOutcome int

// WMS event outcomes.
const (
	// WMSEventApplied: the event was applied (or carried nothing to apply).
	WMSEventApplied WMSEventOutcome = iota + 1
	// WMSEventDuplicate: the event was seen before; nothing changed.
	WMSEventDuplicate
	// WMSEventRejected: the event was refused (Reason) and recorded for
	// the exception desk.
	WMSEventRejected
)

// WMSEventResult is the outcome of one WMS event.
type WMSEventResult struct {
	EventID string
	Outcome WMSEventOutcome
	// Reason and Message say why a rejected event was refused.
	Reason  RejectReason
	Message string
	// OrderID, RequestID and ShipmentID name what an applied event
	// changed: the shipment, or the request when ShipmentID is empty (or
	// the return receipt, ReturnReceiptID).
	OrderID    string
	RequestID  string
	ShipmentID string
	// ReturnReceiptID names the return receipt an applied receipt
	// recorded.
	ReturnReceiptID string
}

// Commit is the inventory call that commits a shipped shipment's
// quantities against the order's reservation.
type Commit struct {
	ReservationID string
	// RequestID is the idempotency key of the commit.
	RequestID   string
	WarehouseID string
	ShipmentID  string
	// Lines are the quantities per SKU (OrderLineID empty).
	Lines []ShipmentLine
}

// Progress is the order service call that reports a shipment milestone.
type Progress struct {
	OrderID string
	// EventID is the idempotency key of the report.
	EventID     string
	ShipmentID  string
	RequestID   string
	WarehouseID string
	// Delivered reports delivery; otherwise the shipment shipped.
	Delivered bool
	// Lines are the quantities per order line (SKU empty).
	Lines          []ShipmentLine
	TrackingNumber string
	OccurTime      time.Time
}
