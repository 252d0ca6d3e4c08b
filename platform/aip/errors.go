package aip

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/apierr"
)

var (
	// ErrInvalidFilter matches every *FilterError under errors.Is, so a
	// domain package can recognise one without naming the type.
	ErrInvalidFilter = errors.New("invalid filter")
	// ErrInvalidPageToken matches every *PageTokenError under errors.Is.
	ErrInvalidPageToken = errors.New("invalid page token")
)

const (
	// ViolationInvalidFilter is the BadRequest violation reason on
	// "filter". common.v1 has no ErrorReason for filters, so the ErrorInfo
	// reason is ERROR_REASON_VALIDATION_FAILED and this names the cause.
	ViolationInvalidFilter = "INVALID_FILTER"
	// ViolationInvalidPageToken is the BadRequest violation reason on
	// "page_token", next to ErrorInfo reason ERROR_REASON_INVALID_PAGE_TOKEN.
	ViolationInvalidPageToken = "INVALID_PAGE_TOKEN"
)

// FilterError is every problem with a filter: syntax (unterminated string,
// missing operator), an unknown field, an operator the field does not
// allow, or a value of the wrong kind. Pos is the byte offset in the filter
// where the problem was found, so a client can point at it.
type FilterError struct {
	Pos int
	Msg string
	// Err is the cause when a Field.Check rejected the value, else nil.
	Err error
}

// Error returns the message and the offset.
func (e *FilterError) Error() string {
	return fmt.Sprintf("filter: %s (at offset %d)", e.Msg, e.Pos)
}

// Is reports whether target is ErrInvalidFilter.
func (e *FilterError) Is(target error) bool { return target == ErrInvalidFilter }

// Unwrap returns the Field.Check error, if any.
func (e *FilterError) Unwrap() error { return e.Err }

// GRPCStatus is InvalidArgument with ErrorInfo reason
// ERROR_REASON_VALIDATION_FAILED and a BadRequest violation on "filter"
// with reason INVALID_FILTER. The message holds only what the caller sent.
func (e *FilterError) GRPCStatus() *status.Status {
	desc := fmt.Sprintf("%s (at offset %d)", e.Msg, e.Pos)
	return status.Convert(apierr.InvalidArgument("filter is invalid: "+desc,
		apierr.FieldViolation{Field: "filter", Description: desc, Reason: ViolationInvalidFilter}))
}

// PageTokenError is every problem with a page token: not one this package
// made, damaged, from an incompatible version, or made for another query
// or caller.
type PageTokenError struct {
	Msg string
}

// Error returns the message.
func (e *PageTokenError) Error() string { return "page_token: " + e.Msg }

// Is reports whether target is ErrInvalidPageToken.
func (e *PageTokenError) Is(target error) bool { return target == ErrInvalidPageToken }

// GRPCStatus is InvalidArgument with ErrorInfo reason
// ERROR_REASON_INVALID_PAGE_TOKEN and a BadRequest violation on
// "page_token", as the common.v1 pagination convention documents.
func (e *PageTokenError) GRPCStatus() *status.Status {
	return apierr.WithViolations(
		apierr.New(codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_INVALID_PAGE_TOKEN, "page_token is invalid: "+e.Msg, nil),
		apierr.FieldViolation{Field: "page_token", Description: e.Msg, Reason: ViolationInvalidPageToken})
}

func tokenError(format string, args ...any) error {
	return &PageTokenError{Msg: fmt.Sprintf(format, args...)}
}
