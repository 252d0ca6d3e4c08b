package order

import (
	"testing"

	"github.com/transload/transload/platform/testharness/leakcheck"
)

// TestMain fails the package if a test leaves a goroutine running (a
// worker or heartbeat not stopped with its context).
func TestMain(m *testing.M) { leakcheck.Main(m) }
