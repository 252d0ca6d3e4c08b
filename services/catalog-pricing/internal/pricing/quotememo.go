package pricing

import (
	"sync"
	"sync/atomic"
	"time"
)

// DefaultQuoteMemoSize bounds the decoded quotes a Service keeps in memory
// in front of its QuoteCache (see WithQuoteMemo).
const DefaultQuoteMemoSize = 4096

// DefaultQuoteMemoBytes bounds the estimated memory (quoteFootprint) of
// the memoized quotes with their renderings: a 20-line quote with every
// rule kind and its full-view response weighs about 100 KB, so the byte
// bound, not the count, limits the memo for large quotes.
const DefaultQuoteMemoBytes = 64 << 20

// QuoteMemoBytesFor is the memo byte bound for a process whose Go memory
// is softly limited to limit bytes (debug.SetMemoryLimit; math.MaxInt64 or
// less than 1 for none): a quarter of the limit, at most
// DefaultQuoteMemoBytes. The memo's quotes are live heap the garbage
// collector marks on every cycle; at an 80 MiB limit
// (svcmain MEMORY_LIMIT_MB) a 64 MiB memo kept the heap at the limit and
// the collector running nearly all the time once varied baskets had
// filled it (BenchmarkQuoteVsEcho quote-varied: 1.1-1.4 ms of CPU per
// quote instead of 0.7-0.9 ms).
func QuoteMemoBytesFor(limit int64) int {
	if limit <= 0 || limit/4 >= DefaultQuoteMemoBytes {
		return DefaultQuoteMemoBytes
	}
	return int(limit / 4)
}

// quoteMemo keeps decoded quotes under their cache key in process memory,
// in front of the QuoteCache, so a repeated basket costs a map lookup
// instead of decoding the cached JSON (which was three quarters of a cached
// quote's CPU in BenchmarkQuote). The key carries the catalog and price
// versions, so a publication or price change is a miss by construction,
// exactly as in the QuoteCache; entries past their ExpireTime are never
// returned. Quotes are shared: callers must not modify a returned Quote's
// slices (the gRPC layer only reads them). Each entry also keeps what the
// API layer rendered from its quote (QuoteRendered), which lives and dies
// with the entry.
type quoteMemo struct {
	mu       sync.Mutex
	max      int
	maxBytes int
	bytes    int
	m        map[string]memoEntry
}

type memoEntry struct {
	q      Quote
	r      *renderings
	weight int
}

// quoteFootprint estimates the memory a memoized quote holds with its
// renderings: the quote, a response message per view and its encoding,
// so its strings about three times and a few hundred bytes of structs per
// line and candidate.
func quoteFootprint(q Quote) int {
	n := 1024
	for _, l := range q.Lines {
		n += 512 + 3*(len(l.SKU)+len(l.Winning.Name)+len(l.Winning.Explanation))
		for _, c := range l.Candidates {
			n += 512 + 3*(len(c.Rule.Name)+len(c.Rule.Explanation))
		}
	}
	return n
}

// renderings are the renderings of one memoized quote, one per view name
// (e.g. the gRPC response of a quote view, marshalled once), and whether
// the quote was written to the shared QuoteCache yet.
type renderings struct {
	m      sync.Map
	shared atomic.Bool
}

// get returns the rendering of q under view, rendering it on first use.
// Two first uses may both render; one result is kept and both callers get
// it, so every caller of one entry sees the same value.
func (r *renderings) get(view string, q Quote, render func(Quote, bool) any) any {
	if v, ok := r.m.Load(view); ok {
		return v
	}
	v, _ := r.m.LoadOrStore(view, render(q, true))
	return v
}

func newQuoteMemo(max, maxBytes int) *quoteMemo {
	return &quoteMemo{max: max, maxBytes: maxBytes, m: make(map[string]memoEntry)}
}

// get returns the quote stored under key, and its renderings, if it is
// still valid at now.
func (c *quoteMemo) get(key string, now time.Time) (Quote, *renderings, bool) {
	c.mu.Lock()
	e, ok := c.m[key]
	if ok && !e.q.ExpireTime.After(now) {
		c.drop(key, e)
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		return Quote{}, nil, false
	}
	return e.q, e.r, true
}

// put stores q under key with no renderings yet and returns the entry's
// renderings; shared says whether q is already in the QuoteCache. When the
// memo is full (count or estimated bytes) it first drops expired quotes,
// then arbitrary ones (map order) until an eighth of the count and of the
// bytes is free, so the scan over the whole memo runs once per many puts
// rather than on every put of a memo that varied baskets keep full. A
// quote heavier than the whole byte bound is not kept (nil).
func (c *quoteMemo) put(key string, q Quote, now time.Time, shared bool) *renderings {
	w := quoteFootprint(q)
	if w > c.maxBytes {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[key]; ok {
		c.drop(key, old)
	}
	full := func() bool { return len(c.m) >= c.max || c.bytes+w > c.maxBytes }
	if full() {
		for k, v := range c.m {
			if !v.q.ExpireTime.After(now) {
				c.drop(k, v)
			}
		}
		roomy := func() bool { return len(c.m) < c.max-c.max/8 && c.bytes+w <= c.maxBytes-c.maxBytes/8 }
		for k, v := range c.m {
			if roomy() {
				break
			}
			c.drop(k, v)
		}
	}
	r := &renderings{}
	r.shared.Store(shared)
	c.m[key] = memoEntry{q: q, r: r, weight: w}
	c.bytes += w
	return r
}

// drop removes entry e under key; c.mu is held.
func (c *quoteMemo) drop(key string, e memoEntry) {
	delete(c.m, key)
	c.bytes -= e.weight
}

func (c *quoteMemo) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
