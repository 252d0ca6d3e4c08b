// Package logging builds the structured log/slog JSON loggers every
// Transload binary uses, and a handler that stamps each record with the
// correlation id and trace id found in the record's context.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"github.com/transload/transload/platform/correlation"
)

// Attribute keys added to records. They are stable: dashboards and log
// queries depend on them.
const (
	KeyService       = "service"
	KeyCorrelationID = "correlation_id"
	KeyTraceID       = "trace_id"
	KeySpanID        = "span_id"
)

// New returns a JSON logger writing to w at the given level, with a
// service attribute on every record and correlation/trace ids taken from the
// context passed to the *Context logging methods (InfoContext and friends).
func New(w io.Writer, service string, level slog.Leveler) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	return slog.New(NewContextHandler(h)).With(slog.String(KeyService, service))
}

// ParseLevel parses debug, info, warn or error (case-insensitive) into a
// slog.Level.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(s))); err != nil {
		return 0, fmt.Errorf("logging: parse level %q: %w", s, err)
	}
	return l, nil
}

// ContextHandler is a slog.Handler that adds correlation_id, trace_id and
// span_id attributes from the record's context before passing it on.
type ContextHandler struct {
	next slog.Handler
}

var _ slog.Handler = (*ContextHandler)(nil)

// NewContextHandler wraps next. Wrapping a *ContextHandler again returns it
// unchanged so the ids are never added twice.
func NewContextHandler(next slog.Handler) *ContextHandler {
	if ch, ok := next.(*ContextHandler); ok {
		return ch
	}
	return &ContextHandler{next: next}
}

// WithContextIDs returns l with its handler wrapped in a ContextHandler
// (unless it already is one), so loggers handed in by callers still get
// correlation and trace ids.
func WithContextIDs(l *slog.Logger) *slog.Logger {
	if _, ok := l.Handler().(*ContextHandler); ok {
		return l
	}
	return slog.New(NewContextHandler(l.Handler()))
}

// Enabled reports whether the wrapped handler handles records at level.
func (h *ContextHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle adds the context ids to r and passes it to the wrapped handler.
func (h *ContextHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if id, ok := correlation.FromContext(ctx); ok {
			r.AddAttrs(slog.String(KeyCorrelationID, id))
		}
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			r.AddAttrs(slog.String(KeyTraceID, sc.TraceID().String()), slog.String(KeySpanID, sc.SpanID().String()))
		}
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs returns a ContextHandler whose wrapped handler has attrs.
func (h *ContextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &ContextHandler{next: h.next.WithAttrs(attrs)}
}

// WithGroup returns a ContextHandler whose wrapped handler opens group name.
func (h *ContextHandler) WithGroup(name string) slog.Handler {
	return &ContextHandler{next: h.next.WithGroup(name)}
}
