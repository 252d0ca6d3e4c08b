package tracing

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/transload/transload/platform/config"
	"github.com/transload/transload/platform/tracing/tracingtest"
)

// Tests in this file replace OpenTelemetry globals, so none run in parallel.

func TestExportsToCollectorWhenEndpointSet(t *testing.T) {
	rcv := tracingtest.Start(t)
	env := map[string]string{EnvEndpoint: rcv.Endpoint()}
	cfg, err := settings(env).Config("inventory")
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
	rcv.WaitFor(t, 10*time.Second, "reserve-stock from inventory", func(s tracingtest.Span) bool {
		return s.Name == "reserve-stock" && s.Service == "inventory"
	})
}

func TestNoopWithoutEndpointStillPropagates(t *testing.T) {
	cfg, err := settings(nil).Config("order")
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

// settings loads Settings from env as svcmain.Start does.
func settings(env map[string]string) Settings {
	var s Settings
	if err := config.Load(&s, func(k string) string { return env[k] }); err != nil {
		panic(err)
	}
	return s
}

func TestSettingsFromEnv(t *testing.T) {
	env := map[string]string{EnvEndpoint: "otel:4317", EnvInsecure: "true", EnvSamplerArg: "0.25", EnvServiceName: "renamed"}
	cfg, err := settings(env).Config("svc")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{ServiceName: "renamed", Endpoint: "otel:4317", Insecure: true, SampleRatio: 0.25}
	if cfg != want {
		t.Fatalf("cfg = %+v, want %+v", cfg, want)
	}
	for k, v := range map[string]string{EnvInsecure: "maybe", EnvSamplerArg: "2"} {
		var s Settings
		err := config.Load(&s, func(key string) string {
			if key == k {
				return v
			}
			return ""
		})
		if err == nil {
			_, err = s.Config("svc")
		}
		if err == nil {
			t.Errorf("%s=%s accepted", k, v)
		}
	}
}

func TestSettingsLoadedByConfig(t *testing.T) {
	var s Settings
	if err := config.Load(&s, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	cfg, err := s.Config("order")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Config{ServiceName: "order", SampleRatio: 1}, cfg); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}

	env := map[string]string{EnvEndpoint: " otel:4317 ", EnvInsecure: "true", EnvSamplerArg: "0.1", EnvServiceName: "order-eu"}
	s = Settings{}
	if err := config.Load(&s, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if cfg, err = s.Config("order"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Config{ServiceName: "order-eu", Endpoint: "otel:4317", Insecure: true, SampleRatio: 0.1}, cfg); diff != "" {
		t.Errorf("from the environment (-want +got):\n%s", diff)
	}

	for _, r := range []float64{-0.1, 1.5} {
		if _, err := (Settings{SampleRatio: r}).Config("order"); err == nil {
			t.Errorf("sample ratio %v accepted", r)
		}
	}
}
