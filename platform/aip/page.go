package aip

import (
	"github.com/transload/transload/platform/apierr"
)

const (
	// DefaultPageSize is the page size for page_size 0 in the common.v1
	// pagination convention.
	DefaultPageSize int32 = 50
	// MaxPageSize is the largest page unless a method documents another.
	MaxPageSize int32 = 500
)

// ClampPageSize returns the number of items to put on a page (AIP-158):
// def for 0, maxSize for anything above maxSize, requested otherwise. The result
// is at least 1, so a handler can fetch size+1 rows and slice without
// checks.
//
// A negative size is a client error the contracts reject before the
// handler runs (protovalidate `gte: 0` on every page_size); ClampPageSize
// treats one that slips through as 0. Where no such rule guards the field,
// call ValidatePageSize first.
func ClampPageSize(requested, def, maxSize int32) int32 {
	n := requested
	if n <= 0 {
		n = def
	}
	return max(min(n, maxSize), 1)
}

// ValidatePageSize returns InvalidArgument on "page_size" for a negative
// size, worded as the protovalidate rule `gte: 0` words it, so a client
// sees the same error whichever layer caught it.
func ValidatePageSize(requested int32) error {
	if requested >= 0 {
		return nil
	}
	const desc = "value must be greater than or equal to 0"
	return apierr.InvalidArgument("request is invalid: page_size: "+desc,
		apierr.FieldViolation{Field: "page_size", Description: desc, Reason: "INT32_GTE"})
}

// KeysetPage finishes a keyset-paged list. rows were fetched with a limit
// of size+1 in the list's order, after the keys DecodePageToken returned;
// KeysetPage keeps the first size and, when the extra row shows there is
// more, returns the token that resumes after the last kept row, whose keys
// key returns (the sort columns, ending with a unique one such as the id).
// The token is "" on the last page. A size below 1 is taken as 1.
func KeysetPage[T any](rows []T, size int, q Query, key func(T) []Key) ([]T, string) {
	size = max(size, 1)
	if len(rows) <= size {
		return rows, ""
	}
	rows = rows[:size]
	return rows, EncodePageToken(q, key(rows[size-1])...)
}

// OffsetPage pages a list held in memory (a handful of warehouses, a
// ranked search): it returns items[offset:offset+size] and the token of
// the next page, which carries the pin keys, if any, then the next offset.
// Decode it with DecodePageToken(token, q, &offset), or with the pins
// first: DecodePageToken(token, q, &version, &offset) for a list pinned to
// the version it was read at. An offset outside the list (only a forged
// token has one) gives an empty last page. A size below 1 is taken as 1.
func OffsetPage[T any](items []T, offset, size int, q Query, pin ...Key) ([]T, string) {
	size = max(size, 1)
	start := min(max(offset, 0), len(items))
	end := start + min(size, len(items)-start)
	if end == len(items) {
		return items[start:end], ""
	}
	return items[start:end], EncodePageToken(q, append(pin, KeyOf(end))...)
}
