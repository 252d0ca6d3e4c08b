package desk

import (
	"errors"
	"strconv"
	"strings"
)

// Errors of the desk, mapped to statuses by the API.
var (
	// ErrNotFound: no exception, dead letter or audit record by that name.
	ErrNotFound = errors.New("desk: not found")
	// ErrAlreadyResolved: the exception is RESOLVED, which is terminal.
	ErrAlreadyResolved = errors.New("desk: exception already resolved")
	// ErrIdempotencyKeyReused: the request id was used before with another
	// payload.
	ErrIdempotencyKeyReused = errors.New("desk: request id reused with another payload")
	// ErrInvalidEvent: an event to project lacks what the desk needs (a
	// kind, a resource); retrying cannot fix it.
	ErrInvalidEvent = errors.New("desk: invalid event")
)

// DeadLetterName returns the resource name of the dead letter with
// dead-letter stream sequence seq.
func DeadLetterName(seq uint64) string { return "deadLetters/" + strconv.FormatUint(seq, 10) }

// ParseDeadLetterName returns the sequence in "deadLetters/{seq}"; ok is
// false for any other shape (such a dead letter cannot exist).
func ParseDeadLetterName(name string) (seq uint64, ok bool) {
	rest, found := strings.CutPrefix(name, "deadLetters/")
	if !found {
		return 0, false
	}
	seq, err := strconv.ParseUint(rest, 10, 64)
	return seq, err == nil && seq > 0
}

// IsNotFound reports whether err is or wraps ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
