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
	// ErrReturnReceiptNotFound: no return receipt has the id.
	ErrReturnReceiptNotFound = errors.New("return receipt not found")
	// ErrIdempotencyKeyReused: a request id was used before with another
	// payload.
	ErrIdempotencyKeyReused = errors.New("idempotency key reused with a different payload")
	// ErrInvalidArgument: a request parameter is malformed (for example an
	// unsupported filter).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrConflict: a row changed between read and update (optimistic
	// concurrency); the caller retries from a fresh read.
	ErrConflict = errors.New("concurrent modification")
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
	// RejectUnknownReturn: a return receipt names no expected return
	// fulfilment registered (an unplanned return).
	RejectUnknownReturn RejectReason = "UNKNOWN_RETURN_AUTHORIZATION"
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
	// Mismatch is set when a shipment report does not match the
	// request's allocation (unknown order line or SKU, over-shipment):
	// such a report is an exception for operators, not only a refusal.
	Mismatch *ShipmentMismatch
}

// ShipmentMismatch is a WMS shipment report that does not match the
// allocation of its fulfilment request.
type ShipmentMismatch struct {
	RequestID string
	OrderID   string
	// ShipmentID is the recorded shipment the report is about; empty when
	// the report would have created it.
	ShipmentID string
	// WMSReference is the WMS's parcel id the report names, if any.
	WMSReference string
	// OrderLineID and SKU are the line as the WMS reported it.
	OrderLineID string
	SKU         string
	// Expected is the quantity the request allocates to the line (0 for
	// an order line or SKU it does not have); Reported is the quantity
	// the line would have shipped in total with the report.
	Expected int64
	Reported int64
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

// ErrDependencyUnavailable means a neighbour (WMS, inventory, order) gave
// no usable answer: it could not be reached, was too slow, broke while
// handling the call, or its breaker is open. The call is retried later.
// Every *DependencyError that is not Rejected matches it under errors.Is.
var ErrDependencyUnavailable = errors.New("dependency unavailable")

// ErrCircuitOpen accompanies ErrDependencyUnavailable when the call was
// refused locally by the neighbour's open circuit breaker: it never reached
// the neighbour, so it does not count as a delivery attempt.
var ErrCircuitOpen = errors.New("circuit breaker open")

// DependencyError is a call to a neighbour that did not succeed. The client
// adapters build it from the call's status (grpcclient.Classify), so the
// domain never looks at gRPC codes.
type DependencyError struct {
	// Dependency names the neighbour ("wms", "inventory", "order").
	Dependency string
	// Rejected means the neighbour answered with a verdict about the call
	// (validation, business rule, idempotency key reuse) that a retry
	// cannot change. Otherwise it gave no answer and the call may succeed
	// later: the error matches ErrDependencyUnavailable.
	Rejected bool
	// CircuitOpen means the call was refused locally by the neighbour's
	// open breaker: the error matches ErrCircuitOpen too.
	CircuitOpen bool
	// Reason is the neighbour's ErrorInfo reason, when it gave one.
	Reason string
	// Err is the call's error.
	Err error
}

// Error describes the failure.
func (e *DependencyError) Error() string {
	switch {
	case e.Rejected:
		return fmt.Sprintf("%s rejected the call: %v", e.Dependency, e.Err)
	case e.CircuitOpen:
		return e.Dependency + ": circuit breaker open"
	default:
		return fmt.Sprintf("%s unavailable: %v", e.Dependency, e.Err)
	}
}

// Unwrap returns the call's error.
func (e *DependencyError) Unwrap() error { return e.Err }

// Is makes a failure without an answer match ErrDependencyUnavailable and a
// refusal by the open breaker ErrCircuitOpen.
func (e *DependencyError) Is(target error) bool {
	switch target {
	case ErrDependencyUnavailable:
		return !e.Rejected
	case ErrCircuitOpen:
		return e.CircuitOpen
	}
	return false
}

// AsRejectedDependency returns the *DependencyError in err's chain when a
// neighbour rejected the call, or nil.
func AsRejectedDependency(err error) *DependencyError {
	var d *DependencyError
	if errors.As(err, &d) && d.Rejected {
		return d
	}
	return nil
}

// Answers of the WMS the service acts on; the WMS client returns them
// wrapped together with the rejecting *DependencyError.
var (
	// ErrCursorRefused: the WMS no longer accepts the feed cursor
	// (retention passed, or the adapter was replaced).
	ErrCursorRefused = errors.New("wms refused the feed cursor")
	// ErrUnknownAtWMS: the WMS has no shipment request with the id.
	ErrUnknownAtWMS = errors.New("shipment request unknown at the wms")
	// ErrTooLateToCancel: the WMS can no longer cancel the shipment
	// request (already shipped, or past its cancellation cut-off).
	ErrTooLateToCancel = errors.New("too late to cancel at the wms")
)
