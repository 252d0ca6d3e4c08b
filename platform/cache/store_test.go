package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/transload/transload/platform/testharness/fakeclock"
	"github.com/transload/transload/platform/testharness/redistest"
)

// newTestRedisStore returns a RedisStore on srv with timeouts generous
// enough for a loaded -race run: these tests check behaviour, not latency.
func newTestRedisStore(t *testing.T, addr string, opts ...Option) *RedisStore {
	t.Helper()
	s, err := NewRedisStore(Config{
		RedisAddr:   addr,
		DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second,
		PoolTimeout: 2 * time.Second, OpTimeout: 5 * time.Second,
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestRedisStoreSetsTTL(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rs := newTestRedisStore(t, srv.Addr())
	ctx := context.Background()
	if err := rs.Set(ctx, "k", []byte("v"), 90*time.Second); err != nil {
		t.Fatal(err)
	}
	ttl, err := rs.client.PTTL(ctx, "k").Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 80*time.Second || ttl > 90*time.Second {
		t.Fatalf("PTTL = %v, want in (80s, 90s]", ttl)
	}
}

func TestMemoryStoreExpiresExactlyAtTTL(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	s := NewMemoryStore(10, 1<<10, WithClock(clk.Now))
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("v"), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10*time.Second - time.Nanosecond)
	if _, ok, _ := s.Get(ctx, "k"); !ok {
		t.Fatal("entry expired before its TTL")
	}
	clk.Advance(time.Nanosecond)
	if _, ok, _ := s.Get(ctx, "k"); ok {
		t.Fatal("entry still served at its TTL")
	}
	if s.Len() != 0 {
		t.Fatalf("expired entry kept after lookup: Len() = %d", s.Len())
	}
}

func TestMemoryStoreEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	s := NewMemoryStore(3, 1<<20)
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c"} {
		if err := s.Set(ctx, k, []byte(k), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, _ := s.Get(ctx, "a"); !ok { // a becomes most recently used; b is now the oldest
		t.Fatal("a missing")
	}
	if err := s.Set(ctx, "d", []byte("d"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 3 {
		t.Fatalf("Len() = %d, want 3", s.Len())
	}
	for k, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if _, ok, _ := s.Get(ctx, k); ok != want {
			t.Errorf("Get(%q) found = %v, want %v", k, ok, want)
		}
	}
}

func TestMemoryStoreByteBound(t *testing.T) {
	t.Parallel()
	// Each entry is 1 byte of key + 10 bytes of value = 11 bytes.
	s := NewMemoryStore(1000, 33)
	ctx := context.Background()
	val := []byte(strings.Repeat("x", 10))
	for i := range 4 {
		if err := s.Set(ctx, fmt.Sprint(i), val, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if s.Len() != 3 {
		t.Fatalf("Len() = %d, want 3 (33 bytes / 11 per entry)", s.Len())
	}
	if _, ok, _ := s.Get(ctx, "0"); ok {
		t.Error("oldest entry not evicted by the byte bound")
	}
	if err := s.Set(ctx, "big", make([]byte, 40), time.Hour); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Set of a value above the bound: err = %v, want ErrTooLarge", err)
	}
	if s.Len() != 3 {
		t.Errorf("a rejected value evicted entries: Len() = %d", s.Len())
	}
}

func TestPrefixedNamespacesKeys(t *testing.T) {
	t.Parallel()
	base := NewMemoryStore(10, 1<<10)
	a, b := Prefixed(base, "a:"), Prefixed(base, "b:")
	ctx := context.Background()
	if err := a.Set(ctx, "k", []byte("from a"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := b.Get(ctx, "k"); ok {
		t.Fatal("namespace b sees namespace a's key")
	}
	if v, ok, _ := base.Get(ctx, "a:k"); !ok || string(v) != "from a" {
		t.Fatalf("base Get(a:k) = %q, %v", v, ok)
	}
	if Prefixed(base, "") != Store(base) {
		t.Error("empty prefix should return the store itself")
	}
}

func TestNewPicksStore(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	logger := newTextLogger(&logs)

	s, err := New(Config{Namespace: "ns:"}, WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	p, ok := s.(*prefixedStore)
	if !ok {
		t.Fatalf("New with a namespace returned %T, want a prefixed store", s)
	}
	if _, ok := p.s.(*MemoryStore); !ok {
		t.Fatalf("New without Redis returned %T inside, want *MemoryStore", p.s)
	}
	if !strings.Contains(logs.String(), "in-process") {
		t.Errorf("log does not say the in-process store is used: %s", logs.String())
	}

	logs.Reset()
	s, err = New(Config{RedisAddr: "127.0.0.1:1"}, WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*RedisStore); !ok {
		t.Fatalf("New with RedisAddr returned %T, want *RedisStore", s)
	}
	if !strings.Contains(logs.String(), "using Redis") {
		t.Errorf("log does not say Redis is used: %s", logs.String())
	}
}
