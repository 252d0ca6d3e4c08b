// Package apierr is the one place Transload builds and reads rich gRPC
// errors: a google.rpc.Status whose details carry a google.rpc.ErrorInfo
// (domain "transload.dev", reason = the name of an ErrorReason enum value)
// and, for InvalidArgument, a google.rpc.BadRequest with field violations.
//
// Servers build errors with New/Error and the helpers below, adding
// BadRequest, PreconditionFailure or RetryInfo to a New status with
// WithViolations, WithPreconditionFailure and WithRetryDelay; clients read
// them back with ReasonOf, HasReason, Info, FieldViolations,
// PreconditionViolations and RetryDelay, so no business code parses
// messages or touches errdetails.
package apierr

import (
	"errors"
	"log/slog"
	"strings"
	"time"

	"buf.build/go/protovalidate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
)

// Domain is the ErrorInfo domain of every Transload error.
const Domain = "transload.dev"

// Reason names why a call failed. Any generated proto enum value satisfies it
// (its String method returns the value name, e.g.
// commonv1.ErrorReason_ERROR_REASON_CIRCUIT_OPEN), so reasons stay
// governed by the contracts rather than free text.
type Reason interface {
	String() string
}

// Metadata keys used by the helpers in this package.
const (
	MetaTarget = "target" // the dependency (breaker target) that failed
)

// New returns a status with code and message and an ErrorInfo detail with
// reason, Domain and metadata (which may be nil).
func New(code codes.Code, reason Reason, msg string, metadata map[string]string) *status.Status {
	return withDetails(status.New(code, msg), errorInfo(reason, metadata))
}

// Error is New(...).Err().
func Error(code codes.Code, reason Reason, msg string, metadata map[string]string) error {
	return New(code, reason, msg, metadata).Err()
}

func errorInfo(reason Reason, metadata map[string]string) *errdetails.ErrorInfo {
	return &errdetails.ErrorInfo{Reason: reason.String(), Domain: Domain, Metadata: metadata}
}

func withDetails(st *status.Status, details ...protoadapt.MessageV1) *status.Status {
	out, err := st.WithDetails(details...)
	if err != nil {
		// Only possible if a detail cannot be marshalled, which the fixed set
		// of well-known detail types used here never triggers; keep the code
		// and message rather than losing the error.
		slog.Error("apierr: attach status details", slog.Any("error", err))
		return st
	}
	return out
}

// FieldViolation is one invalid request field. Field is a path such as
// "lines[0].quantity"; Reason is an UPPER_SNAKE_CASE cause such as
// "STRING_PATTERN"; Description is a human readable explanation.
type FieldViolation struct {
	Field       string
	Description string
	Reason      string
}

// InvalidArgument returns an InvalidArgument error with reason
// ERROR_REASON_VALIDATION_FAILED and one BadRequest field violation per
// entry of violations.
func InvalidArgument(msg string, violations ...FieldViolation) error {
	return WithViolations(New(codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED, msg, nil),
		violations...).Err()
}

// WithViolations returns st with a google.rpc.BadRequest detail holding
// one field violation per entry of violations, for errors about request
// fields whose reason is more specific than VALIDATION_FAILED (an unknown
// SKU, an invalid page token) or whose code is not InvalidArgument. Build
// st with New so that the BadRequest sits alongside its ErrorInfo; st must
// carry an error code (a status with code OK takes no details and is
// returned as it is).
func WithViolations(st *status.Status, violations ...FieldViolation) *status.Status {
	br := &errdetails.BadRequest{}
	for _, v := range violations {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field: v.Field, Description: v.Description, Reason: v.Reason,
		})
	}
	return withDetails(st, br)
}

// PreconditionViolation is one failed precondition of a request. Type is
// an UPPER_SNAKE_CASE kind such as "OUT_OF_STOCK"; Subject names what
// failed it, such as a SKU; Description is a human readable explanation.
type PreconditionViolation struct {
	Type        string
	Subject     string
	Description string
}

// WithPreconditionFailure returns st with a google.rpc.PreconditionFailure
// detail holding violations, for FailedPrecondition errors that fail on
// several subjects at once (every short line of an order). Build st with
// New so that the detail sits alongside its ErrorInfo; a status with code
// OK takes no details and is returned as it is.
func WithPreconditionFailure(st *status.Status, violations ...PreconditionViolation) *status.Status {
	pf := &errdetails.PreconditionFailure{}
	for _, v := range violations {
		pf.Violations = append(pf.Violations, &errdetails.PreconditionFailure_Violation{
			Type: v.Type, Subject: v.Subject, Description: v.Description,
		})
	}
	return withDetails(st, pf)
}

// WithRetryDelay returns st with a google.rpc.RetryInfo telling the caller
// to wait d before trying again; d <= 0 returns st unchanged, since "retry
// at once" is what a caller does without advice.
func WithRetryDelay(st *status.Status, d time.Duration) *status.Status {
	if d <= 0 {
		return st
	}
	return withDetails(st, &errdetails.RetryInfo{RetryDelay: durationpb.New(d)})
}

// FromValidationError converts a protovalidate validation error into
// InvalidArgument with a field violation per rule violation. The field path
// uses protovalidate's notation ("lines[0].quantity", "labels[\"k\"]");
// the reason is the rule id upper-cased ("string.pattern" → "STRING_PATTERN").
func FromValidationError(verr *protovalidate.ValidationError) error {
	vs := make([]FieldViolation, 0, len(verr.Violations))
	for _, v := range verr.Violations {
		p := v.Proto
		field := protovalidate.FieldPathString(p.GetField())
		vs = append(vs, FieldViolation{
			Field:       field,
			Description: p.GetMessage(),
			Reason:      ruleReason(p.GetRuleId()),
		})
	}
	return InvalidArgument("request is invalid: "+summary(vs), vs...)
}

func summary(vs []FieldViolation) string {
	parts := make([]string, 0, len(vs))
	for _, v := range vs {
		if v.Field == "" {
			parts = append(parts, v.Description)
			continue
		}
		parts = append(parts, v.Field+": "+v.Description)
	}
	return strings.Join(parts, "; ")
}

func ruleReason(ruleID string) string {
	r := strings.NewReplacer(".", "_", "-", "_").Replace(ruleID)
	return strings.ToUpper(r)
}

// Internal returns an Internal error with a generic message and reason
// ERROR_REASON_INTERNAL. The cause belongs in the server log, never in the
// response.
func Internal() error {
	return Error(codes.Internal, commonv1.ErrorReason_ERROR_REASON_INTERNAL, "internal error", nil)
}

// DependencyUnavailable returns Unavailable with reason
// ERROR_REASON_DEPENDENCY_UNAVAILABLE naming target in the metadata.
func DependencyUnavailable(target, msg string) error {
	return Error(codes.Unavailable, commonv1.ErrorReason_ERROR_REASON_DEPENDENCY_UNAVAILABLE, msg,
		map[string]string{MetaTarget: target})
}

// CircuitOpen returns Unavailable with reason ERROR_REASON_CIRCUIT_OPEN
// naming target in the metadata: the call was refused locally, without
// reaching target, because target's breaker is open.
func CircuitOpen(target string) error {
	return Error(codes.Unavailable, commonv1.ErrorReason_ERROR_REASON_CIRCUIT_OPEN,
		"circuit breaker open for "+target, map[string]string{MetaTarget: target})
}

// Unauthenticated returns Unauthenticated with reason
// ERROR_REASON_UNAUTHENTICATED.
func Unauthenticated(msg string) error {
	return Error(codes.Unauthenticated, commonv1.ErrorReason_ERROR_REASON_UNAUTHENTICATED, msg, nil)
}

// PermissionDenied returns PermissionDenied with reason
// ERROR_REASON_PERMISSION_DENIED.
func PermissionDenied(msg string) error {
	return Error(codes.PermissionDenied, commonv1.ErrorReason_ERROR_REASON_PERMISSION_DENIED, msg, nil)
}

// RateLimited returns ResourceExhausted with reason
// ERROR_REASON_RATE_LIMITED and, when retryAfter > 0, a google.rpc.RetryInfo
// telling the caller when to try again.
func RateLimited(msg string, retryAfter time.Duration) error {
	return WithRetryDelay(New(codes.ResourceExhausted, commonv1.ErrorReason_ERROR_REASON_RATE_LIMITED, msg, nil),
		retryAfter).Err()
}

// Canceled returns Canceled, the answer to a call whose caller went away,
// with an ErrorInfo like every other Transload error. The message is fixed:
// the caller is gone and nobody reads it but the log.
func Canceled() error {
	return Error(codes.Canceled, commonv1.ErrorReason_ERROR_REASON_CANCELLED, "request cancelled", nil)
}

// Info returns the ErrorInfo detail of err (any error carrying a gRPC
// status, wrapped or not) or nil when it has none.
func Info(err error) *errdetails.ErrorInfo {
	infos := detailsOf[*errdetails.ErrorInfo](err)
	if len(infos) == 0 {
		return nil
	}
	return infos[0]
}

// ReasonOf returns the ErrorInfo reason of err, or "" when err has none.
func ReasonOf(err error) string {
	return Info(err).GetReason()
}

// HasReason reports whether err carries an ErrorInfo in Domain whose reason
// is reason.
func HasReason(err error, reason Reason) bool {
	info := Info(err)
	return info != nil && info.GetDomain() == Domain && info.GetReason() == reason.String()
}

// FieldViolations returns the BadRequest field violations carried by err,
// or nil.
func FieldViolations(err error) []FieldViolation {
	var out []FieldViolation
	for _, br := range detailsOf[*errdetails.BadRequest](err) {
		for _, fv := range br.GetFieldViolations() {
			out = append(out, FieldViolation{Field: fv.GetField(), Description: fv.GetDescription(), Reason: fv.GetReason()})
		}
	}
	return out
}

// PreconditionViolations returns the PreconditionFailure violations
// carried by err, or nil.
func PreconditionViolations(err error) []PreconditionViolation {
	var out []PreconditionViolation
	for _, pf := range detailsOf[*errdetails.PreconditionFailure](err) {
		for _, v := range pf.GetViolations() {
			out = append(out, PreconditionViolation{Type: v.GetType(), Subject: v.GetSubject(), Description: v.GetDescription()})
		}
	}
	return out
}

// RetryDelay returns the RetryInfo delay carried by err and whether there
// was one.
func RetryDelay(err error) (time.Duration, bool) {
	infos := detailsOf[*errdetails.RetryInfo](err)
	if len(infos) == 0 {
		return 0, false
	}
	return infos[0].GetRetryDelay().AsDuration(), true
}

// detailsOf returns the details of type T carried by err's status, in
// order.
func detailsOf[T any](err error) []T {
	st, ok := statusOf(err)
	if !ok {
		return nil
	}
	var out []T
	for _, d := range st.Details() {
		if v, ok := d.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// statusOf finds a gRPC status in err's chain.
func statusOf(err error) (*status.Status, bool) {
	if err == nil {
		return nil, false
	}
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) {
		return nil, false
	}
	return se.GRPCStatus(), true
}
