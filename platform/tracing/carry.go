package tracing

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
)

// Traceparent returns the W3C traceparent of ctx's span, "" when ctx
// carries no valid span. Store it with durable work that runs later (a
// queue entry, like the outbox stores it with an event), so the work can
// continue the trace of the request that caused it.
func Traceparent(ctx context.Context) string {
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	return carrier.Get("traceparent")
}

// WithTraceparent returns ctx carrying the remote span context of
// traceparent, so spans and outbound calls made with it join that trace.
// An empty or malformed traceparent leaves ctx as it is.
func WithTraceparent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}
