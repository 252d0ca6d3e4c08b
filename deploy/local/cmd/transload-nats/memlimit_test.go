package main

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestMemoryLimit: NATS_MEMORY_LIMIT_MB becomes the runtime's soft memory
// limit (issue #12's 150 MB per process), a GOMEMLIMIT in the environment
// wins over it, 0 leaves the runtime alone and a negative value is refused.
// Not parallel: the limit is process-wide, and each case restores it.
func TestMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	noEnv := func(string) string { return "" }
	for _, tc := range []struct {
		name   string
		mb     int64
		getenv func(string) string
		want   int64
	}{
		{"default", 100, noEnv, 100 << 20},
		{"off", 0, noEnv, math.MaxInt64},
		{"GOMEMLIMIT wins", 100, func(k string) string {
			if k == "GOMEMLIMIT" {
				return "1GiB"
			}
			return ""
		}, math.MaxInt64},
	} {
		debug.SetMemoryLimit(math.MaxInt64)
		got, err := applyMemoryLimit(Config{MemoryLimitMB: tc.mb}, tc.getenv)
		if err != nil || got != tc.want || debug.SetMemoryLimit(-1) != tc.want {
			t.Errorf("%s: applyMemoryLimit = %d, %v; runtime limit %d; want %d", tc.name, got, err, debug.SetMemoryLimit(-1), tc.want)
		}
	}
	if _, err := applyMemoryLimit(Config{MemoryLimitMB: -1}, noEnv); err == nil {
		t.Error("NATS_MEMORY_LIMIT_MB=-1 accepted")
	}
}
