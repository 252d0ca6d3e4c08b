package svcmain

import (
	"errors"
	"io"
	"log/slog"
	"runtime/debug"
	"testing"

	"github.com/transload/transload/platform/config"
)

// TestMemoryLimitSetting: Start sets MEMORY_LIMIT_MB (default
// DefaultMemoryLimitMB) as the runtime's soft memory limit, leaves it
// alone for 0 or when GOMEMLIMIT is set, and Close puts back the limit it
// found. Not parallel: the limit is process-wide (and Start replaces
// slog's default).
func TestMemoryLimitSetting(t *testing.T) {
	const before = int64(3 << 30) // a limit no case sets
	prev := debug.SetMemoryLimit(before)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	prevLog := slog.Default()
	t.Cleanup(func() { slog.SetDefault(prevLog) })

	for _, tc := range []struct {
		name string
		env  map[string]string
		want int64
	}{
		{"default", nil, DefaultMemoryLimitMB << 20},
		{"set", map[string]string{"MEMORY_LIMIT_MB": "200"}, 200 << 20},
		{"zero turns it off", map[string]string{"MEMORY_LIMIT_MB": "0"}, before},
		{"GOMEMLIMIT wins", map[string]string{"MEMORY_LIMIT_MB": "200", "GOMEMLIMIT": "1GiB"}, before},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg serviceConfig
			rt, err := Start(t.Context(), "order", func(k string) string { return tc.env[k] }, io.Discard, &cfg)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			if got := debug.SetMemoryLimit(-1); got != tc.want {
				t.Errorf("memory limit after Start = %d, want %d", got, tc.want)
			}
			if err := rt.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if got := debug.SetMemoryLimit(-1); got != before {
				t.Errorf("memory limit after Close = %d, want %d (the one before Start)", got, before)
			}
		})
	}

	for _, bad := range []string{"-1", "8796093022208"} {
		var cfg serviceConfig
		_, err := Start(t.Context(), "order", func(k string) string {
			if k == "MEMORY_LIMIT_MB" {
				return bad
			}
			return ""
		}, io.Discard, &cfg)
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Var != "MEMORY_LIMIT_MB" {
			t.Errorf("MEMORY_LIMIT_MB=%s: Start error %v, want a FieldError for MEMORY_LIMIT_MB", bad, err)
		}
		if got := debug.SetMemoryLimit(-1); got != before {
			t.Errorf("MEMORY_LIMIT_MB=%s: memory limit %d after the refused Start, want %d", bad, got, before)
		}
	}
}

// TestMemoryLimitDefaultMatchesTheTag: the documented constant is the
// default the environment gets.
func TestMemoryLimitDefaultMatchesTheTag(t *testing.T) {
	var cfg serviceConfig
	if err := LoadConfig("order", func(string) string { return "" }, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.MemoryLimitMB != DefaultMemoryLimitMB {
		t.Errorf("MEMORY_LIMIT_MB default %d, DefaultMemoryLimitMB %d", cfg.MemoryLimitMB, DefaultMemoryLimitMB)
	}
}
