package wms

import (
	"errors"
	"fmt"
)

// Domain errors. The gRPC layer maps each to one status code and reason.
var (
	// ErrShipmentRequestNotFound: no shipment request has the id.
	ErrShipmentRequestNotFound = errors.New("shipment request not found")
	// ErrExpectedReturnNotFound: no expected return has the id.
	ErrExpectedReturnNotFound = errors.New("expected return not found")
	// ErrKeyReused: an idempotency key was sent again with another payload.
	ErrKeyReused = errors.New("idempotency key reused with a different payload")
	// ErrDuplicateKey is returned by Store creations that lost a race with
	// another process inserting the same id; the caller reads it back.
	ErrDuplicateKey = errors.New("id already exists")
)

// AlreadyShippedError says a shipment request cannot be cancelled because
// its goods have shipped.
type AlreadyShippedError struct {
	ID    string
	State State
}

// Error describes the problem.
func (e *AlreadyShippedError) Error() string {
	return fmt.Sprintf("shipment request %s already shipped (state %s)", e.ID, e.State)
}

// ReturnAlreadyReceivedError says an expected return cannot be cancelled
// because goods were received against it.
type ReturnAlreadyReceivedError struct {
	ID string
}

// Error describes the problem.
func (e *ReturnAlreadyReceivedError) Error() string {
	return fmt.Sprintf("expected return %s already received", e.ID)
}

// Feed names used in cursor errors.
const (
	FeedShipmentEvents = "shipment_events"
	FeedReturnEvents   = "return_events"
)

// InvalidCursorError says a feed cursor is malformed or was not produced by
// this simulator for this feed.
type InvalidCursorError struct {
	Feed string
}

// Error describes the problem.
func (e *InvalidCursorError) Error() string {
	return fmt.Sprintf("invalid %s cursor", e.Feed)
}

// InvalidReceiptError says a simulated receipt does not fit its expected
// return (unknown line, more than expected, nothing left to receive).
type InvalidReceiptError struct {
	Reason string
}

// Error describes the problem.
func (e *InvalidReceiptError) Error() string { return "invalid receipt: " + e.Reason }
