package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/sony/gobreaker/v2"
)

// RedisStore is a Store on a Redis server, behind its own circuit breaker.
// Each call is bounded by Config.OpTimeout (and the socket timeouts); after
// Config.BreakerFailures consecutive failures the breaker opens and calls
// return ErrUnavailable at once, without touching the network, until
// Config.BreakerOpenTimeout has passed and a probe call succeeds.
type RedisStore struct {
	client    *redis.Client
	cb        *gobreaker.CircuitBreaker[struct{}]
	opTimeout time.Duration
	addr      string
}

var _ Store = (*RedisStore)(nil)

// errCallerGone marks failures caused by the caller's own context ending;
// they say nothing about Redis, so the breaker does not count them.
var errCallerGone = errors.New("cache: caller context done")

// NewRedisStore returns a RedisStore for cfg.RedisAddr (cfg.Namespace is
// not applied here; see New and Prefixed). It does not contact Redis.
func NewRedisStore(cfg Config, opts ...Option) (*RedisStore, error) {
	if cfg.RedisAddr == "" {
		return nil, errors.New("cache: NewRedisStore needs a Redis address")
	}
	cfg = cfg.withDefaults()
	o := buildOptions(opts)
	redisLoggerOnce.Do(func() { redis.SetLogger(slogRedisLogger{}) })
	client := redis.NewClient(&redis.Options{
		Addr:     cfg.RedisAddr,
		Username: cfg.RedisUsername,
		Password: cfg.RedisPassword,
		DB:       cfg.RedisDB,
		// RESP2 needs no HELLO round trip; the cache uses no RESP3 feature.
		Protocol:        2,
		DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
		// Retrying is the breaker's job: a retry here would multiply the
		// latency an outage adds to every call.
		MaxRetries:            -1,
		DialerRetries:         1,
		DialTimeout:           cfg.DialTimeout,
		ReadTimeout:           cfg.ReadTimeout,
		WriteTimeout:          cfg.WriteTimeout,
		PoolTimeout:           cfg.PoolTimeout,
		PoolSize:              cfg.PoolSize,
		ContextTimeoutEnabled: true,
	})
	storeName := "redis"
	gauge := o.metrics.breakerState.WithLabelValues(storeName)
	gauge.Set(float64(gobreaker.StateClosed))
	logger := o.logger
	threshold := uint32(cfg.BreakerFailures)
	cb := gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "cache-" + storeName,
		MaxRequests: 1,
		Timeout:     cfg.BreakerOpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= threshold },
		IsExcluded:  func(err error) bool { return errors.Is(err, errCallerGone) },
		OnStateChange: func(name string, from, to gobreaker.State) {
			gauge.Set(float64(to))
			level := slog.LevelWarn
			if to == gobreaker.StateClosed {
				level = slog.LevelInfo
			}
			logger.Log(context.Background(), level, "cache: breaker state changed",
				"breaker", name, "from", from.String(), "to", to.String(), "addr", cfg.RedisAddr)
		},
	})
	return &RedisStore{client: client, cb: cb, opTimeout: cfg.OpTimeout, addr: cfg.RedisAddr}, nil
}

// Get implements Store.
func (s *RedisStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	var val []byte
	var found bool
	err := s.do(ctx, func(ctx context.Context) error {
		b, err := s.client.Get(ctx, key).Bytes()
		switch {
		case errors.Is(err, redis.Nil):
			return nil
		case err != nil:
			return err
		}
		val, found = b, true
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("get: %w", err)
	}
	return val, found, nil
}

// Set implements Store.
func (s *RedisStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return ErrInvalidTTL
	}
	if err := s.do(ctx, func(ctx context.Context) error {
		return s.client.Set(ctx, key, value, ttl).Err()
	}); err != nil {
		return fmt.Errorf("set: %w", err)
	}
	return nil
}

// Delete implements Store.
func (s *RedisStore) Delete(ctx context.Context, key string) error {
	if err := s.do(ctx, func(ctx context.Context) error {
		return s.client.Del(ctx, key).Err()
	}); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	return nil
}

// Close closes the Redis connections.
func (s *RedisStore) Close() error { return s.client.Close() }

// BreakerState returns the state of the store's circuit breaker.
func (s *RedisStore) BreakerState() gobreaker.State { return s.cb.State() }

// do runs op through the breaker with the store's deadline. Every error it
// returns wraps ErrUnavailable.
func (s *RedisStore) do(ctx context.Context, op func(context.Context) error) error {
	_, err := s.cb.Execute(func() (struct{}, error) {
		octx, cancel := context.WithTimeout(ctx, s.opTimeout)
		defer cancel()
		err := op(octx)
		if err != nil && callerDone(ctx) {
			return struct{}{}, fmt.Errorf("%w: %w", errCallerGone, err)
		}
		return struct{}{}, err
	})
	if err != nil {
		return fmt.Errorf("%w: redis %s: %w", ErrUnavailable, s.addr, err)
	}
	return nil
}

// callerDone reports whether the caller's context has ended. The deadline
// is checked directly because a socket deadline derived from it can fire
// before the context's own timer marks it done.
func callerDone(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

var redisLoggerOnce sync.Once

// slogRedisLogger routes go-redis's process-wide internal log lines (dial
// failures and the like) to slog.Default at debug level: the breaker state
// changes already tell operators about an outage, once, at warn level.
type slogRedisLogger struct{}

func (slogRedisLogger) Printf(ctx context.Context, format string, v ...any) {
	l := slog.Default()
	if l.Enabled(ctx, slog.LevelDebug) {
		l.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
	}
}
