package grpcapi

import (
	"sync"
	"time"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
)

// quoteMemo holds live price quote lines in process, decoded, keyed by
// priceLiveKey (versions included, so a new catalog or price version
// never reads an older entry). Entries are shared, not copied: callers
// must treat a QuoteLine they get as read-only (lineAvailability copies
// what it puts into an answer). Before, the lines sat encoded in a
// cache.MemoryStore and each hot availability call decoded one per line,
// about 5 % of the gateway's CPU per call.
//
// Entries expire by the wall clock after their TTL, like the memory
// store's; when the memo holds max entries it starts over (keys of old
// versions are the bulk then, and a miss costs one QuotePrices call).
type quoteMemo struct {
	max int
	now func() time.Time

	mu      sync.RWMutex
	entries map[string]quoteEntry
}

type quoteEntry struct {
	line    *catalogv1.QuoteLine
	expires time.Time
}

func newQuoteMemo(max int) *quoteMemo {
	return &quoteMemo{max: max, now: time.Now, entries: map[string]quoteEntry{}}
}

// get returns the line stored under key while it has not expired.
func (m *quoteMemo) get(key string) (*catalogv1.QuoteLine, bool) {
	m.mu.RLock()
	e, ok := m.entries[key]
	m.mu.RUnlock()
	if !ok || !m.now().Before(e.expires) {
		return nil, false
	}
	return e.line, true
}

// set stores line under key for ttl (a non-positive ttl stores nothing).
// line must not be modified afterwards.
func (m *quoteMemo) set(key string, line *catalogv1.QuoteLine, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	e := quoteEntry{line: line, expires: m.now().Add(ttl)}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.entries[key]; !ok && len(m.entries) >= m.max {
		clear(m.entries)
	}
	m.entries[key] = e
}
