// Package cache is Transload's fail-open cache: a byte-level Store with a
// Redis implementation (go-redis behind its own circuit breaker) and a
// bounded in-process implementation, and a typed Cache on top with codecs,
// key namespacing, single-flight loading and Prometheus metrics.
//
// Fail-open means a Redis outage costs latency, never correctness or
// availability: through Cache, reads miss, writes and deletes are dropped
// and no store error reaches the caller. Every Redis call is bounded by
// short timeouts, and after a few consecutive failures the breaker opens so
// that an outage costs almost nothing per call until Redis is probed again.
//
// A cache may serve data up to its TTL old, and a delete dropped during an
// outage leaves the old value until it expires. Decisions that must be
// exact (reservations, credit) never read the cache; data whose freshness
// matters carries its version in the key (catalog version, stock
// sequence), so a new version is a new key and invalidation needs no
// delete.
package cache

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Store is a byte-level cache. Implementations are safe for concurrent use
// and copy values in and out, so callers may reuse their slices.
type Store interface {
	// Get returns the value stored under key and true, or nil and false
	// when the key is absent or expired. It returns ErrUnavailable (wrapped)
	// when the backing store cannot be reached or its breaker is open.
	Get(ctx context.Context, key string) ([]byte, bool, error)
	// Set stores value under key for ttl. It returns ErrInvalidTTL when ttl
	// is not positive, ErrTooLarge when the value cannot fit the store, and
	// ErrUnavailable (wrapped) when the backing store cannot be reached.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes key; deleting an absent key is not an error. It
	// returns ErrUnavailable (wrapped) when the backing store cannot be
	// reached.
	Delete(ctx context.Context, key string) error
	// Close releases the store's resources (connections).
	Close() error
}

var (
	// ErrUnavailable means the backing store could not serve the call: it
	// is down, slow, or its circuit breaker is open. Cache treats it as a
	// miss or a dropped write.
	ErrUnavailable = errors.New("cache: store unavailable")
	// ErrInvalidTTL is returned by Set for a TTL that is not positive:
	// every cached value expires.
	ErrInvalidTTL = errors.New("cache: ttl must be positive")
	// ErrTooLarge is returned by Set when a value is larger than the
	// store's size bound.
	ErrTooLarge = errors.New("cache: value too large")
)

// Config selects and tunes the store New builds. The env tags work with
// platform/config.Load; the zero value (no RedisAddr) selects the
// in-process store, and zero durations and sizes take the defaults below.
type Config struct {
	// RedisAddr is host:port of the Redis server; empty selects the
	// bounded in-process store.
	RedisAddr string `env:"REDIS_ADDR"`
	// RedisUsername, RedisPassword (never logged) and RedisDB select the
	// ACL user and logical database.
	RedisUsername string `env:"REDIS_USERNAME"`
	RedisPassword string `env:"REDIS_PASSWORD" secret:"true"`
	RedisDB       int    `env:"REDIS_DB" default:"0"`
	// Namespace prefixes every key, so services and environments sharing
	// one Redis do not collide (for example "transload:inventory:").
	Namespace string `env:"CACHE_NAMESPACE"`

	// DialTimeout, ReadTimeout and WriteTimeout bound each Redis socket
	// operation; PoolTimeout bounds the wait for a pooled connection and
	// OpTimeout the whole call. Together they bound the latency a slow
	// Redis adds to a caller before the breaker opens.
	DialTimeout  time.Duration `env:"CACHE_REDIS_DIAL_TIMEOUT" default:"100ms"`
	ReadTimeout  time.Duration `env:"CACHE_REDIS_READ_TIMEOUT" default:"100ms"`
	WriteTimeout time.Duration `env:"CACHE_REDIS_WRITE_TIMEOUT" default:"100ms"`
	PoolTimeout  time.Duration `env:"CACHE_REDIS_POOL_TIMEOUT" default:"50ms"`
	OpTimeout    time.Duration `env:"CACHE_REDIS_OP_TIMEOUT" default:"150ms"`
	// PoolSize is the number of Redis connections; 0 uses go-redis's
	// default (10 per GOMAXPROCS).
	PoolSize int `env:"CACHE_REDIS_POOL_SIZE" default:"0"`

	// BreakerFailures is how many consecutive Redis failures open the
	// breaker; BreakerOpenTimeout is how long it stays open before one
	// probe call is let through.
	BreakerFailures    uint          `env:"CACHE_BREAKER_FAILURES" default:"5"`
	BreakerOpenTimeout time.Duration `env:"CACHE_BREAKER_OPEN_TIMEOUT" default:"5s"`

	// MemoryMaxEntries and MemoryMaxBytes bound the in-process store; the
	// least recently used entries are evicted first.
	MemoryMaxEntries int   `env:"CACHE_MEMORY_MAX_ENTRIES" default:"10000"`
	MemoryMaxBytes   int64 `env:"CACHE_MEMORY_MAX_BYTES" default:"67108864"`
}

// Defaults for zero Config fields.
const (
	DefaultDialTimeout        = 100 * time.Millisecond
	DefaultReadTimeout        = 100 * time.Millisecond
	DefaultWriteTimeout       = 100 * time.Millisecond
	DefaultPoolTimeout        = 50 * time.Millisecond
	DefaultOpTimeout          = 150 * time.Millisecond
	DefaultBreakerFailures    = 5
	DefaultBreakerOpenTimeout = 5 * time.Second
	DefaultMemoryMaxEntries   = 10000
	DefaultMemoryMaxBytes     = 64 << 20
)

func (c Config) withDefaults() Config {
	setDur := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	setDur(&c.DialTimeout, DefaultDialTimeout)
	setDur(&c.ReadTimeout, DefaultReadTimeout)
	setDur(&c.WriteTimeout, DefaultWriteTimeout)
	setDur(&c.PoolTimeout, DefaultPoolTimeout)
	setDur(&c.OpTimeout, DefaultOpTimeout)
	setDur(&c.BreakerOpenTimeout, DefaultBreakerOpenTimeout)
	if c.BreakerFailures == 0 {
		c.BreakerFailures = DefaultBreakerFailures
	}
	if c.MemoryMaxEntries <= 0 {
		c.MemoryMaxEntries = DefaultMemoryMaxEntries
	}
	if c.MemoryMaxBytes <= 0 {
		c.MemoryMaxBytes = DefaultMemoryMaxBytes
	}
	return c
}

// Option adjusts New, NewRedisStore, NewMemoryStore and NewCache.
type Option func(*options)

type options struct {
	logger  *slog.Logger
	metrics *Metrics
	now     func() time.Time
}

func buildOptions(opts []Option) options {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	if o.metrics == nil {
		o.metrics = unregisteredMetrics()
	}
	return o
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithMetrics sets where hits, misses, errors and breaker state are
// counted (default: a private, unregistered set).
func WithMetrics(m *Metrics) Option { return func(o *options) { o.metrics = m } }

// WithClock sets the clock the in-process store uses for TTLs, so tests
// can expire entries without sleeping (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// New returns the store cfg selects: Redis when cfg.RedisAddr is set,
// otherwise the bounded in-process store, prefixed with cfg.Namespace. It
// logs which one it chose. New does not contact Redis: an unreachable
// Redis shows up as misses and breaker state, not as an error here.
func New(cfg Config, opts ...Option) (Store, error) {
	o := buildOptions(opts)
	cfg = cfg.withDefaults()
	var s Store
	if cfg.RedisAddr != "" {
		rs, err := NewRedisStore(cfg, opts...)
		if err != nil {
			return nil, err
		}
		o.logger.Info("cache: using Redis", "addr", cfg.RedisAddr, "db", cfg.RedisDB, "namespace", cfg.Namespace,
			"op_timeout", cfg.OpTimeout, "breaker_failures", cfg.BreakerFailures, "breaker_open_timeout", cfg.BreakerOpenTimeout)
		s = rs
	} else {
		o.logger.Info("cache: no Redis configured (REDIS_ADDR empty), using the in-process store",
			"max_entries", cfg.MemoryMaxEntries, "max_bytes", cfg.MemoryMaxBytes, "namespace", cfg.Namespace)
		s = NewMemoryStore(cfg.MemoryMaxEntries, cfg.MemoryMaxBytes, opts...)
	}
	return Prefixed(s, cfg.Namespace), nil
}

// Prefixed returns a Store that prepends prefix to every key of s. An
// empty prefix returns s itself. Closing the returned store closes s.
func Prefixed(s Store, prefix string) Store {
	if prefix == "" {
		return s
	}
	return &prefixedStore{s: s, prefix: prefix}
}

type prefixedStore struct {
	s      Store
	prefix string
}

var _ Store = (*prefixedStore)(nil)

func (p *prefixedStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	return p.s.Get(ctx, p.prefix+key)
}

func (p *prefixedStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return p.s.Set(ctx, p.prefix+key, value, ttl)
}

func (p *prefixedStore) Delete(ctx context.Context, key string) error {
	return p.s.Delete(ctx, p.prefix+key)
}

func (p *prefixedStore) Close() error { return p.s.Close() }
