// Package fulfillment is the fulfilment domain: fulfilment requests (one per
// order × allocated warehouse), the shipments the WMS reports for them, and
// the rules that turn WMS shipment milestones into shipment state, request
// progress and the side effects (inventory commit, order progress) they
// require. It has no gRPC, protobuf or SQL dependencies.
package fulfillment

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
	"time"
)

// RequestState is a fulfilment request's lifecycle state. The values match
// transload.fulfillment.v1.FulfillmentRequest.State.
type RequestState int

// Request states.
const (
	RequestPending      RequestState = 1
	RequestSentToWMS    RequestState = 2
	RequestAcknowledged RequestState = 3
	RequestFailed       RequestState = 4
	RequestCancelled    RequestState = 5
	RequestCompleted    RequestState = 6
)

var requestStateNames = map[RequestState]string{RequestPending: "PENDING", RequestSentToWMS: "SENT_TO_WMS",
	RequestAcknowledged: "ACKNOWLEDGED", RequestFailed: "FAILED", RequestCancelled: "CANCELLED", RequestCompleted: "COMPLETED"}

// String returns the state's proto value name without the STATE_ prefix.
func (s RequestState) String() string { return stateName(requestStateNames, s) }

// stateName returns the name of state s, or UNSPECIFIED for an unknown s.
func stateName[S comparable](names map[S]string, s S) string {
	if n, ok := names[s]; ok {
		return n
	}
	return "UNSPECIFIED"
}

// Open reports whether the request still waits to be delivered to the WMS.
func (s RequestState) Open() bool { return s == RequestPending || s == RequestSentToWMS }

// Address is a postal address to ship to.
type Address struct {
	Recipient          string
	Lines              []string
	Locality           string
	AdministrativeArea string
	PostalCode         string
	RegionCode         string
}

// Line is one order line's allocation to the request's warehouse.
type Line struct {
	OrderLineID     string
	SKU             string
	Quantity        int64
	ShippedQuantity int64
}

// Request asks one warehouse to ship the part of an order allocated to it.
type Request struct {
	ID              string
	OrderID         string
	CustomerID      string
	WarehouseID     string
	ShipTo          Address
	Lines           []Line
	State           RequestState
	WMSReference    string
	AttemptCount    int
	LastError       string
	ReservationID   string
	SourceEventID   string
	CancelReason    string
	CustomerPO      string
	CreateTime      time.Time
	UpdateTime      time.Time
	AcknowledgeTime time.Time
	// NextAttemptTime is when the dispatcher may try to deliver the request
	// to the WMS again.
	NextAttemptTime time.Time
	// RetryRequestID and RetryFingerprint identify the last
	// RetryFulfillmentRequest call (its idempotency key and payload).
	RetryRequestID   string
	RetryFingerprint string
	// Version increases on every update; it is the etag.
	Version int64
}

// Retry puts a FAILED request back to PENDING for another delivery with a
// fresh retry budget, as
// the operator call keyed by requestID with payload fingerprint fp. A
// repeated call with the same key and payload changes nothing and reports
// replay; the same key with another payload fails with
// ErrIdempotencyKeyReused; any other state than FAILED is a
// RejectInvalidStateTransition.
func (r *Request) Retry(requestID, fp string, now time.Time) (replay bool, err error) {
	if r.RetryRequestID == requestID && requestID != "" {
		if r.RetryFingerprint != fp {
			return false, ErrIdempotencyKeyReused
		}
		return true, nil
	}
	if r.State != RequestFailed {
		return false, reject(RejectInvalidStateTransition, "only a FAILED request can be retried",
			map[string]string{"from": "STATE_" + r.State.String(), "to": "STATE_PENDING"})
	}
	r.State = RequestPending
	r.NextAttemptTime = now
	// A new retry budget: attempt_count counts the attempts since the
	// last operator retry.
	r.AttemptCount = 0
	r.RetryRequestID, r.RetryFingerprint = requestID, fp
	r.UpdateTime = now
	return false, nil
}

// RequestID returns the fulfilment request id of an order's allocation to
// a warehouse. It is deterministic, which makes creation idempotent on
// (order, warehouse), and doubles as the WMS idempotency key.
func RequestID(orderID, warehouseID string) string {
	return "FR-" + orderID + "-" + warehouseID
}

// line returns the request line with the order line id, or nil.
func (r *Request) line(orderLineID string) *Line {
	for i := range r.Lines {
		if r.Lines[i].OrderLineID == orderLineID {
			return &r.Lines[i]
		}
	}
	return nil
}

// fullyShipped reports whether every line's quantity has shipped.
func (r *Request) fullyShipped() bool {
	for _, l := range r.Lines {
		if l.ShippedQuantity < l.Quantity {
			return false
		}
	}
	return len(r.Lines) > 0
}

// Acknowledge records the WMS's acceptance of the request.
func (r *Request) Acknowledge(wmsReference string, now time.Time) {
	if r.State.Open() {
		r.State = RequestAcknowledged
	}
	r.WMSReference = wmsReference
	r.LastError = ""
	if r.AcknowledgeTime.IsZero() {
		r.AcknowledgeTime = now
	}
	r.UpdateTime = now
}

// Answered applies the WMS's answer to the request: accepted, it is
// acknowledged with the WMS's reference; refused, it is FAILED with the
// WMS's reason.
func (r *Request) Answered(a WMSAnswer, now time.Time) {
	if a.Accepted {
		r.Acknowledge(a.Reference, now)
		return
	}
	r.Fail("WMS rejected the request: "+strings.TrimSpace(a.RejectionReason+" "+a.RejectionMessage), now)
}

// Fail moves the request to FAILED with a reason.
func (r *Request) Fail(reason string, now time.Time) {
	r.State = RequestFailed
	r.LastError = reason
	r.UpdateTime = now
}

// DeliveryFailed records a failed delivery attempt (transport error): the
// request stays PENDING and is tried again at next.
func (r *Request) DeliveryFailed(reason string, now, next time.Time) {
	r.State = RequestPending
	r.LastError = reason
	r.NextAttemptTime = next
	r.UpdateTime = now
}

// ShipmentState is a shipment's status. The values match
// transload.fulfillment.v1.Shipment.State.
type ShipmentState int

// Shipment states.
const (
	ShipmentPicked    ShipmentState = 1
	ShipmentPacked    ShipmentState = 2
	ShipmentShipped   ShipmentState = 3
	ShipmentInTransit ShipmentState = 4
	ShipmentDelivered ShipmentState = 5
	ShipmentException ShipmentState = 6
)

var shipmentStateNames = map[ShipmentState]string{ShipmentPicked: "PICKED", ShipmentPacked: "PACKED",
	ShipmentShipped: "SHIPPED", ShipmentInTransit: "IN_TRANSIT", ShipmentDelivered: "DELIVERED", ShipmentException: "EXCEPTION"}

// String returns the state's proto value name without the STATE_ prefix.
func (s ShipmentState) String() string { return stateName(shipmentStateNames, s) }

// progress orders the non-exception states; EXCEPTION has none.
func (s ShipmentState) progress() int {
	if s == ShipmentException {
		return 0
	}
	return int(s)
}

// shipped reports whether the state means the goods left the warehouse.
func (s ShipmentState) shipped() bool {
	return s == ShipmentShipped || s == ShipmentInTransit || s == ShipmentDelivered
}

// ShipmentLine is the quantity of one order line in a shipment.
type ShipmentLine struct {
	OrderLineID string
	SKU         string
	Quantity    int64
}

// StateChange is one reported shipment state.
type StateChange struct {
	State      ShipmentState
	OccurTime  time.Time
	RecordTime time.Time
	WMSEventID string
	Detail     string
	Stale      bool
}

// Shipment is a parcel or consignment leaving a warehouse for one
// fulfilment request, identified by the request and the WMS's shipment
// reference.
type Shipment struct {
	ID              string
	OrderID         string
	CustomerID      string
	RequestID       string
	WarehouseID     string
	WMSReference    string
	Carrier         string
	ServiceLevel    string
	TrackingNumber  string
	TrackingURL     string
	Lines           []ShipmentLine
	State           ShipmentState
	History         []StateChange
	ExceptionDetail string
	ReservationID   string
	ShipTime        time.Time
	DeliveryTime    time.Time
	CreateTime      time.Time
	UpdateTime      time.Time
	// MaxProgress is the furthest non-exception state reached; a state
	// before it is stale.
	MaxProgress ShipmentState
	Version     int64
}

// Shipped reports whether the shipment has left the warehouse.
func (s *Shipment) Shipped() bool { return !s.ShipTime.IsZero() }

// NewShipmentID returns a new random shipment id ("S-" + 12 characters).
func NewShipmentID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "S-" + strings.TrimRight(base32.StdEncoding.EncodeToString(b[:]), "=")
}
