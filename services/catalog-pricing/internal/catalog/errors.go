package catalog

import (
	"errors"
	"fmt"
)

// Sentinel errors of the catalog domain. grpcapi/errors.go maps each to a
// gRPC status with the matching catalog.v1 ErrorReason.
var (
	// ErrProductNotFound: the product is not in the catalog version read.
	ErrProductNotFound = errors.New("product not found")
	// ErrVersionNotFound: the catalog version does not exist (or nothing
	// has been published yet for "current").
	ErrVersionNotFound = errors.New("catalog version not found")
	// ErrVersionConflict: PublishCatalog's expected current version did not
	// match.
	ErrVersionConflict = errors.New("catalog version conflict")
	// ErrIdempotencyKeyReused: a request id was reused with another payload.
	ErrIdempotencyKeyReused = errors.New("request id reused with a different payload")
)

// NotFoundError says which product or version was missing; it wraps
// ErrProductNotFound or ErrVersionNotFound.
type NotFoundError struct {
	Err     error
	SKU     string
	Version string // "catalogVersions/..." as requested or resolved
}

// Error describes the NotFoundError.
func (e *NotFoundError) Error() string {
	if e.SKU != "" {
		return fmt.Sprintf("%s: %s in %s", e.Err, e.SKU, e.Version)
	}
	return fmt.Sprintf("%s: %s", e.Err, e.Version)
}

// Unwrap returns the sentinel.
func (e *NotFoundError) Unwrap() error { return e.Err }

// ConflictError is ErrVersionConflict with the versions involved.
type ConflictError struct {
	Expected, Current int64
}

// Error describes the ConflictError.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s: expected %d, current %d", ErrVersionConflict, e.Expected, e.Current)
}

// Unwrap returns ErrVersionConflict.
func (e *ConflictError) Unwrap() error { return ErrVersionConflict }

// FieldError is a validation problem of one field of an import row or a
// request; Field is the path ("product.title", "catalog_version").
type FieldError struct {
	Field   string
	Message string
}

// Error describes the FieldError.
func (e *FieldError) Error() string { return e.Field + ": " + e.Message }
