package cache_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/cache"
	"github.com/transload/transload/platform/testharness/redistest"
)

// BenchmarkCacheGetHit compares a typed cache hit through the whole stack
// (namespace, breaker, op deadline, go-redis, proto decode, metrics) with a
// raw go-redis GET of the same bytes on the same server. The ratio
// subject/baseline is the cost of the cache layer.
func BenchmarkCacheGetHit(b *testing.B) {
	srv := redistest.Start(b)
	ctx := context.Background()

	store, err := cache.New(cache.Config{RedisAddr: srv.Addr(), Namespace: "bench:"},
		cache.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	c, err := cache.NewCache(store, "money", cache.ProtoCodec[*commonv1.Money]())
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Set(ctx, "k", &commonv1.Money{CurrencyCode: "EUR", AmountMinor: 123456}, time.Hour); err != nil {
		b.Fatal(err)
	}
	// The same key and bytes the subject reads: "<namespace><cache name>:<key>".
	const rawKey = "bench:money:k"

	raw := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	b.Cleanup(func() { _ = raw.Close() })
	if n, err := raw.Exists(ctx, rawKey).Result(); err != nil || n != 1 {
		b.Fatalf("raw key %q missing: %v, %v", rawKey, n, err)
	}

	b.Run("baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, err := raw.Get(ctx, rawKey).Bytes()
			if err != nil || len(v) == 0 {
				b.Fatalf("GET: %q, %v", v, err)
			}
		}
	})
	b.Run("subject", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, ok := c.Get(ctx, "k")
			if !ok || v.GetAmountMinor() != 123456 {
				b.Fatalf("Get: %v, %v", v, ok)
			}
		}
	})
}
