// Package tracing installs OpenTelemetry tracing for a Transload binary:
// an OTLP/gRPC exporter when OTEL_EXPORTER_OTLP_ENDPOINT is set and a no-op
// tracer otherwise, plus the W3C trace-context and baggage propagators in
// both cases (so trace ids still flow through a service that does not export).
//
// The otelgrpc stats handlers installed by grpcserver and grpcclient use the
// global provider and propagator that Setup installs.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Environment variables of [Settings] (the standard OpenTelemetry names).
const (
	EnvEndpoint    = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvInsecure    = "OTEL_EXPORTER_OTLP_INSECURE"
	EnvSamplerArg  = "OTEL_TRACES_SAMPLER_ARG"
	EnvServiceName = "OTEL_SERVICE_NAME"
)

// Config says where and how to export traces.
type Config struct {
	// ServiceName is the service.name resource attribute.
	ServiceName string
	// ServiceVersion is the service.version resource attribute (optional).
	ServiceVersion string
	// Endpoint is the OTLP/gRPC collector, as a URL ("http://otel:4317",
	// "https://otel:4317") or host:port. Empty disables exporting.
	Endpoint string
	// Insecure uses plaintext for a host:port Endpoint (a URL's scheme
	// decides on its own).
	Insecure bool
	// SampleRatio is the fraction of new traces sampled (0..1); child spans
	// follow their parent's decision.
	SampleRatio float64
}

// Settings is the tracing part of a binary's configuration, read by
// platform/config from the standard OpenTelemetry variables (svcmain.Base
// holds it), so the tracing settings are loaded, validated and logged
// with the rest of the configuration.
type Settings struct {
	// Endpoint is the OTLP/gRPC collector (see [Config.Endpoint]); empty
	// disables exporting.
	Endpoint string `env:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	// Insecure uses plaintext for a host:port Endpoint.
	Insecure bool `env:"OTEL_EXPORTER_OTLP_INSECURE" default:"false"`
	// SampleRatio is the fraction of new traces sampled, 0 to 1.
	SampleRatio float64 `env:"OTEL_TRACES_SAMPLER_ARG" default:"1"`
	// ServiceName overrides the service name given to [Settings.Config].
	ServiceName string `env:"OTEL_SERVICE_NAME"`
}

// Config returns the exporter configuration of s for service (replaced by
// s.ServiceName when set). A SampleRatio outside 0..1 is an error naming
// its variable.
func (s Settings) Config(service string) (Config, error) {
	if s.SampleRatio < 0 || s.SampleRatio > 1 || math.IsNaN(s.SampleRatio) {
		return Config{}, fmt.Errorf("tracing: %s: want a ratio between 0 and 1, got %v", EnvSamplerArg, s.SampleRatio)
	}
	cfg := Config{ServiceName: service, Endpoint: strings.TrimSpace(s.Endpoint), Insecure: s.Insecure, SampleRatio: s.SampleRatio}
	if name := strings.TrimSpace(s.ServiceName); name != "" {
		cfg.ServiceName = name
	}
	return cfg, nil
}

// Shutdown flushes pending spans and stops the exporter. It honours ctx's
// deadline; main should give it a few seconds.
type Shutdown func(context.Context) error

// Setup installs the global tracer provider and propagator described by cfg
// and returns the function that flushes and stops them. With an empty
// Endpoint the provider is a no-op and Shutdown does nothing.
func Setup(ctx context.Context, cfg Config) (trace.TracerProvider, Shutdown, error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if cfg.Endpoint == "" {
		tp := noop.NewTracerProvider()
		otel.SetTracerProvider(tp)
		return tp, func(context.Context) error { return nil }, nil
	}

	opts := []otlptracegrpc.Option{otlptracegrpc.WithTimeout(10 * time.Second)}
	if strings.Contains(cfg.Endpoint, "://") {
		opts = append(opts, otlptracegrpc.WithEndpointURL(cfg.Endpoint))
	} else {
		opts = append(opts, otlptracegrpc.WithEndpoint(cfg.Endpoint))
		if cfg.Insecure {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
	}
	exp, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: otlp exporter for %s: %w", cfg.Endpoint, err)
	}

	attrs := []attribute.KeyValue{attribute.String("service.name", cfg.ServiceName)}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.ServiceVersion))
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attrs...))
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("tracing: resource: %w", err), exp.Shutdown(ctx))
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
	)
	otel.SetTracerProvider(tp)
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		slog.Warn("opentelemetry error", slog.Any("error", err))
	}))
	return tp, tp.Shutdown, nil
}
