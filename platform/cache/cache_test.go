package cache

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
	"google.golang.org/protobuf/testing/protocmp"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/testharness/redistest"
)

func newTextLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

type quote struct {
	SKU        string `json:"sku"`
	PriceMinor int64  `json:"price_minor"`
	Currency   string `json:"currency"`
}

func newMetrics(t *testing.T) *Metrics {
	t.Helper()
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustCache[T any](t *testing.T, s Store, name string, codec Codec[T], opts ...Option) *Cache[T] {
	t.Helper()
	c, err := NewCache(s, name, codec, append([]Option{WithLogger(quietLogger())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// storeKinds runs f against the in-process store and a real Redis.
func storeKinds(t *testing.T, f func(t *testing.T, s Store)) {
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		f(t, NewMemoryStore(1000, 1<<20))
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		srv := redistest.Start(t)
		f(t, newTestRedisStore(t, srv.Addr()))
	})
}

func TestCacheTypedRoundTrip(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		m := newMetrics(t)

		jc := mustCache(t, s, "quote", JSONCodec[quote](), WithMetrics(m))
		if _, ok := jc.Get(ctx, "A-1"); ok {
			t.Fatal("hit on an empty cache")
		}
		want := quote{SKU: "A-1", PriceMinor: 1999, Currency: "EUR"}
		if err := jc.Set(ctx, "A-1", want, time.Hour); err != nil {
			t.Fatal(err)
		}
		got, ok := jc.Get(ctx, "A-1")
		if !ok {
			t.Fatal("miss after Set")
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("JSON value (-want +got):\n%s", diff)
		}

		pc := mustCache(t, s, "money", ProtoCodec[*commonv1.Money](), WithMetrics(m))
		wantMsg := &commonv1.Money{CurrencyCode: "USD", AmountMinor: 12345}
		if err := pc.Set(ctx, "m", wantMsg, time.Hour); err != nil {
			t.Fatal(err)
		}
		gotMsg, ok := pc.Get(ctx, "m")
		if !ok {
			t.Fatal("proto miss after Set")
		}
		if diff := cmp.Diff(wantMsg, gotMsg, protocmp.Transform()); diff != "" {
			t.Errorf("proto value (-want +got):\n%s", diff)
		}
		if gotMsg == wantMsg {
			t.Error("Get returned the caller's own pointer")
		}

		jc.Delete(ctx, "A-1")
		if _, ok := jc.Get(ctx, "A-1"); ok {
			t.Error("hit after Delete")
		}

		for name, c := range map[string]prometheus.Counter{
			"quote hits": m.hits.WithLabelValues("quote"), "quote misses": m.misses.WithLabelValues("quote"),
			"money hits": m.hits.WithLabelValues("money"), "money misses": m.misses.WithLabelValues("money"),
		} {
			want := map[string]float64{"quote hits": 1, "quote misses": 2, "money hits": 1, "money misses": 0}[name]
			if got := testutil.ToFloat64(c); got != want {
				t.Errorf("%s = %v, want %v", name, got, want)
			}
		}
	})
}

func TestCacheNamesAreKeyNamespaces(t *testing.T) {
	t.Parallel()
	s := NewMemoryStore(100, 1<<20)
	ctx := context.Background()
	a := mustCache(t, s, "a", JSONCodec[string]())
	b := mustCache(t, s, "b", JSONCodec[string]())
	if err := a.Set(ctx, "k", "from a", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Get(ctx, "k"); ok {
		t.Fatal("cache b sees cache a's key")
	}
	raw, ok, _ := s.Get(ctx, "a:k")
	if !ok || string(raw) != `"from a"` {
		t.Fatalf("store key a:k = %q, %v; want the JSON value", raw, ok)
	}
}

func TestCacheRejectsCallerBugs(t *testing.T) {
	t.Parallel()
	s := NewMemoryStore(100, 1<<20)
	ctx := context.Background()
	c := mustCache(t, s, "c", JSONCodec[func()]())
	if err := c.Set(ctx, "k", func() {}, time.Hour); err == nil {
		t.Error("Set of an unencodable value returned nil")
	}
	ic := mustCache(t, s, "i", JSONCodec[int]())
	if err := ic.Set(ctx, "k", 1, 0); !errors.Is(err, ErrInvalidTTL) {
		t.Errorf("Set with ttl 0: %v, want ErrInvalidTTL", err)
	}
	called := false
	if _, err := ic.GetOrLoad(ctx, "k", -time.Second, func(context.Context) (int, error) { called = true; return 1, nil }); !errors.Is(err, ErrInvalidTTL) {
		t.Errorf("GetOrLoad with negative ttl: %v, want ErrInvalidTTL", err)
	}
	if called {
		t.Error("loader called despite an invalid ttl")
	}
	if _, err := NewCache[int](nil, "x", JSONCodec[int]()); err == nil {
		t.Error("NewCache without store returned nil error")
	}
	if _, err := NewCache(s, "", JSONCodec[int]()); err == nil {
		t.Error("NewCache without name returned nil error")
	}
}

func TestCacheUndecodableValueIsAMiss(t *testing.T) {
	t.Parallel()
	s := NewMemoryStore(100, 1<<20)
	ctx := context.Background()
	m := newMetrics(t)
	c := mustCache(t, s, "q", JSONCodec[quote](), WithMetrics(m))
	if err := s.Set(ctx, "q:k", []byte("{not json"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get(ctx, "k"); ok {
		t.Fatal("undecodable value served as a hit")
	}
	v, err := c.GetOrLoad(ctx, "k", time.Hour, func(context.Context) (quote, error) { return quote{SKU: "k"}, nil })
	if err != nil || v.SKU != "k" {
		t.Fatalf("GetOrLoad = %+v, %v", v, err)
	}
	if got, ok := c.Get(ctx, "k"); !ok || got.SKU != "k" {
		t.Fatalf("loaded value not cached over the bad one: %+v, %v", got, ok)
	}
	if got := testutil.ToFloat64(m.errors.WithLabelValues("q", "decode")); got < 1 {
		t.Errorf("decode errors = %v, want >= 1", got)
	}
}

func TestGetOrLoad(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		m := newMetrics(t)
		c := mustCache(t, s, "q", JSONCodec[quote](), WithMetrics(m))
		var calls atomic.Int32
		load := func(context.Context) (quote, error) {
			calls.Add(1)
			return quote{SKU: "S", PriceMinor: 5, Currency: "EUR"}, nil
		}
		for i := range 3 {
			v, err := c.GetOrLoad(ctx, "S", time.Hour, load)
			if err != nil || v.PriceMinor != 5 {
				t.Fatalf("call %d: GetOrLoad = %+v, %v", i, v, err)
			}
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("loader called %d times, want 1", n)
		}
		if got := testutil.ToFloat64(m.loads.WithLabelValues("q", "ok")); got != 1 {
			t.Errorf("loads{ok} = %v, want 1", got)
		}
	})
}

func TestGetOrLoadErrorIsNotCached(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		c := mustCache(t, s, "q", JSONCodec[int]())
		boom := errors.New("pricing unavailable")
		var calls atomic.Int32
		for range 2 {
			_, err := c.GetOrLoad(ctx, "k", time.Hour, func(context.Context) (int, error) {
				calls.Add(1)
				return 0, boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("GetOrLoad error = %v, want the loader's", err)
			}
		}
		if n := calls.Load(); n != 2 {
			t.Fatalf("loader called %d times, want 2 (errors must not be cached)", n)
		}
		if _, ok := c.Get(ctx, "k"); ok {
			t.Fatal("a failed load left a cached value")
		}
	})
}

func TestGetOrLoadSingleflight(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		c := mustCache(t, s, "money", ProtoCodec[*commonv1.Money]())
		var calls atomic.Int32
		release := make(chan struct{})
		load := func(context.Context) (*commonv1.Money, error) {
			calls.Add(1)
			<-release
			return &commonv1.Money{CurrencyCode: "EUR", AmountMinor: 42}, nil
		}
		const n = 100
		var started, wg sync.WaitGroup
		started.Add(n)
		results := make([]*commonv1.Money, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				started.Done()
				results[i], errs[i] = c.GetOrLoad(ctx, "cold", time.Hour, load)
			})
		}
		started.Wait()
		close(release)
		wg.Wait()
		if got := calls.Load(); got != 1 {
			t.Fatalf("loader called %d times for one cold key under %d concurrent callers, want 1", got, n)
		}
		seen := make(map[*commonv1.Money]bool, n)
		for i := range n {
			if errs[i] != nil || results[i].GetAmountMinor() != 42 {
				t.Fatalf("caller %d: %v, %v", i, results[i], errs[i])
			}
			if seen[results[i]] {
				t.Fatalf("two callers received the same *Money pointer")
			}
			seen[results[i]] = true
		}
	})
}

func TestGetOrLoadCallerCancelDoesNotCancelSharedLoad(t *testing.T) {
	t.Parallel()
	s := NewMemoryStore(100, 1<<20)
	c := mustCache(t, s, "q", JSONCodec[int]())
	started, release := make(chan struct{}), make(chan struct{})
	loaderCtxErr := make(chan error, 1)
	load := func(ctx context.Context) (int, error) {
		close(started)
		<-release
		loaderCtxErr <- ctx.Err()
		return 7, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.GetOrLoad(ctx, "k", time.Hour, load)
		done <- err
	}()
	<-started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v, want context.Canceled", err)
	}
	close(release)
	if err := <-loaderCtxErr; err != nil {
		t.Fatalf("loader context ended with the caller: %v", err)
	}
	// The load finishes after its first caller left; wait for it through
	// a second GetOrLoad, which joins the flight or hits the cache.
	v, err := c.GetOrLoad(context.Background(), "k", time.Hour, func(context.Context) (int, error) {
		return 0, errors.New("second load must not run")
	})
	if err != nil || v != 7 {
		t.Fatalf("GetOrLoad after the shared load = %v, %v; want 7", v, err)
	}
}

// countingHook counts commands that reach the Redis client's network path.
type countingHook struct{ n atomic.Int64 }

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// perCallBound is a generous upper bound on one fail-open call while Redis
// is down or slow: with the op timeouts below, a call makes at most three
// Redis operations of 250ms each. It cannot flake; the speed target lives
// in the benchmark.
const perCallBound = time.Second

func failOpenConfig(addr string, openTimeout time.Duration) Config {
	return Config{
		RedisAddr:   addr,
		DialTimeout: 250 * time.Millisecond, ReadTimeout: 250 * time.Millisecond, WriteTimeout: 250 * time.Millisecond,
		PoolTimeout: 250 * time.Millisecond, OpTimeout: 250 * time.Millisecond,
		BreakerFailures: 3, BreakerOpenTimeout: openTimeout,
	}
}

func TestRedisKilledMidTestFailsOpenAndRecovers(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	m := newMetrics(t)
	const openTimeout = time.Second
	rs, err := NewRedisStore(failOpenConfig(srv.Addr(), openTimeout), WithMetrics(m), WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	hook := &countingHook{}
	rs.client.AddHook(hook)
	breakerGauge := m.breakerState.WithLabelValues("redis")
	c := mustCache(t, rs, "q", JSONCodec[string](), WithMetrics(m))
	ctx := context.Background()

	var loads atomic.Int32
	load := func(context.Context) (string, error) {
		loads.Add(1)
		return "fresh", nil
	}
	timedGetOrLoad := func(key string) string {
		t.Helper()
		start := time.Now()
		v, err := c.GetOrLoad(ctx, key, time.Hour, load)
		if d := time.Since(start); d > perCallBound {
			t.Errorf("GetOrLoad took %v with Redis down, want < %v", d, perCallBound)
		}
		if err != nil || v != "fresh" {
			t.Fatalf("GetOrLoad = %q, %v; want the loader's value", v, err)
		}
		return v
	}

	// Redis up: the first call loads, the second is a hit.
	timedGetOrLoad("a")
	timedGetOrLoad("a")
	if n := loads.Load(); n != 1 {
		t.Fatalf("loader calls with Redis up = %d, want 1", n)
	}

	// Redis killed: calls keep succeeding through the loader until the
	// breaker opens.
	srv.Stop()
	for i := 0; rs.BreakerState() != gobreaker.StateOpen; i++ {
		if i == 10 {
			t.Fatalf("breaker still %v after %d calls with Redis down", rs.BreakerState(), i)
		}
		timedGetOrLoad("a")
	}
	if got := testutil.ToFloat64(breakerGauge); got != float64(gobreaker.StateOpen) {
		t.Errorf("breaker gauge = %v, want %v (open)", got, float64(gobreaker.StateOpen))
	}

	// Breaker open: calls do not reach Redis, writes are dropped silently.
	before, loadsBefore := hook.n.Load(), loads.Load()
	start := time.Now()
	const calls = 50
	for range calls {
		timedGetOrLoad("a")
		if err := c.Set(ctx, "b", "x", time.Hour); err != nil {
			t.Fatalf("Set with Redis down returned %v, want nil (fail-open)", err)
		}
		c.Delete(ctx, "b")
	}
	elapsed := time.Since(start)
	// A probe is let through at most once per open timeout.
	if reached, maxProbes := hook.n.Load()-before, int64(elapsed/openTimeout); reached > maxProbes {
		t.Errorf("%d commands reached Redis while the breaker was open (%v elapsed, open timeout %v), want <= %d",
			reached, elapsed, openTimeout, maxProbes)
	}
	if got := loads.Load() - loadsBefore; got != calls {
		t.Errorf("loader calls while Redis down = %d, want %d", got, calls)
	}
	if got := testutil.ToFloat64(m.errors.WithLabelValues("q", "set")); got < calls {
		t.Errorf("set errors = %v, want >= %d", got, calls)
	}

	// Redis back: after the open timeout a probe closes the breaker. Poll
	// (the probe is due one open timeout after the last failure) rather
	// than guess with a sleep.
	srv.Restart()
	deadline := time.Now().Add(10 * openTimeout)
	for {
		if _, _, err := rs.Get(ctx, "probe"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis store still failing %v after Restart (breaker %v)", 10*openTimeout, rs.BreakerState())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := rs.BreakerState(); st != gobreaker.StateClosed {
		t.Fatalf("breaker %v after a successful probe, want closed", st)
	}
	if got := testutil.ToFloat64(breakerGauge); got != float64(gobreaker.StateClosed) {
		t.Errorf("breaker gauge = %v, want 0 (closed)", got)
	}

	// The restarted Redis is empty: one load re-caches "a", then hits
	// resume and reach Redis again.
	loadsBefore, before = loads.Load(), hook.n.Load()
	timedGetOrLoad("a")
	timedGetOrLoad("a")
	timedGetOrLoad("a")
	if got := loads.Load() - loadsBefore; got != 1 {
		t.Errorf("loader calls after recovery = %d, want 1 (then hits)", got)
	}
	if hook.n.Load() == before {
		t.Error("no command reached Redis after recovery")
	}
	if v, ok := c.Get(ctx, "a"); !ok || v != "fresh" {
		t.Errorf("Get after recovery = %q, %v; want a hit", v, ok)
	}
}

// blackhole accepts TCP connections and never answers: a Redis that hangs.
func blackhole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().String()
}

func TestSlowRedisFailsOpenWithBoundedLatency(t *testing.T) {
	t.Parallel()
	rs, err := NewRedisStore(failOpenConfig(blackhole(t), time.Minute), WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	hook := &countingHook{}
	rs.client.AddHook(hook)
	c := mustCache(t, rs, "q", JSONCodec[int]())
	ctx := context.Background()
	for i := 0; rs.BreakerState() != gobreaker.StateOpen; i++ {
		if i == 10 {
			t.Fatalf("breaker still %v after %d calls to a hanging Redis", rs.BreakerState(), i)
		}
		start := time.Now()
		v, err := c.GetOrLoad(ctx, "k", time.Hour, func(context.Context) (int, error) { return 3, nil })
		if d := time.Since(start); d > perCallBound {
			t.Errorf("GetOrLoad took %v against a hanging Redis, want < %v", d, perCallBound)
		}
		if err != nil || v != 3 {
			t.Fatalf("GetOrLoad = %v, %v; want the loader's value", v, err)
		}
	}
	before := hook.n.Load()
	for range 20 {
		if _, ok := c.Get(ctx, "k"); ok {
			t.Fatal("hit from a hanging Redis")
		}
	}
	if got := hook.n.Load() - before; got != 0 {
		t.Errorf("%d commands reached the hanging Redis with the breaker open, want 0", got)
	}
}

func TestCallerCancellationDoesNotTripBreaker(t *testing.T) {
	t.Parallel()
	rs, err := NewRedisStore(failOpenConfig(blackhole(t), time.Minute), WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	for range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		_, _, err := rs.Get(ctx, "k")
		cancel()
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Get with an expiring caller deadline: %v, want ErrUnavailable", err)
		}
	}
	if st := rs.BreakerState(); st != gobreaker.StateClosed {
		t.Fatalf("breaker %v after caller-side timeouts only, want closed", st)
	}
}

func TestNewMetricsRegistersOnce(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m1, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := NewMetrics(reg)
	if err != nil {
		t.Fatalf("second NewMetrics on the same registry: %v", err)
	}
	m1.hits.WithLabelValues("x").Inc()
	if got := testutil.ToFloat64(m2.hits.WithLabelValues("x")); got != 1 {
		t.Errorf("second Metrics does not share the registered counters: %v", got)
	}
	if n, err := testutil.GatherAndCount(reg, "transload_cache_hits_total"); err != nil || n != 1 {
		t.Errorf("GatherAndCount = %d, %v", n, err)
	}
}
