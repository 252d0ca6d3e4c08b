package cache

import (
	"testing"

	"github.com/transload/transload/platform/testharness/leakcheck"
)

// TestMain fails the package if a test leaves a goroutine running (a
// store's invalidation or metrics loop not stopped by Close).
func TestMain(m *testing.M) { leakcheck.Main(m) }
