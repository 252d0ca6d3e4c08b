package grpcclient_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/grpcserver/grpcservertest"
)

// replica runs a probe server on loopback counting the calls it answers;
// stop ends it before the test does.
func replica(t testing.TB, calls *atomic.Int64) (addr string, stop func()) {
	t.Helper()
	srv, err := grpcserver.New(grpcserver.WithAddr("127.0.0.1:0"), grpcserver.WithAdminAddr(""),
		grpcserver.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	grpcservertest.Register(srv, &grpcservertest.Probe{Unary: func(_ context.Context, _ string, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		calls.Add(1)
		return in, nil
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var stopped atomic.Bool
	stop = func() {
		if stopped.CompareAndSwap(false, true) {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	return srv.Addr().String(), stop
}

// TestStaticTargetSpreadsOverReplicas: a static:/// target of two
// replicas reaches both (round robin), and when one stops, every
// idempotent call still succeeds on the other.
func TestStaticTargetSpreadsOverReplicas(t *testing.T) {
	t.Parallel()
	var callsA, callsB atomic.Int64
	a, stopA := replica(t, &callsA)
	b, _ := replica(t, &callsB)
	target := grpcclient.StaticTarget(a, b)
	if target != "static:///"+a+","+b {
		t.Fatalf("StaticTarget = %q", target)
	}
	c := dial(t, target, fastRetries, grpcclient.WithIdempotentMethods(grpcservertest.MethodGet))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 20 {
		if _, err := c.Get(ctx, "x"); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if callsA.Load() == 0 || callsB.Load() == 0 {
		t.Fatalf("calls A=%d B=%d: round robin must reach both replicas", callsA.Load(), callsB.Load())
	}
	stopA()
	before := callsB.Load()
	for i := range 20 {
		if _, err := c.Get(ctx, "x"); err != nil {
			t.Fatalf("call %d after one replica stopped: %v", i, err)
		}
	}
	if got := callsB.Load() - before; got != 20 {
		t.Errorf("replica B answered %d of 20 calls after A stopped", got)
	}
}

func TestStaticTargetOfOneAddressIsTheAddress(t *testing.T) {
	t.Parallel()
	if got := grpcclient.StaticTarget("127.0.0.1:9004"); got != "127.0.0.1:9004" {
		t.Errorf("StaticTarget = %q", got)
	}
}

// TestStaticTargetWithoutAddressesFails: a malformed list fails calls at
// once instead of leaving them waiting for an address.
func TestStaticTargetWithoutAddressesFails(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"static:///", "static:///127.0.0.1"} {
		c := dial(t, target)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.Get(ctx, "x")
		waited := ctx.Err() != nil
		cancel()
		if err == nil {
			t.Errorf("%s: call succeeded", target)
		}
		if waited {
			t.Errorf("%s: the call waited for its deadline instead of failing", target)
		}
	}
}
