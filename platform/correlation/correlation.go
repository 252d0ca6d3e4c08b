// Package correlation carries the request correlation id that ties together
// every log line, RPC, event and adapter call caused by one inbound request.
//
// The id travels as the x-correlation-id gRPC metadata key (and HTTP header),
// and inside a process as a context value.
package correlation

import (
	"context"

	"github.com/google/uuid"
)

// MetadataKey is the gRPC metadata key and HTTP header name that carries the
// correlation id between processes. gRPC metadata keys are lower case.
const MetadataKey = "x-correlation-id"

// MaxLen is the longest inbound correlation id accepted; longer or malformed
// ids are replaced so a caller cannot inject arbitrary data into logs.
const MaxLen = 128

type ctxKey struct{}

// New returns a fresh correlation id (a random UUID in canonical form).
func New() string {
	return uuid.NewString()
}

// WithID returns a copy of ctx carrying id as the correlation id.
func WithID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the correlation id stored in ctx and whether one was set.
func FromContext(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(ctxKey{}).(string)
	return id, ok && id != ""
}

// ID returns the correlation id stored in ctx, or "" when there is none.
func ID(ctx context.Context) string {
	id, _ := FromContext(ctx)
	return id
}

// Ensure returns ctx unchanged when it already carries a correlation id, and
// otherwise a copy carrying a new one. It also returns the id.
func Ensure(ctx context.Context) (context.Context, string) {
	if id, ok := FromContext(ctx); ok {
		return ctx, id
	}
	id := New()
	return WithID(ctx, id), id
}

// Valid reports whether id is acceptable as an inbound correlation id:
// 1 to MaxLen characters from [A-Za-z0-9._:-]. Anything else (control
// characters, spaces, JSON metacharacters) could corrupt log lines.
func Valid(id string) bool {
	if id == "" || len(id) > MaxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}
