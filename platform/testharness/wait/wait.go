// Package wait is the one polling helper of Transload's tests: wait until
// something another goroutine or process does has happened, or fail the
// test saying what was awaited and why it still did not hold.
//
// Tests wait on an observable condition (a row, a message in a stream, a
// status code), never on a guessed sleep:
//
//	wait.Eventually(t, 10*time.Second, "order O-1 confirmed", func() error {
//		o, err := client.GetOrder(ctx, req)
//		if err != nil {
//			return err
//		}
//		return wait.Check(o.GetState() == want, "state is %s", o.GetState())
//	})
package wait

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// Polling intervals: the first retry comes quickly (most conditions hold
// within milliseconds in-process), later ones back off so a slow
// condition against real servers does not busy-poll them.
const (
	FirstInterval = 5 * time.Millisecond
	MaxInterval   = 100 * time.Millisecond
)

// Eventually calls cond until it returns nil. When timeout passes first it
// fails t with t.Fatalf, naming what was awaited, the timeout, and cond's
// last error, so the failure says why the condition did not hold. cond
// runs at least once, and once more at the deadline; Eventually must be
// called from the test's goroutine (it may stop it with Fatalf).
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	interval := FirstInterval
	for tries := 1; ; tries++ {
		err := cond()
		if err == nil {
			return
		}
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("timed out after %s waiting for %s (%d tries); last: %v", timeout, what, tries, err)
			return // t.Fatalf does not return; a fake testing.TB might
		}
		time.Sleep(min(interval, left))
		interval = min(2*interval, MaxInterval)
	}
}

// Check returns nil when ok holds and otherwise an error saying what was
// seen (format and args, as for fmt.Errorf): a boolean condition in the
// shape [Eventually] takes, keeping the observed state for the failure
// message.
func Check(ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	if len(args) == 0 {
		return errors.New(format)
	}
	return fmt.Errorf(format, args...)
}
