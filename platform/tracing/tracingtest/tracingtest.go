// Package tracingtest is an in-process OTLP/gRPC trace receiver for tests
// that check what Transload binaries export: point a binary's
// OTEL_EXPORTER_OTLP_ENDPOINT at [Receiver.Endpoint], exercise it, and
// wait for the spans that must arrive.
//
//	rcv := tracingtest.Start(t)
//	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = rcv.Endpoint()
//	... run the binary, make a call ...
//	span := rcv.WaitFor(t, 10*time.Second, "order's CreateOrder span", func(s tracingtest.Span) bool {
//		return s.Service == "order" && s.Name == "transload.order.v1.OrderService/CreateOrder"
//	})
//	trace := rcv.Trace(span.TraceID) // every span of that trace, all services
//
// Exporters batch spans: a span arrives when the batch timer fires (5s by
// default; OTEL_BSP_SCHEDULE_DELAY in milliseconds, see [Env]) or when
// the exporter shuts down.
package tracingtest

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"

	"github.com/transload/transload/platform/testharness/wait"
)

// Span is one received span, flattened for matching.
type Span struct {
	// Service is the service.name resource attribute of the exporter.
	Service string
	// Name is the span name, e.g. "transload.order.v1.OrderService/CreateOrder"
	// for an otelgrpc span.
	Name string
	// TraceID, SpanID and ParentSpanID are lower-case hex; ParentSpanID
	// is empty for a root span.
	TraceID, SpanID, ParentSpanID string
	// Kind is server, client, producer, consumer or internal.
	Kind tracepb.Span_SpanKind
	// Attributes holds each attribute's value as text (strings as they
	// are, numbers and booleans formatted, other values in protobuf text
	// form).
	Attributes map[string]string
	// Proto is the span as received.
	Proto *tracepb.Span
}

// String names the span for failure messages: "service/name trace/span".
func (s Span) String() string {
	return s.Service + "/" + s.Name + " " + s.TraceID + "/" + s.SpanID
}

// Receiver is an OTLP/gRPC trace collector listening on loopback. It is
// safe for concurrent use.
type Receiver struct {
	coltracepb.UnimplementedTraceServiceServer

	lis  net.Listener
	srv  *grpc.Server
	done chan struct{}

	mu    sync.Mutex
	spans []Span
}

// NewReceiver starts a Receiver on a free loopback port; Close stops it.
// Tests use [Start]; NewReceiver serves a TestMain that starts binaries
// before any test runs.
func NewReceiver() (*Receiver, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("tracingtest: listen: %w", err)
	}
	r := &Receiver{lis: lis, srv: grpc.NewServer(), done: make(chan struct{})}
	coltracepb.RegisterTraceServiceServer(r.srv, r)
	go func() {
		defer close(r.done)
		_ = r.srv.Serve(lis) // ends with Close
	}()
	return r, nil
}

// Start starts a Receiver that stops when t ends.
func Start(t testing.TB) *Receiver {
	t.Helper()
	r, err := NewReceiver()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// Close stops the receiver; exports still in flight are cut off.
func (r *Receiver) Close() {
	r.srv.Stop()
	<-r.done
}

// Addr is the host:port the receiver listens on.
func (r *Receiver) Addr() string { return r.lis.Addr().String() }

// Endpoint is the value for OTEL_EXPORTER_OTLP_ENDPOINT: an http:// URL,
// so the exporter uses plaintext without OTEL_EXPORTER_OTLP_INSECURE.
func (r *Receiver) Endpoint() string { return "http://" + r.Addr() }

// Env returns the environment, as NAME=value entries, that makes a binary
// export to r with a batch delay of 100ms, so spans arrive while it runs
// rather than only when it stops.
func (r *Receiver) Env() []string {
	return []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + r.Endpoint(), "OTEL_BSP_SCHEDULE_DELAY=100"}
}

// Export implements the OTLP trace service: it keeps every span.
func (r *Receiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	var got []Span
	for _, rs := range req.GetResourceSpans() {
		service := attributes(rs.GetResource().GetAttributes())["service.name"]
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				got = append(got, Span{
					Service: service, Name: sp.GetName(),
					TraceID: hex.EncodeToString(sp.GetTraceId()), SpanID: hex.EncodeToString(sp.GetSpanId()),
					ParentSpanID: hex.EncodeToString(sp.GetParentSpanId()),
					Kind:         sp.GetKind(), Attributes: attributes(sp.GetAttributes()), Proto: sp,
				})
			}
		}
	}
	r.mu.Lock()
	r.spans = append(r.spans, got...)
	r.mu.Unlock()
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// Spans returns every span received so far, in arrival order.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// Trace returns the received spans of the trace traceID (hex), from every
// service, in arrival order.
func (r *Receiver) Trace(traceID string) []Span {
	var out []Span
	for _, s := range r.Spans() {
		if s.TraceID == traceID {
			out = append(out, s)
		}
	}
	return out
}

// WaitFor waits until a received span satisfies match and returns the
// first one that does. When timeout passes first it fails t, naming what
// and the spans that did arrive.
func (r *Receiver) WaitFor(t testing.TB, timeout time.Duration, what string, match func(Span) bool) Span {
	t.Helper()
	var found Span
	wait.Eventually(t, timeout, what, func() error {
		spans := r.Spans()
		for _, s := range spans {
			if match(s) {
				found = s
				return nil
			}
		}
		return noMatch(spans)
	})
	return found
}

// noMatch describes the spans received when none matches (at most the
// last 20, so a failure message stays readable).
func noMatch(spans []Span) error {
	if len(spans) == 0 {
		return errors.New("no span received")
	}
	const show = 20
	names := make([]string, 0, show)
	for _, s := range spans[max(0, len(spans)-show):] {
		names = append(names, s.String())
	}
	return fmt.Errorf("none of %d received spans matches; the last: %s", len(spans), strings.Join(names, ", "))
}

// attributes renders OTLP key-values as text.
func attributes(kvs []*commonpb.KeyValue) map[string]string {
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		v := kv.GetValue()
		switch x := v.GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			out[kv.GetKey()] = x.StringValue
		case *commonpb.AnyValue_IntValue:
			out[kv.GetKey()] = fmt.Sprint(x.IntValue)
		case *commonpb.AnyValue_BoolValue:
			out[kv.GetKey()] = fmt.Sprint(x.BoolValue)
		case *commonpb.AnyValue_DoubleValue:
			out[kv.GetKey()] = fmt.Sprint(x.DoubleValue)
		default:
			out[kv.GetKey()] = v.String()
		}
	}
	return out
}
