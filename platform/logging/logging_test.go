package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/trace"

	"github.com/transload/transload/platform/correlation"
)

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("log line %q is not JSON: %v", b, err)
	}
	return m
}

func TestNewAddsServiceCorrelationAndTrace(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := New(&buf, "inventory", slog.LevelInfo)

	tid, _ := trace.TraceIDFromHex("0102030405060708090a0b0c0d0e0f10")
	sid, _ := trace.SpanIDFromHex("0102030405060708")
	ctx := trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	ctx = correlation.WithID(ctx, "corr-1")

	l.InfoContext(ctx, "reserved", slog.String("sku", "A-1"))
	got := decode(t, buf.Bytes())
	want := map[string]any{
		"level":          "INFO",
		"msg":            "reserved",
		"service":        "inventory",
		"sku":            "A-1",
		"correlation_id": "corr-1",
		"trace_id":       "0102030405060708090a0b0c0d0e0f10",
		"span_id":        "0102030405060708",
	}
	delete(got, "time")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("log record (-want +got):\n%s", diff)
	}
}

func TestNoIDsWithoutContextValues(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := New(&buf, "order", slog.LevelDebug).WithGroup("g")
	l.Info("plain", "k", 1)
	got := decode(t, buf.Bytes())
	for _, k := range []string{"correlation_id", "trace_id", "span_id"} {
		if _, ok := got[k]; ok {
			t.Errorf("unexpected %s in %v", k, got)
		}
	}
	if got["service"] != "order" {
		t.Errorf("service = %v, want order", got["service"])
	}
}

func TestLevelFiltering(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := New(&buf, "s", slog.LevelWarn)
	l.Info("dropped")
	if buf.Len() != 0 {
		t.Fatalf("info logged at warn level: %s", buf.String())
	}
	l.Warn("kept")
	if buf.Len() == 0 {
		t.Fatal("warn not logged at warn level")
	}
}

func TestWithContextIDsIsIdempotent(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	base := slog.New(slog.NewJSONHandler(&buf, nil))
	l := WithContextIDs(WithContextIDs(base))
	l.InfoContext(correlation.WithID(context.Background(), "c-9"), "x")
	if n := bytes.Count(buf.Bytes(), []byte(`"correlation_id"`)); n != 1 {
		t.Fatalf("correlation_id appears %d times in %s", n, buf.String())
	}
}

func TestParseLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     slog.Level
	}{
		{"lower case", "debug", slog.LevelDebug},
		{"upper case", "INFO", slog.LevelInfo},
		{"surrounding spaces trimmed", " warn ", slog.LevelWarn},
		{"error", "error", slog.LevelError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseLevel(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("ParseLevel(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Error("ParseLevel(loud) succeeded")
	}
}
