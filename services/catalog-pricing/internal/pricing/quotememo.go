package pricing

import (
	"sync"
	"time"
)

// DefaultQuoteMemoSize bounds the decoded quotes a Service keeps in memory
// in front of its QuoteCache (see WithQuoteMemo).
const DefaultQuoteMemoSize = 4096

// quoteMemo keeps decoded quotes under their cache key in process memory,
// in front of the QuoteCache, so a repeated basket costs a map lookup
// instead of decoding the cached JSON (which was three quarters of a cached
// quote's CPU in BenchmarkQuote). The key carries the catalog and price
// versions, so a publication or price change is a miss by construction,
// exactly as in the QuoteCache; entries past their ExpireTime are never
// returned. Quotes are shared: callers must not modify a returned Quote's
// slices (the gRPC layer only reads them).
type quoteMemo struct {
	mu  sync.Mutex
	max int
	m   map[string]Quote
}

func newQuoteMemo(max int) *quoteMemo {
	return &quoteMemo{max: max, m: make(map[string]Quote)}
}

// get returns the quote stored under key if it is still valid at now.
func (c *quoteMemo) get(key string, now time.Time) (Quote, bool) {
	c.mu.Lock()
	q, ok := c.m[key]
	if ok && !q.ExpireTime.After(now) {
		delete(c.m, key)
		ok = false
	}
	c.mu.Unlock()
	return q, ok
}

// put stores q under key. When the memo is full it first drops expired
// quotes, then arbitrary ones (map order), until there is room.
func (c *quoteMemo) put(key string, q Quote, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; !ok && len(c.m) >= c.max {
		for k, v := range c.m {
			if !v.ExpireTime.After(now) {
				delete(c.m, k)
			}
		}
		for k := range c.m {
			if len(c.m) < c.max {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[key] = q
}

func (c *quoteMemo) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
