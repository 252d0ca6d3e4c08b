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
// process, from what the sustained bench showed the rest of a service's
// resident memory to be: the binary's mapped code and data, about 33 MB
// of resident file pages, and what modernc.org/sqlite allocates outside
// the Go heap (page caches, compiled statements, its allocator's
// overhead), about 20 MB for order and inventory (their anonymous
// resident memory minus the Go runtime's). 80 MiB of Go memory was the
// first choice, on paper 13 MB below 150 MB; make bench at 8aec5b8 still
// saw order peak at 155 MB after the rate search's overload probes, so
// the default is 64 MiB (67 MB), about 30 MB of room. At ordinary load the
// limit costs nothing: a live heap of 20-25 MB lets the GC's own target
// (twice the live heap) stay below it; only a burst that grows the heap
// makes the GC run more often instead of letting the process grow.
const DefaultMemoryLimitMB = 64 // keep in step with Base.MemoryLimitMB's default tag

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
