package tracingtest_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/transload/transload/platform/tracing/tracingtest"
)

// provider exports to endpoint as service, without touching the global
// provider, so the test can run in parallel.
func provider(t *testing.T, endpoint, service string) *sdktrace.TracerProvider {
	t.Helper()
	exp, err := otlptracegrpc.New(t.Context(), otlptracegrpc.WithEndpointURL(endpoint))
	if err != nil {
		t.Fatal(err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service))))
}

func TestReceiverCollectsSpans(t *testing.T) {
	t.Parallel()
	rcv := tracingtest.Start(t)
	tp := provider(t, rcv.Endpoint(), "inventory")

	ctx, parent := tp.Tracer("test").Start(context.Background(), "ReserveStock", trace.WithSpanKind(trace.SpanKindServer))
	_, child := tp.Tracer("test").Start(ctx, "lock stock levels",
		trace.WithAttributes(attribute.String("sku", "SKU-1"), attribute.Int64("lines", 3), attribute.Bool("backorder", true)))
	child.End()
	parent.End()
	// Shutdown flushes the batch now instead of after the batch delay.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tp.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}

	got := rcv.WaitFor(t, 10*time.Second, "the child span", func(s tracingtest.Span) bool { return s.Name == "lock stock levels" })
	wantTrace := child.SpanContext().TraceID().String()
	if got.Service != "inventory" || got.TraceID != wantTrace || got.SpanID != child.SpanContext().SpanID().String() ||
		got.ParentSpanID != parent.SpanContext().SpanID().String() {
		t.Errorf("child span %+v, want service inventory, trace %s, parent %s", got, wantTrace, parent.SpanContext().SpanID())
	}
	for k, v := range map[string]string{"sku": "SKU-1", "lines": "3", "backorder": "true"} {
		if got.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, got.Attributes[k], v)
		}
	}
	spans := rcv.Trace(wantTrace)
	if len(spans) != 2 {
		t.Fatalf("trace %s has %d spans, want 2: %v", wantTrace, len(spans), spans)
	}
	for _, s := range spans {
		if s.Name == "ReserveStock" && (s.ParentSpanID != "" || s.Kind != tracepb.Span_SPAN_KIND_SERVER) {
			t.Errorf("root span %+v, want no parent and kind server", s)
		}
	}
	if n := len(rcv.Spans()); n != 2 {
		t.Errorf("Spans() has %d spans, want 2", n)
	}
	if rcv.Trace("00000000000000000000000000000001") != nil {
		t.Error("Trace of an unknown id is not empty")
	}
}

func TestEnvAndEndpoint(t *testing.T) {
	t.Parallel()
	rcv := tracingtest.Start(t)
	if want := "http://" + rcv.Addr(); rcv.Endpoint() != want {
		t.Errorf("Endpoint() = %q, want %q", rcv.Endpoint(), want)
	}
	env := rcv.Env()
	if len(env) != 2 || env[0] != "OTEL_EXPORTER_OTLP_ENDPOINT="+rcv.Endpoint() || env[1] != "OTEL_BSP_SCHEDULE_DELAY=100" {
		t.Errorf("Env() = %q", env)
	}
}
