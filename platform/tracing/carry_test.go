package tracing

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func TestTraceparentRoundTrip(t *testing.T) {
	t.Parallel()
	if got := Traceparent(context.Background()); got != "" {
		t.Fatalf("Traceparent without a span = %q, want empty", got)
	}
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	tp := Traceparent(ctx)
	if tp != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Fatalf("Traceparent = %q", tp)
	}
	back := trace.SpanContextFromContext(WithTraceparent(context.Background(), tp))
	if back.TraceID() != tid || back.SpanID() != sid || !back.IsRemote() || !back.IsSampled() {
		t.Fatalf("WithTraceparent gave %+v, want the remote span %s/%s", back, tid, sid)
	}
	for _, bad := range []string{"", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"} {
		if got := trace.SpanContextFromContext(WithTraceparent(context.Background(), bad)); got.IsValid() {
			t.Errorf("WithTraceparent(%q) gave a valid span context %+v", bad, got)
		}
	}
}
