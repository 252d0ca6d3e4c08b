package grpcclient_test

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/breaker"
	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/platform/grpcserver/grpcservertest"
)

func circuitOpen(err error) bool {
	return apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_CIRCUIT_OPEN)
}

// replicaPair runs two probe servers on loopback answering as their
// scripted errors say, and dials both as one dependency "order" whose
// breaker (returned, so the test reads its state) has settings s.
func replicaPair(t *testing.T, s breaker.Settings) (a, b *scripted, c *grpcservertest.Client, dep *breaker.Breaker) {
	t.Helper()
	a, b = &scripted{}, &scripted{}
	target := grpcclient.StaticTarget(serve(t, a.probe()), serve(t, b.probe()))
	s.IsFailure = grpcclient.IsTargetFailure
	dep = breaker.New("order", s)
	c = dial(t, target, grpcclient.WithBreaker(dep), grpcclient.WithBreakerSettings(s))
	return a, b, c, dep
}

// untilBoth makes successful calls until both replicas have answered one:
// both SubConns are READY, so the round robin alternates from here on.
func untilBoth(t *testing.T, c *grpcservertest.Client, a, b *scripted) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for a.calls.Load() == 0 || b.calls.Load() == 0 {
		if _, err := c.Create(ctx, "warm"); err != nil {
			t.Fatalf("warm-up call: %v", err)
		}
	}
}

// TestFailingReplicaStopsReceivingCalls (issue #13, breakers per replica):
// with one of two replicas failing every call, its own breaker opens after
// the settings' consecutive failures and the round robin skips it; every
// later call succeeds on the healthy replica and none is refused with
// CIRCUIT_OPEN. A breaker per dependency never learned which replica
// failed: replica A kept half of the calls and failed every one.
func TestFailingReplicaStopsReceivingCalls(t *testing.T) {
	t.Parallel()
	s := breaker.DefaultSettings()
	s.OpenTimeout = time.Hour
	a, b, c, dep := replicaPair(t, s)
	untilBoth(t, c, a, b)

	a.set(apierr.Internal())
	failures := 0
	for i := range 60 {
		_, err := c.Create(context.Background(), "x")
		if circuitOpen(err) {
			t.Fatalf("call %d refused with CIRCUIT_OPEN while replica B serves: %v", i, err)
		}
		if err != nil {
			if status.Code(err) != codes.Internal {
				t.Fatalf("call %d = %v, want replica A's INTERNAL or success", i, err)
			}
			failures++
		}
	}
	if failures != int(s.ConsecutiveFailures) {
		t.Errorf("%d calls failed on replica A; want exactly %d (its breaker's consecutive failures), then none",
			failures, s.ConsecutiveFailures)
	}
	before := a.calls.Load()
	for i := range 20 {
		if _, err := c.Create(context.Background(), "x"); err != nil {
			t.Fatalf("call %d after replica A's breaker opened: %v", i, err)
		}
	}
	if a.calls.Load() != before {
		t.Errorf("replica A received %d calls after its breaker opened", a.calls.Load()-before)
	}
	if st := dep.State(); st != breaker.StateClosed {
		t.Errorf("dependency breaker %v while replica B serves; want closed", st)
	}
}

// TestEveryReplicaFailingOpensTheDependency: when the second replica fails
// too, callers fail fast with CIRCUIT_OPEN naming the dependency, no call
// reaches either replica, and the dependency's breaker itself opens.
func TestEveryReplicaFailingOpensTheDependency(t *testing.T) {
	t.Parallel()
	s := breaker.Settings{ConsecutiveFailures: 3, OpenTimeout: time.Hour}
	a, b, c, dep := replicaPair(t, s)
	untilBoth(t, c, a, b)

	a.set(apierr.Internal())
	b.set(status.Error(codes.Unavailable, "replica B lost its database"))
	var err error
	for range 20 {
		if _, err = c.Create(context.Background(), "x"); circuitOpen(err) {
			break
		}
	}
	if !circuitOpen(err) {
		t.Fatalf("20 calls with both replicas failing, last = %v; want CIRCUIT_OPEN", err)
	}
	if got := apierr.Info(err).GetMetadata()[apierr.MetaTarget]; got != "order" {
		t.Errorf("CIRCUIT_OPEN target %q, want the dependency %q", got, "order")
	}
	reached := a.calls.Load() + b.calls.Load()
	for i := range 10 {
		if _, err := c.Create(context.Background(), "x"); !circuitOpen(err) {
			t.Fatalf("call %d with every replica's breaker open = %v; want CIRCUIT_OPEN", i, err)
		}
	}
	if now := a.calls.Load() + b.calls.Load(); now != reached {
		t.Errorf("%d calls reached a replica whose breaker was open", now-reached)
	}
	if st := dep.State(); st != breaker.StateOpen {
		t.Errorf("dependency breaker %v with every replica failing; want open", st)
	}
}

// TestBusinessAnswersNeverEjectAReplica: the classification table decides
// for the replica breakers too; a replica answering FAILED_PRECONDITION
// (or DEPENDENCY_UNAVAILABLE about its own dependency) is up and keeps
// its share of the calls.
func TestBusinessAnswersNeverEjectAReplica(t *testing.T) {
	t.Parallel()
	for _, answer := range []error{
		apierr.Error(codes.FailedPrecondition, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED, "no", nil),
		apierr.DependencyUnavailable("erp", "erp down"),
	} {
		s := breaker.Settings{ConsecutiveFailures: 2, OpenTimeout: time.Hour}
		a, b, c, _ := replicaPair(t, s)
		untilBoth(t, c, a, b)
		a.set(answer)
		before := a.calls.Load()
		for range 20 {
			if _, err := c.Create(context.Background(), "x"); circuitOpen(err) {
				t.Fatalf("%v: CIRCUIT_OPEN: %v", status.Code(answer), err)
			}
		}
		if got := a.calls.Load() - before; got < 5 {
			t.Errorf("%v: replica A answered %d of 20 calls; a business answer must not eject it", status.Code(answer), got)
		}
	}
}

// TestReplicaRecoversThroughHalfOpen: once a failed replica's breaker has
// been open for OpenTimeout, a trial call reaches it again, and when it
// succeeds the replica is back in the rotation.
func TestReplicaRecoversThroughHalfOpen(t *testing.T) {
	t.Parallel()
	s := breaker.Settings{ConsecutiveFailures: 2, OpenTimeout: 50 * time.Millisecond, HalfOpenMaxRequests: 1}
	a, b, c, _ := replicaPair(t, s)
	untilBoth(t, c, a, b)
	a.set(apierr.Internal())
	for range 10 {
		_, _ = c.Create(context.Background(), "x")
	}
	a.set(nil)
	before := a.calls.Load()
	deadline := time.Now().Add(30 * time.Second)
	for a.calls.Load()-before < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("replica A answered %d calls in 30 s after it recovered", a.calls.Load()-before)
		}
		if _, err := c.Create(context.Background(), "x"); err != nil {
			t.Fatalf("call after replica A recovered: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitFor polls cond until it holds; after 30 s it gives up and reports
// what it waited for (the load goroutines end with the test's stop).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Errorf("after 30 s still waiting: %s", what)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// underLoad keeps eight callers calling c while it waits until both
// replicas answered 50 calls, runs fault (one replica fails or stops),
// and waits until replica B answered 300 more. It fails the test if a
// call was refused with CIRCUIT_OPEN or the dependency's breaker is not
// closed at the end.
func underLoad(t *testing.T, c *grpcservertest.Client, dep *breaker.Breaker, callsA, callsB *atomic.Int64, fault func()) {
	t.Helper()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var refused atomic.Int64
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := c.Create(context.Background(), "x"); circuitOpen(err) {
					refused.Add(1)
				}
			}
		})
	}
	waitFor(t, "both replicas answered 50 calls", func() bool { return callsA.Load() >= 50 && callsB.Load() >= 50 })
	fault()
	after := callsB.Load()
	waitFor(t, "replica B answered 300 more calls", func() bool { return callsB.Load() >= after+300 })
	close(stop)
	wg.Wait()
	if n := refused.Load(); n > 0 {
		t.Errorf("%d calls refused with CIRCUIT_OPEN while replica B served", n)
	}
	if st := dep.State(); st != breaker.StateClosed {
		t.Errorf("dependency breaker %v after one replica failed; want closed", st)
	}
}

// TestFailingReplicaUnderLoad is scale scenario 2 in miniature: eight
// callers keep calling while one replica starts failing every call with
// UNAVAILABLE, as the calls of a killed replica do; the calls it takes
// before its breaker opens fail, but no caller is refused with
// CIRCUIT_OPEN while the other replica serves, and the dependency's
// breaker stays closed. (With one breaker per dependency, two failures
// in a row refused every caller.)
func TestFailingReplicaUnderLoad(t *testing.T) {
	t.Parallel()
	a, b, c, dep := replicaPair(t, breaker.Settings{ConsecutiveFailures: 2, OpenTimeout: time.Hour})
	untilBoth(t, c, a, b)
	underLoad(t, c, dep, &a.calls, &b.calls, func() { a.set(status.Error(codes.Unavailable, "replica A is gone")) })
}

// TestStoppedReplicaUnderLoad: the same load while one replica's server
// really stops (its connections close, its SubConn leaves the rotation).
func TestStoppedReplicaUnderLoad(t *testing.T) {
	t.Parallel()
	var callsA, callsB atomic.Int64
	addrA, stopA := replica(t, &callsA)
	addrB, _ := replica(t, &callsB)
	s := breaker.Settings{ConsecutiveFailures: 2, OpenTimeout: time.Hour, IsFailure: grpcclient.IsTargetFailure}
	dep := breaker.New("order", s)
	c := dial(t, grpcclient.StaticTarget(addrA, addrB), grpcclient.WithBreaker(dep), grpcclient.WithBreakerSettings(s))
	underLoad(t, c, dep, &callsA, &callsB, stopA)
}

// TestEveryReplicaFailingCountsEachCall: when both replicas fail every
// call (a partition), the dependency's breaker counts each failed call
// once the other replica's latest call failed too, so with two replicas
// it opens after one call more than with one (the first failure, while
// the other replica's latest call was still a success), although each
// replica's own breaker has seen only two failures (scale scenario 3
// relies on this: 12 orders through two order replicas open them).
func TestEveryReplicaFailingCountsEachCall(t *testing.T) {
	t.Parallel()
	const trip = 3
	a, b, c, dep := replicaPair(t, breaker.Settings{ConsecutiveFailures: trip, OpenTimeout: time.Hour})
	untilBoth(t, c, a, b)
	cut := status.Error(codes.DeadlineExceeded, "partitioned")
	a.set(cut)
	b.set(cut)
	failed := 0
	for {
		_, err := c.Create(context.Background(), "x")
		if circuitOpen(err) {
			break
		}
		if status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("call %d = %v, want the replicas' DEADLINE_EXCEEDED", failed, err)
		}
		if failed++; failed > trip+1 {
			t.Fatalf("%d calls failed on two partitioned replicas without CIRCUIT_OPEN; want at most %d", failed, trip+1)
		}
	}
	if st := dep.State(); st != breaker.StateOpen {
		t.Errorf("dependency breaker %v; want open", st)
	}
	t.Logf("CIRCUIT_OPEN after %d failed calls", failed)
}

// BenchmarkUnaryCall: one unary call on loopback through Dial's chain
// with the breakers (the replica policy) and, as the same-run baseline,
// WithoutBreaker (plain round robin): the replica breakers' cost per call.
func BenchmarkUnaryCall(b *testing.B) {
	var calls atomic.Int64
	addr, _ := replica(b, &calls)
	for _, tc := range []struct {
		name string
		opts []grpcclient.Option
	}{
		{"without-breaker", []grpcclient.Option{grpcclient.WithoutBreaker()}},
		{"replica-breakers", nil},
	} {
		b.Run(tc.name, func(b *testing.B) {
			conn, err := grpcclient.Dial(addr, append(tc.opts, grpcclient.WithLogger(slog.New(slog.DiscardHandler)))...)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			c := grpcservertest.NewClient(conn)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Create(context.Background(), "x"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSharedBreakerSettingsReachTheReplicas: a connection given a shared
// breaker (WithBreaker, as order's two ERP connections share "erp") gives
// its replica breakers that breaker's settings, not the defaults: with a
// threshold the shared breaker never reaches, 20 failures in a row still
// reach the server (the default replica breaker would open after 5), so
// the replicas trip and recover as the operator configured.
func TestSharedBreakerSettingsReachTheReplicas(t *testing.T) {
	t.Parallel()
	s := &scripted{}
	s.set(apierr.Internal())
	dep := breaker.New("erp", breaker.Settings{ConsecutiveFailures: 1000, OpenTimeout: time.Hour, IsFailure: grpcclient.IsTargetFailure})
	c := dial(t, serve(t, s.probe()), grpcclient.WithBreaker(dep))
	for i := range 20 {
		if _, err := c.Create(context.Background(), "x"); status.Code(err) != codes.Internal {
			t.Fatalf("call %d = %v; want the server's INTERNAL (no breaker at 1000 consecutive failures opens)", i, err)
		}
	}
	if n := s.calls.Load(); n != 20 {
		t.Errorf("server saw %d of 20 calls", n)
	}
}
