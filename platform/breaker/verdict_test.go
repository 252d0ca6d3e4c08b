package breaker_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/transload/transload/platform/breaker"
)

func quiet(target string, s breaker.Settings) *breaker.Breaker {
	return breaker.New(target, s, breaker.WithLogger(slog.New(slog.DiscardHandler)))
}

// TestNotCountedAndFailure: NotCounted errors neither trip the breaker nor
// reset its run of failures; Failure errors trip it whatever IsFailure
// says; Execute hands the caller the error inside either mark.
func TestNotCountedAndFailure(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	never := func(error) bool { return false }

	b := quiet("dep", breaker.Settings{ConsecutiveFailures: 2, OpenTimeout: time.Hour})
	if err := b.Execute(context.Background(), func(context.Context) error { return boom }); err != boom { //nolint:errorlint // identity: Execute returns the call's own error
		t.Fatalf("Execute = %v, want the call's error", err)
	}
	for range 5 {
		err := b.Execute(context.Background(), func(context.Context) error { return breaker.NotCounted(boom) })
		if err != boom { //nolint:errorlint // identity: the mark is taken off
			t.Fatalf("Execute = %#v, want the error inside NotCounted", err)
		}
	}
	if st := b.State(); st != breaker.StateClosed {
		t.Fatalf("after 1 failure and 5 NotCounted: %v, want closed", st)
	}
	// The NotCounted calls did not reset the first failure: one more trips.
	_ = b.Execute(context.Background(), func(context.Context) error { return boom })
	if st := b.State(); st != breaker.StateOpen {
		t.Fatalf("after 2 failures around NotCounted ones: %v, want open", st)
	}

	forced := quiet("forced", breaker.Settings{ConsecutiveFailures: 2, OpenTimeout: time.Hour, IsFailure: never})
	for range 2 {
		if err := forced.Execute(context.Background(), func(context.Context) error { return breaker.Failure(boom) }); err != boom { //nolint:errorlint // identity: the mark is taken off
			t.Fatalf("Execute = %#v, want the error inside Failure", err)
		}
	}
	if st := forced.State(); st != breaker.StateOpen {
		t.Fatalf("2 Failure-marked errors with IsFailure always false: %v, want open", st)
	}
	assertCircuitOpen(t, forced.Execute(context.Background(), func(context.Context) error { return nil }), "forced")
}

// TestAllow: the two-step form counts what done reports, refuses while
// open, leaves out errors after the caller's ctx ended, and lets exactly
// HalfOpenMaxRequests trial calls through when half-open.
func TestAllow(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	b := quiet("dep", breaker.Settings{ConsecutiveFailures: 2, OpenTimeout: 50 * time.Millisecond, HalfOpenMaxRequests: 1})

	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for range 3 {
		done, ok := b.Allow()
		if !ok {
			t.Fatal("closed breaker refused")
		}
		done(ended, boom)
	}
	if st := b.State(); st != breaker.StateClosed {
		t.Fatalf("3 failures after the caller left: %v, want closed", st)
	}
	for range 2 {
		done, ok := b.Allow()
		if !ok {
			t.Fatal("closed breaker refused")
		}
		done(context.Background(), boom)
	}
	if _, ok := b.Allow(); ok {
		t.Fatal("open breaker allowed a call")
	}
	deadline := time.Now().Add(30 * time.Second)
	for b.State() != breaker.StateHalfOpen {
		if time.Now().After(deadline) {
			t.Fatal("breaker never went half-open")
		}
		time.Sleep(5 * time.Millisecond)
	}
	trial, ok := b.Allow()
	if !ok {
		t.Fatal("half-open breaker refused its trial call")
	}
	if _, ok := b.Allow(); ok {
		t.Fatal("half-open breaker allowed a second call while its one trial runs")
	}
	trial(context.Background(), nil)
	if st := b.State(); st != breaker.StateClosed {
		t.Fatalf("after a successful trial: %v, want closed", st)
	}
}

// TestServing: closed with no failure since the last success.
func TestServing(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	b := quiet("dep", breaker.Settings{ConsecutiveFailures: 2, OpenTimeout: time.Hour})
	if !b.Serving() {
		t.Fatal("a new breaker is not serving")
	}
	_ = b.Execute(context.Background(), func(context.Context) error { return boom })
	if b.Serving() {
		t.Fatal("serving right after a failure")
	}
	_ = b.Execute(context.Background(), func(context.Context) error { return nil })
	if !b.Serving() {
		t.Fatal("not serving after a success")
	}
	for range 2 {
		_ = b.Execute(context.Background(), func(context.Context) error { return boom })
	}
	if b.Serving() || b.State() != breaker.StateOpen {
		t.Fatalf("open breaker: serving %v, state %v", b.Serving(), b.State())
	}
}
