package events

import (
	"context"
	"fmt"
	"log/slog"
)

// afterCommit collects the functions a handler registered with
// [AfterCommit] for one event.
type afterCommit struct{ fns []func() }

type afterCommitKey struct{}

func withAfterCommit(ctx context.Context, h *afterCommit) context.Context {
	return context.WithValue(ctx, afterCommitKey{}, h)
}

// AfterCommit registers fn to run once the transaction that applies the
// current event has committed; call it from a [Handler] with the handler's
// ctx. The consumer runs the functions in registration order, in its own
// goroutine, after the commit and before the acknowledgement; it never
// runs them when the event's changes are rolled back (handler error or
// panic, a batch member rolled back to its savepoint, a failed commit, a
// duplicate). Use it for effects outside the database that must only see
// committed state, such as waking a worker that reads what the handler
// wrote: woken inside the transaction, the worker may find nothing and
// sleep until its next round. fn must be quick and must not block; a panic
// in fn is logged and contained. AfterCommit reports whether fn was
// registered: it is false when ctx is not a handler's context of a
// [Consumer] (fn is then not run at all).
func AfterCommit(ctx context.Context, fn func()) bool {
	h, _ := ctx.Value(afterCommitKey{}).(*afterCommit)
	if h == nil || fn == nil {
		return false
	}
	h.fns = append(h.fns, fn)
	return true
}

// run calls the registered functions; nil h runs nothing.
func (h *afterCommit) run(ctx context.Context, log *slog.Logger) {
	if h == nil {
		return
	}
	for _, fn := range h.fns {
		func() {
			defer func() {
				if r := recover(); r != nil {
					log.ErrorContext(ctx, "events: after-commit hook panicked", slog.String("panic", fmt.Sprint(r)))
				}
			}()
			fn()
		}()
	}
}
