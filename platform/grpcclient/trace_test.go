package grpcclient_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/grpcserver/grpcservertest"
)

func TestTraceContextPropagates(t *testing.T) {
	// tracing.Setup installs this propagator in every binary.
	otel.SetTextMapPropagator(propagation.TraceContext{})

	// otelgrpc ends the server span after the response is on the wire, so
	// wait for it to end rather than reading a recorder after the call.
	serverSpans := &endNotifier{SpanRecorder: tracetest.NewSpanRecorder(), ended: make(chan sdktrace.ReadOnlySpan, 1)}
	serverTP := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(serverSpans))
	handlerTrace := make(chan trace.TraceID, 1)
	addr := serve(t, &grpcservertest.Probe{Unary: func(ctx context.Context, _ string, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		handlerTrace <- trace.SpanContextFromContext(ctx).TraceID()
		return in, nil
	}}, grpcserver.WithTracerProvider(serverTP))

	clientSpans := tracetest.NewSpanRecorder()
	clientTP := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(clientSpans))
	c := dial(t, addr, grpcclient.WithTracerProvider(clientTP))

	ctx, parent := clientTP.Tracer("test").Start(context.Background(), "checkout")
	if _, err := c.Echo(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	parent.End()

	want := parent.SpanContext().TraceID()
	if got := <-handlerTrace; got != want {
		t.Fatalf("handler trace id %s, want caller's %s", got, want)
	}
	var clientRPC sdktrace.ReadOnlySpan
	for _, s := range clientSpans.Ended() {
		if s.SpanKind() == trace.SpanKindClient {
			clientRPC = s
		}
	}
	if clientRPC == nil || clientRPC.Name() != "transload.platformtest.v1.Probe/Echo" {
		t.Fatalf("no client span for Echo: %v", clientSpans.Ended())
	}
	s := <-serverSpans.ended
	if s.Parent().SpanID() != clientRPC.SpanContext().SpanID() || s.SpanContext().TraceID() != want {
		t.Fatalf("server span parent %s trace %s; want parent %s trace %s",
			s.Parent().SpanID(), s.SpanContext().TraceID(), clientRPC.SpanContext().SpanID(), want)
	}
}

// endNotifier passes each ended server span to a channel.
type endNotifier struct {
	*tracetest.SpanRecorder
	ended chan sdktrace.ReadOnlySpan
}

func (n *endNotifier) OnEnd(s sdktrace.ReadOnlySpan) {
	n.SpanRecorder.OnEnd(s)
	if s.SpanKind() == trace.SpanKindServer {
		n.ended <- s
	}
}
