package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"
)

// Cache is a typed, fail-open view of a Store: values of type T are
// encoded with a Codec under keys "<name>:<key>" (after the store's own
// namespace). No store failure reaches the caller: Get misses, Set and
// Delete drop the write, and each absorbed failure is counted in
// transload_cache_errors_total. A Cache is safe for concurrent use.
type Cache[T any] struct {
	store  Store
	name   string
	prefix string
	codec  Codec[T]
	logger *slog.Logger
	flight singleflight.Group

	hits, misses                                prometheus.Counter
	getErrs, setErrs, delErrs, encErrs, decErrs prometheus.Counter
	loadsOK, loadsErr                           prometheus.Counter
}

// NewCache returns a Cache named name (used as key prefix and metric
// label, e.g. "price-quote") over store, encoding values with codec.
// WithMetrics and WithLogger apply.
func NewCache[T any](store Store, name string, codec Codec[T], opts ...Option) (*Cache[T], error) {
	if store == nil {
		return nil, errors.New("cache: NewCache needs a store")
	}
	if name == "" {
		return nil, errors.New("cache: NewCache needs a name")
	}
	if codec == nil {
		return nil, errors.New("cache: NewCache needs a codec")
	}
	o := buildOptions(opts)
	m := o.metrics
	return &Cache[T]{
		store:    store,
		name:     name,
		prefix:   name + ":",
		codec:    codec,
		logger:   o.logger.With("cache", name),
		hits:     m.hits.WithLabelValues(name),
		misses:   m.misses.WithLabelValues(name),
		getErrs:  m.errors.WithLabelValues(name, "get"),
		setErrs:  m.errors.WithLabelValues(name, "set"),
		delErrs:  m.errors.WithLabelValues(name, "delete"),
		encErrs:  m.errors.WithLabelValues(name, "encode"),
		decErrs:  m.errors.WithLabelValues(name, "decode"),
		loadsOK:  m.loads.WithLabelValues(name, "ok"),
		loadsErr: m.loads.WithLabelValues(name, "error"),
	}, nil
}

// Name returns the cache's name.
func (c *Cache[T]) Name() string { return c.name }

// Get returns the value cached under key and true, or the zero T and
// false when it is absent, expired, undecodable or the store is
// unavailable.
func (c *Cache[T]) Get(ctx context.Context, key string) (T, bool) {
	v, _, ok := c.lookup(ctx, c.prefix+key)
	if ok {
		c.hits.Inc()
	} else {
		c.misses.Inc()
	}
	return v, ok
}

// lookup reads and decodes fullKey, counting errors but not hits/misses.
// It returns the decoded value and its encoding.
func (c *Cache[T]) lookup(ctx context.Context, fullKey string) (T, []byte, bool) {
	var zero T
	b, ok, err := c.store.Get(ctx, fullKey)
	if err != nil {
		c.getErrs.Inc()
		c.logger.DebugContext(ctx, "cache: get failed, treating as miss", "key", fullKey, "err", err)
		return zero, nil, false
	}
	if !ok {
		return zero, nil, false
	}
	v, err := c.codec.Unmarshal(b)
	if err != nil {
		c.decErrs.Inc()
		c.logger.WarnContext(ctx, "cache: cannot decode cached value, treating as miss", "key", fullKey, "err", err)
		return zero, nil, false
	}
	return v, b, true
}

// Set caches v under key for ttl. It returns ErrInvalidTTL for a TTL that
// is not positive and the codec's error when v cannot be encoded: both are
// the caller's bugs. A store failure is not returned: the write is dropped.
func (c *Cache[T]) Set(ctx context.Context, key string, v T, ttl time.Duration) error {
	if ttl <= 0 {
		return ErrInvalidTTL
	}
	b, err := c.codec.Marshal(v)
	if err != nil {
		c.encErrs.Inc()
		return fmt.Errorf("cache %s: encode %q: %w", c.name, key, err)
	}
	c.put(ctx, c.prefix+key, b, ttl)
	return nil
}

func (c *Cache[T]) put(ctx context.Context, fullKey string, b []byte, ttl time.Duration) {
	if err := c.store.Set(ctx, fullKey, b, ttl); err != nil {
		c.setErrs.Inc()
		c.logger.DebugContext(ctx, "cache: set failed, write dropped", "key", fullKey, "err", err)
	}
}

// Delete removes key. A store failure is counted and dropped, so the old
// value may survive until its TTL; keys that must change at once should
// carry a version instead of being deleted.
func (c *Cache[T]) Delete(ctx context.Context, key string) {
	fullKey := c.prefix + key
	if err := c.store.Delete(ctx, fullKey); err != nil {
		c.delErrs.Inc()
		c.logger.WarnContext(ctx, "cache: delete failed, value may stay until its TTL", "key", fullKey, "err", err)
	}
}

// GetOrLoad returns the value cached under key or, on a miss, calls load,
// caches its result for ttl and returns it. Concurrent misses for the same
// key share one load call. A load error is returned as is and nothing is
// cached. ttl must be positive (else ErrInvalidTTL, load is not called).
//
// load runs with ctx's values and deadline but is not cancelled when ctx is
// cancelled, because other callers may be waiting for the same result; a
// caller whose ctx ends stops waiting and gets ctx.Err(). Callers that
// share a load receive separate decoded copies, so they may modify what
// they get.
func (c *Cache[T]) GetOrLoad(ctx context.Context, key string, ttl time.Duration, load func(context.Context) (T, error)) (T, error) {
	var zero T
	if ttl <= 0 {
		return zero, ErrInvalidTTL
	}
	if v, ok := c.Get(ctx, key); ok {
		return v, nil
	}
	fullKey := c.prefix + key
	ch := c.flight.DoChan(fullKey, func() (any, error) {
		return c.load(ctx, fullKey, ttl, load)
	})
	select {
	case <-ctx.Done():
		return zero, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return zero, r.Err
		}
		res := r.Val.(loaded[T])
		if !r.Shared || res.encoded == nil {
			return res.value, nil
		}
		// Give each sharing caller its own copy so that no two goroutines
		// hold the same pointer-typed value.
		v, err := c.codec.Unmarshal(res.encoded)
		if err != nil {
			c.decErrs.Inc()
			return res.value, nil
		}
		return v, nil
	}
}

type loaded[T any] struct {
	value   T
	encoded []byte // nil when the value could not be encoded
}

// load is the body of one single-flight call.
func (c *Cache[T]) load(ctx context.Context, fullKey string, ttl time.Duration, load func(context.Context) (T, error)) (loaded[T], error) {
	lctx := context.WithoutCancel(ctx)
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		lctx, cancel = context.WithDeadline(lctx, dl)
		defer cancel()
	}
	// A flight for this key that finished just before this one started
	// has stored the value: look again before loading.
	if v, b, ok := c.lookup(lctx, fullKey); ok {
		return loaded[T]{value: v, encoded: b}, nil
	}
	v, err := load(lctx)
	if err != nil {
		c.loadsErr.Inc()
		return loaded[T]{}, err
	}
	c.loadsOK.Inc()
	b, err := c.codec.Marshal(v)
	if err != nil {
		c.encErrs.Inc()
		c.logger.WarnContext(ctx, "cache: cannot encode loaded value, not cached", "key", fullKey, "err", err)
		return loaded[T]{value: v}, nil
	}
	// The store bounds its own latency; the write should not fail just
	// because the caller's deadline is nearly spent.
	c.put(context.WithoutCancel(ctx), fullKey, b, ttl)
	return loaded[T]{value: v, encoded: b}, nil
}
