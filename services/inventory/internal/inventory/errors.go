package inventory

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Typed errors below wrap the matching sentinel through
// their Is method so callers may test either.
var (
	// ErrNotFound is the root of every not-found error.
	ErrNotFound = errors.New("not found")
	// ErrWarehouseNotFound means the warehouse does not exist.
	ErrWarehouseNotFound = fmt.Errorf("warehouse %w", ErrNotFound)
	// ErrStockLevelNotFound means the SKU×warehouse has no stock level.
	ErrStockLevelNotFound = fmt.Errorf("stock level %w", ErrNotFound)
	// ErrReservationNotFound means the reservation does not exist.
	ErrReservationNotFound = fmt.Errorf("reservation %w", ErrNotFound)
	// ErrIdempotencyKeyReused means a request id was reused with a
	// different payload.
	ErrIdempotencyKeyReused = errors.New("request id reused with a different payload")
	// ErrInvalidArgument is the root of domain validation errors.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrNotLoaded means the initial stock load has not finished; the
	// service cannot answer correctly yet.
	ErrNotLoaded = errors.New("initial stock load not finished")
	// ErrDependencyUnavailable means a neighbour (the ERP) could not be
	// reached or failed.
	ErrDependencyUnavailable = errors.New("dependency unavailable")
)

// InsufficientStockError means a line could not be allocated under the
// REJECT policy; nothing was reserved.
type InsufficientStockError struct {
	SKU       string
	Requested int64
	// Available is the total available in the warehouses the request could
	// use.
	Available int64
}

// Error describes the failure.
func (e *InsufficientStockError) Error() string {
	return fmt.Sprintf("insufficient stock for %s: requested %d, available %d", e.SKU, e.Requested, e.Available)
}

// UnknownSKUError means the SKU has no stock level in any warehouse.
type UnknownSKUError struct{ SKU string }

// Error describes the failure.
func (e *UnknownSKUError) Error() string { return "unknown SKU " + e.SKU }

// NoWarehouseForChannelError means no active warehouse serves the channel.
type NoWarehouseForChannelError struct{ Channel string }

// Error describes the failure.
func (e *NoWarehouseForChannelError) Error() string {
	return "no active warehouse serves channel " + e.Channel
}

// ReservationExistsForReferenceError means an open reservation exists for
// the reference under another request id.
type ReservationExistsForReferenceError struct {
	ReferenceID string
	Reservation string
}

// Error describes the failure.
func (e *ReservationExistsForReferenceError) Error() string {
	return fmt.Sprintf("open reservation %s exists for reference %s", e.Reservation, e.ReferenceID)
}

// StateConflictError means the operation is not allowed in the
// reservation's state.
type StateConflictError struct {
	Reservation string
	State       ReservationState
	Operation   string
}

// Error describes the failure.
func (e *StateConflictError) Error() string {
	return fmt.Sprintf("cannot %s reservation %s in state %s", e.Operation, e.Reservation, e.State)
}

// ReservationExpiredError means a hold's TTL passed.
type ReservationExpiredError struct {
	Reservation string
	ExpireTime  time.Time
}

// Error describes the failure.
func (e *ReservationExpiredError) Error() string {
	return fmt.Sprintf("reservation %s expired at %s", e.Reservation, e.ExpireTime.UTC().Format(time.RFC3339))
}

// CommitExceedsAllocationError means a commit names more than is open.
type CommitExceedsAllocationError struct {
	Reservation   string
	SKU           string
	WarehouseCode string
	Requested     int64
	Open          int64
}

// Error describes the failure.
func (e *CommitExceedsAllocationError) Error() string {
	return fmt.Sprintf("commit of %d %s from %s exceeds open allocation %d of %s",
		e.Requested, e.SKU, e.WarehouseCode, e.Open, e.Reservation)
}

// ReleaseExceedsOpenError means a partial release names more than is open.
type ReleaseExceedsOpenError struct {
	Reservation string
	SKU         string
	Requested   int64
	Open        int64
}

// Error describes the failure.
func (e *ReleaseExceedsOpenError) Error() string {
	return fmt.Sprintf("release of %d %s exceeds open quantity %d of %s", e.Requested, e.SKU, e.Open, e.Reservation)
}

// HoldTTLTooLongError means a hold TTL exceeds the server maximum.
type HoldTTLTooLongError struct{ Max time.Duration }

// Error describes the failure.
func (e *HoldTTLTooLongError) Error() string { return fmt.Sprintf("hold TTL longer than %s", e.Max) }

// Is makes HoldTTLTooLongError match ErrInvalidArgument.
func (e *HoldTTLTooLongError) Is(target error) bool { return target == ErrInvalidArgument }
