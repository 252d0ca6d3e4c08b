package svcmain

import (
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/transload/transload/platform/config"
)

// DefaultMemoryLimitMB is MEMORY_LIMIT_MB's default, in MiB: the soft Go
// memory limit every binary runs with unless its environment says
// otherwise. It is sized for issue #12's budget of 150 MB resident per
// process: the Go runtime's memory (heap, stacks, runtime metadata) is
// kept near 96 MiB (~101 MB), the binary's mapped code and data take about
// 30-35 MB of resident file pages, and SQLite's page caches and compiled
// statements, which modernc.org/sqlite allocates outside the Go heap,
// stay within a few MiB per connection (platform/sqldb's cache_size,
// 2 MiB per connection).
const DefaultMemoryLimitMB = 96 // keep in step with Base.MemoryLimitMB's default tag

// errNegativeMemoryLimit is the cause of MEMORY_LIMIT_MB's FieldError for
// a negative value.
var errNegativeMemoryLimit = errors.New("must not be negative (0 turns the limit off)")

// applyMemoryLimit sets base's soft Go memory limit (debug.SetMemoryLimit)
// unless the limit is 0 or GOMEMLIMIT is set in the environment (the
// runtime applied that one at start, and it wins). It returns the limit
// that was in force before, for [Runtime.Close] to restore, and whether it
// changed it.
func applyMemoryLimit(base *Base, getenv func(string) string) (prev int64, changed bool, err error) {
	if base.MemoryLimitMB < 0 {
		return 0, false, &config.FieldError{Var: "MEMORY_LIMIT_MB", Err: errNegativeMemoryLimit}
	}
	if base.MemoryLimitMB >= 1<<43 { // in bytes it would overflow int64
		return 0, false, &config.FieldError{Var: "MEMORY_LIMIT_MB", Err: fmt.Errorf("%d MiB is out of range", base.MemoryLimitMB)}
	}
	if base.MemoryLimitMB == 0 || getenv("GOMEMLIMIT") != "" {
		return 0, false, nil
	}
	return debug.SetMemoryLimit(base.MemoryLimitMB << 20), true, nil
}
