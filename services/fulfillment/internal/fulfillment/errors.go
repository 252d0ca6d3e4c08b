package fulfillment

import (
	"errors"
	"fmt"
)

// Sentinel errors of the domain; wrap them with context.
var (
	// ErrRequestNotFound: no fulfilment request has the id.
	ErrRequestNotFound = errors.New("fulfillment request not found")
	// ErrShipmentNotFound: no shipment has the id.
	ErrShipmentNotFound = errors.New("shipment not found")
	// ErrInvalidPageToken: a page token was not issued for this listing.
	ErrInvalidPageToken = errors.New("invalid page token")
	// ErrIdempotencyKeyReused: a request id was used before with another
	// payload.
	ErrIdempotencyKeyReused = errors.New("idempotency key reused with a different payload")
	// ErrInvalidArgument: a request parameter is malformed (for example an
	// unsupported filter).
	ErrInvalidArgument = errors.New("invalid argument")
)

// RejectReason classifies why a WMS event or a change was refused. The
// names match transload.fulfillment.v1.ErrorReason without the
// ERROR_REASON_ prefix.
type RejectReason string

// Reject reasons.
const (
	RejectUnknownRequest           RejectReason = "FULFILLMENT_REQUEST_NOT_FOUND"
	RejectWarehouseMismatch        RejectReason = "WAREHOUSE_MISMATCH"
	RejectUnknownOrderLine         RejectReason = "UNKNOWN_ORDER_LINE"
	RejectQuantityExceedsRequested RejectReason = "QUANTITY_EXCEEDS_REQUESTED"
	RejectInvalidStateTransition   RejectReason = "INVALID_STATE_TRANSITION"
	RejectEventIDReused            RejectReason = "EVENT_ID_REUSED"
	RejectAlreadyShipped           RejectReason = "ALREADY_SHIPPED"
	RejectWMSRejected              RejectReason = "WMS_REJECTED"
	// RejectNotSupported: the event kind is not handled by this version;
	// it maps to no ErrorReason (UNSPECIFIED).
	RejectNotSupported RejectReason = "NOT_SUPPORTED"
)

// RejectionError is a business refusal: the data is valid in shape but not
// for the current state. WMS events that fail with it are recorded for the
// exception desk and do not block later events.
type RejectionError struct {
	Reason   RejectReason
	Message  string
	Metadata map[string]string
}

// Error describes the refusal.
func (e *RejectionError) Error() string {
	return fmt.Sprintf("%s: %s", e.Reason, e.Message)
}

func reject(reason RejectReason, msg string, md map[string]string) *RejectionError {
	return &RejectionError{Reason: reason, Message: msg, Metadata: md}
}

// AsRejection returns the RejectionError in err's chain, or nil.
func AsRejection(err error) *RejectionError {
	var r *RejectionError
	if errors.As(err, &r) {
		return r
	}
	return nil
}

// ErrDependencyUnavailable means a neighbour (WMS, inventory, order) could
// not be reached or did not answer in time; the call is retried later.
var ErrDependencyUnavailable = errors.New("dependency unavailable")

// ErrCircuitOpen accompanies ErrDependencyUnavailable when the call was
// refused locally by the neighbour's open circuit breaker: it never reached
// the neighbour, so it does not count as a delivery attempt.
var ErrCircuitOpen = errors.New("circuit breaker open")

// DependencyRejectedError means a neighbour refused a call for a reason a
// retry cannot fix (validation, business rule, idempotency key reuse).
type DependencyRejectedError struct {
	// Dependency names the neighbour ("wms", "inventory", "order").
	Dependency string
	// Reason is the neighbour's ErrorInfo reason, when it gave one.
	Reason string
	// Message is the neighbour's status message.
	Message string
}

// Error describes the refusal.
func (e *DependencyRejectedError) Error() string {
	return fmt.Sprintf("%s rejected the call: %s %s", e.Dependency, e.Reason, e.Message)
}
