package auth

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/grpcserver"
)

// RateLimiter is a token bucket per key: per API key ([RateLimiter.Limit],
// every authenticated call takes one token) or per customer (the
// gateway's order limit charges each CreateOrder to its customer); an
// empty bucket fails the call with RESOURCE_EXHAUSTED,
// ERROR_REASON_RATE_LIMITED and a RetryInfo saying when a token is back.
// A nil *RateLimiter allows everything.
type RateLimiter struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu   sync.Mutex
	keys map[string]*rate.Limiter
}

// NewRateLimiter allows perSecond calls per key with bursts of burst. A
// perSecond of 0 or less disables limiting (Allow always succeeds).
func NewRateLimiter(perSecond float64, burst int, now func() time.Time) *RateLimiter {
	if now == nil {
		now = time.Now
	}
	return &RateLimiter{limit: rate.Limit(perSecond), burst: max(burst, 1), now: now, keys: map[string]*rate.Limiter{}}
}

// Allow takes a token for keyID, or returns how long until one is available.
func (r *RateLimiter) Allow(keyID string) (bool, time.Duration) {
	if r == nil || r.limit <= 0 {
		return true, 0
	}
	r.mu.Lock()
	l, ok := r.keys[keyID]
	if !ok {
		l = rate.NewLimiter(r.limit, r.burst)
		r.keys[keyID] = l
	}
	r.mu.Unlock()
	now := r.now()
	res := l.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Limit wraps an AuthFunc so every call it authenticates is also charged to
// the caller's key.
func (r *RateLimiter) Limit(next grpcserver.AuthFunc) grpcserver.AuthFunc {
	return func(ctx context.Context, fullMethod string) (context.Context, error) {
		ctx, err := next(ctx, fullMethod)
		if err != nil {
			return nil, err
		}
		if p, ok := FromContext(ctx); ok {
			if allowed, wait := r.Allow(p.KeyID); !allowed {
				return nil, apierr.RateLimited("rate limit of the API key exceeded; retry later", max(wait, time.Millisecond))
			}
		}
		return ctx, nil
	}
}
