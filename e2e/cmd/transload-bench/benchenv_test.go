package main

import (
	"slices"
	"testing"

	"github.com/transload/transload/deploy/local/launcher"
)

// TestBenchEnvTurnsOffRateLimits keeps the bench measuring capacity: the
// gateway's per-key and per-customer order limits would otherwise turn
// the order scenarios into a measure of the policy (429s).
func TestBenchEnvTurnsOffRateLimits(t *testing.T) {
	for _, want := range []string{"RATE_LIMIT_RPS=0", "ORDER_RATE_LIMIT_PER_CUSTOMER=0"} {
		if !slices.Contains(benchEnv[launcher.Gateway], want) {
			t.Errorf("benchEnv[gateway] = %v, want it to contain %s", benchEnv[launcher.Gateway], want)
		}
	}
}

// TestRateFlag: -rate fixes the sustained run's arrival rate (two runs at
// one rate compare memory); a negative rate is refused.
func TestRateFlag(t *testing.T) {
	f, err := parseFlags([]string{"-rate", "40"})
	if err != nil || f.rate != 40 {
		t.Fatalf("parseFlags(-rate 40) = %v, %v; want rate 40", f.rate, err)
	}
	if _, err := parseFlags([]string{"-rate", "-1"}); err == nil {
		t.Fatal("parseFlags(-rate -1) accepted")
	}
}
