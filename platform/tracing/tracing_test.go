package tracing

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
)

// collector is a minimal OTLP/gRPC trace receiver.
type collector struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans map[string]string // span name → service.name
}

func (c *collector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				c.spans[sp.GetName()] = service
			}
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// Tests in this file replace OpenTelemetry globals, so none run in parallel.

func TestExportsToCollectorWhenEndpointSet(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{spans: map[string]string{}}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, col)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	env := map[string]string{EnvEndpoint: "http://" + lis.Addr().String()}
	cfg, err := ConfigFromEnv("inventory", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	tp, shutdown, err := Setup(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, span := otel.Tracer("test").Start(context.Background(), "reserve-stock")
	if !span.IsRecording() || !span.SpanContext().IsValid() {
		t.Fatal("span from exporting provider is not recording")
	}
	span.End()
	if tp != otel.GetTracerProvider() {
		t.Fatal("Setup did not install its provider globally")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if got := col.spans["reserve-stock"]; got != "inventory" {
		t.Fatalf("collector got spans %v, want reserve-stock from inventory", col.spans)
	}
}

func TestNoopWithoutEndpointStillPropagates(t *testing.T) {
	cfg, err := ConfigFromEnv("order", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	_, shutdown, err := Setup(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	_, span := otel.Tracer("test").Start(context.Background(), "x")
	if span.IsRecording() {
		t.Fatal("no-op provider records spans")
	}
	// An incoming W3C traceparent is still carried through to outgoing calls.
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	in := propagation.MapCarrier{"traceparent": tp}
	ctx := otel.GetTextMapPropagator().Extract(context.Background(), in)
	out := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, out)
	if out["traceparent"] != tp {
		t.Fatalf("propagated traceparent %q, want %q", out["traceparent"], tp)
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{EnvEndpoint: "otel:4317", EnvInsecure: "true", EnvSamplerArg: "0.25", EnvServiceName: "renamed"}
	cfg, err := ConfigFromEnv("svc", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := Config{ServiceName: "renamed", Endpoint: "otel:4317", Insecure: true, SampleRatio: 0.25}
	if cfg != want {
		t.Fatalf("cfg = %+v, want %+v", cfg, want)
	}
	for k, v := range map[string]string{EnvInsecure: "maybe", EnvSamplerArg: "2"} {
		if _, err := ConfigFromEnv("svc", func(key string) string {
			if key == k {
				return v
			}
			return ""
		}); err == nil {
			t.Errorf("%s=%s accepted", k, v)
		}
	}
}
