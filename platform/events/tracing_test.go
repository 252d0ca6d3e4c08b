package events_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/testharness/natstest"
)

// TestTraceFollowsTheEvent checks the span chain of one event: the
// producer's span → the relay's publish span → the consumer's process
// span, with the handler running inside the last.
func TestTraceFollowsTheEvent(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	producerDB := openSQLite(t)
	if err := outbox.Migrate(ctx, producerDB); err != nil {
		t.Fatal(err)
	}
	consumerDB := openSQLite(t)
	s := natstest.Start(t)
	_, js := natstest.Connect(t, s)
	ensureStream(t, js)

	handlerSpan := make(chan trace.SpanContext, 1)
	c := newConsumer(t, consumerDB, js, events.ConsumerConfig{Name: "traced"},
		func(ctx context.Context, _ *sql.Tx, _ events.Event) error {
			handlerSpan <- trace.SpanContextFromContext(ctx)
			return nil
		}, nil)
	runConsumer(t, c)

	wctx, writeSpan := tp.Tracer("test").Start(ctx, "create order")
	err := producerDB.InTx(wctx, func(tx *sql.Tx) error {
		_, err := outbox.Write(wctx, tx, producerDB.Dialect(), outbox.Event{
			AggregateType: "thing", AggregateID: "a", Subject: testSubject, Payload: wrapperspb.String("v"),
		})
		return err
	})
	writeSpan.End()
	if err != nil {
		t.Fatal(err)
	}
	relay, err := outbox.NewRelay(producerDB, js)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := relay.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}

	var inHandler trace.SpanContext
	select {
	case inHandler = <-handlerSpan:
	case <-time.After(10 * time.Second):
		t.Fatal("handler not called")
	}
	// The process span ends just after the handler returns.
	var publish, process sdktrace.ReadOnlySpan
	eventually(t, 5*time.Second, "publish and process spans ended", func() bool {
		for _, sp := range rec.Ended() {
			switch sp.Name() {
			case "publish " + testSubject:
				publish = sp
			case "process " + testSubject:
				process = sp
			}
		}
		return publish != nil && process != nil
	})
	if publish == nil || process == nil {
		t.Fatalf("spans: publish %v, process %v; want both", publish != nil, process != nil)
	}
	if publish.Parent().SpanID() != writeSpan.SpanContext().SpanID() || publish.SpanKind() != trace.SpanKindProducer {
		t.Errorf("publish span parent = %s kind %s, want the producer's span %s",
			publish.Parent().SpanID(), publish.SpanKind(), writeSpan.SpanContext().SpanID())
	}
	if process.Parent().SpanID() != publish.SpanContext().SpanID() || process.SpanKind() != trace.SpanKindConsumer {
		t.Errorf("process span parent = %s kind %s, want the publish span %s",
			process.Parent().SpanID(), process.SpanKind(), publish.SpanContext().SpanID())
	}
	if inHandler.SpanID() != process.SpanContext().SpanID() || inHandler.TraceID() != writeSpan.SpanContext().TraceID() {
		t.Errorf("handler span = %s/%s, want process span %s in trace %s", inHandler.TraceID(), inHandler.SpanID(),
			process.SpanContext().SpanID(), writeSpan.SpanContext().TraceID())
	}
}
