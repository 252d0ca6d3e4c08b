package grpcclient

import (
	"context"
	"errors"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/breaker"
)

// Class is what an error returned by a call to a dependency says about
// that call. The package documentation holds the table and its reasons.
type Class int

// The classes, from "it worked" to "the caller left". ClassNone is the
// zero value so that a nil error needs no special case.
const (
	// ClassNone is a nil error: the call succeeded.
	ClassNone Class = iota
	// ClassTransient means the dependency failed or was too slow to
	// answer; the same request may succeed later. It counts against the
	// dependency's breaker.
	ClassTransient
	// ClassCircuitOpen means a breaker refused the call without sending
	// it (UNAVAILABLE with reason ERROR_REASON_CIRCUIT_OPEN).
	ClassCircuitOpen
	// ClassConflict means the callee is up and aborted the request because
	// it lost a concurrency race (ABORTED); retrying the whole operation
	// may succeed.
	ClassConflict
	// ClassRejected means the callee answered with a verdict about the
	// request itself; sending it again gets the same answer.
	ClassRejected
	// ClassCallerGone means the caller's own context was cancelled or its
	// deadline passed; the dependency was not given the chance to answer.
	ClassCallerGone
)

var classNames = [...]string{
	ClassNone:        "none",
	ClassTransient:   "transient",
	ClassCircuitOpen: "circuit_open",
	ClassConflict:    "conflict",
	ClassRejected:    "rejected",
	ClassCallerGone:  "caller_gone",
}

// String returns the class's snake_case name, fit for a log attribute or a
// metric label.
func (c Class) String() string {
	if c >= 0 && int(c) < len(classNames) {
		return classNames[c]
	}
	return "Class(" + strconv.Itoa(int(c)) + ")"
}

// DependencyFailure reports whether c says the dependency could not give
// an answer (ClassTransient or ClassCircuitOpen): the moment to degrade,
// e.g. to serve a snapshot, or to queue the work for later.
func (c Class) DependencyFailure() bool {
	return c == ClassTransient || c == ClassCircuitOpen
}

// Retryable reports whether the request has no final answer yet, so that
// sending the same request again (later, or from a caller that still has
// time) may succeed: every class but ClassNone and ClassRejected.
func (c Class) Retryable() bool {
	return c != ClassNone && c != ClassRejected
}

// codeClasses is the table of the package documentation. A code missing
// from it (one a newer peer invented) is ClassTransient, like UNKNOWN.
var codeClasses = map[codes.Code]Class{
	// A non-nil error whose status says OK is a broken peer or adapter.
	codes.OK:                 ClassTransient,
	codes.Canceled:           ClassCallerGone,
	codes.Unknown:            ClassTransient,
	codes.InvalidArgument:    ClassRejected,
	codes.DeadlineExceeded:   ClassTransient,
	codes.NotFound:           ClassRejected,
	codes.AlreadyExists:      ClassRejected,
	codes.PermissionDenied:   ClassRejected,
	codes.ResourceExhausted:  ClassTransient,
	codes.FailedPrecondition: ClassRejected,
	codes.Aborted:            ClassConflict,
	codes.OutOfRange:         ClassRejected,
	codes.Unimplemented:      ClassRejected,
	codes.Internal:           ClassTransient,
	codes.Unavailable:        ClassTransient,
	codes.DataLoss:           ClassTransient,
	codes.Unauthenticated:    ClassRejected,
}

// Classify returns the class of err, an error from a call to a dependency,
// wrapped or not. Without the caller's context it cannot tell whose
// deadline expired, so DEADLINE_EXCEEDED (status or context error) is
// ClassTransient; use ClassifyCtx where the caller's context is at hand.
func Classify(err error) Class {
	if err == nil {
		return ClassNone
	}
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) || se.GRPCStatus() == nil {
		// No status: a transport or adapter error, or a context error
		// that never went through gRPC.
		if errors.Is(err, context.Canceled) {
			return ClassCallerGone
		}
		return ClassTransient
	}
	code := se.GRPCStatus().Code()
	if code == codes.Unavailable && apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_CIRCUIT_OPEN) {
		return ClassCircuitOpen
	}
	if c, ok := codeClasses[code]; ok {
		return c
	}
	return ClassTransient
}

// ClassifyCtx is Classify for a caller that holds ctx, the context it
// received (not one it derived to bound this call): when ctx has ended,
// any error is ClassCallerGone, so the caller's own deadline or
// cancellation is never blamed on the dependency, while a per-call
// deadline the caller added on top of ctx still is. A nil ctx is treated
// as context.Background().
func ClassifyCtx(ctx context.Context, err error) Class {
	if err == nil {
		return ClassNone
	}
	if ctx != nil && breaker.CallerEnded(ctx) {
		return ClassCallerGone
	}
	return Classify(err)
}

// IsDependencyFailure reports whether err says the dependency could not
// give an answer: Classify(err).DependencyFailure().
func IsDependencyFailure(err error) bool {
	return Classify(err).DependencyFailure()
}

// IsTargetFailure reports whether err shows the called target itself
// failing, which is what a breaker guarding that target counts: a
// ClassTransient error, except an answer in which the target names a
// failing dependency of its own (ERROR_REASON_DEPENDENCY_UNAVAILABLE;
// ERROR_REASON_CIRCUIT_OPEN is ClassCircuitOpen already). Such an answer
// proves the target is up; opening the caller's breaker on it would also
// cut off the target's calls that still work. Dial installs it on the
// breakers it builds unless breaker.Settings.IsFailure says otherwise.
func IsTargetFailure(err error) bool {
	return Classify(err) == ClassTransient &&
		!apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_DEPENDENCY_UNAVAILABLE)
}
