package wait_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/transload/transload/platform/testharness/wait"
)

// fakeT records a failure the way *testing.T does: Fatalf stops the
// calling goroutine (runtime.Goexit), so the code after it never runs.
type fakeT struct {
	testing.TB // only the methods below are called

	mu     sync.Mutex
	failed bool
	msg    string
}

func (f *fakeT) Helper() {}

func (f *fakeT) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.failed, f.msg = true, fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// run calls Eventually with f in a goroutine of its own, as the testing
// package runs a test, and reports whether Eventually returned normally.
func run(f *fakeT, timeout time.Duration, what string, cond func() error) (returned bool) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		wait.Eventually(f, timeout, what, cond)
		returned = true
	}()
	<-done
	return returned
}

func TestEventuallyFailsWithTheLastReason(t *testing.T) {
	t.Parallel()
	f := &fakeT{}
	calls := 0
	start := time.Now()
	returned := run(f, 50*time.Millisecond, "order O-1 confirmed", func() error {
		calls++
		return fmt.Errorf("state is PENDING (call %d)", calls)
	})
	elapsed := time.Since(start)
	if returned || !f.failed {
		t.Fatalf("returned %v, failed %v; want the test stopped with a failure", returned, f.failed)
	}
	for _, s := range []string{"order O-1 confirmed", "50ms", fmt.Sprintf("state is PENDING (call %d)", calls)} {
		if !strings.Contains(f.msg, s) {
			t.Errorf("message %q does not contain %q (the last reason)", f.msg, s)
		}
	}
	if calls < 2 {
		t.Errorf("cond ran %d times in 50ms, want it polled", calls)
	}
	if elapsed < 50*time.Millisecond {
		t.Errorf("gave up after %s, before the 50ms timeout", elapsed)
	}
}

func TestEventuallyReturnsOnceTheConditionHolds(t *testing.T) {
	t.Parallel()
	f := &fakeT{}
	calls := 0
	returned := run(f, 10*time.Second, "third call", func() error {
		calls++
		return wait.Check(calls == 3, "call %d", calls)
	})
	if !returned || f.failed {
		t.Fatalf("returned %v, failed %v (%s); want a normal return", returned, f.failed, f.msg)
	}
	if calls != 3 {
		t.Errorf("cond ran %d times, want 3 (stop at the first nil)", calls)
	}
}

func TestEventuallyRunsCondAtLeastOnce(t *testing.T) {
	t.Parallel()
	f := &fakeT{}
	if !run(f, 0, "already true", func() error { return nil }) || f.failed {
		t.Fatalf("a condition that holds at once failed with timeout 0: %s", f.msg)
	}
	f = &fakeT{}
	calls := 0
	if run(f, 0, "never", func() error { calls++; return errors.New("no") }) || !f.failed || calls != 1 {
		t.Errorf("timeout 0 with a false condition: failed %v after %d calls, want a failure after 1", f.failed, calls)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	if err := wait.Check(true, "unused %d", 1); err != nil {
		t.Errorf("Check(true) = %v, want nil", err)
	}
	if err := wait.Check(false, "%d messages", 4); err == nil || err.Error() != "4 messages" {
		t.Errorf("Check(false, args) = %v, want \"4 messages\"", err)
	}
	if err := wait.Check(false, "not there yet"); err == nil || err.Error() != "not there yet" {
		t.Errorf("Check(false) without args = %v, want the text as is", err)
	}
}

// TestEventuallyWithRealT shows the ordinary use against a condition that
// another goroutine makes true.
func TestEventuallyWithRealT(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	ready := false
	go func() {
		mu.Lock()
		ready = true
		mu.Unlock()
	}()
	wait.Eventually(t, 10*time.Second, "the goroutine ran", func() error {
		mu.Lock()
		defer mu.Unlock()
		return wait.Check(ready, "not yet")
	})
}
