package breaker_test

import (
	"testing"

	"github.com/transload/transload/platform/testharness/leakcheck"
)

// TestMain fails the package if a test leaves a goroutine running.
func TestMain(m *testing.M) { leakcheck.Main(m) }
