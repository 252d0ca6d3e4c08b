package cache_test

import (
	"testing"
	"time"

	"github.com/transload/transload/platform/cache"
	"github.com/transload/transload/platform/cache/cachetest"
	"github.com/transload/transload/platform/testharness/fakeclock"
	"github.com/transload/transload/platform/testharness/redistest"
)

func TestMemoryStoreConformance(t *testing.T) {
	t.Parallel()
	cachetest.Run(t, func(t *testing.T) cachetest.Env {
		clk := fakeclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		s := cache.NewMemoryStore(1000, 1<<20, cache.WithClock(clk.Now))
		return cachetest.Env{Store: s, Advance: clk.Advance}
	})
}

func TestRedisStoreConformance(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	// Generous timeouts: this suite checks behaviour, not latency, and must
	// not flake on a loaded -race run.
	rs, err := cache.NewRedisStore(cache.Config{
		RedisAddr:   srv.Addr(),
		DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second,
		PoolTimeout: 2 * time.Second, OpTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close() })
	cachetest.Run(t, func(t *testing.T) cachetest.Env {
		// Subtests share the server; a per-test prefix keeps their keys apart.
		return cachetest.Env{
			Store:   cache.Prefixed(rs, t.Name()+":"),
			Advance: time.Sleep, // Redis expires on its own wall clock; see cachetest.ShortTTL.
		}
	})
}
