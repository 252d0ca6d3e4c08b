package cache

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// MemoryStore is a bounded in-process Store: entries expire after their
// TTL (by the injected clock) and the least recently used ones are evicted
// when the entry count or the total size of keys and values exceeds its
// bounds. It is the fallback when no Redis is configured; it never
// returns ErrUnavailable.
type MemoryStore struct {
	now        func() time.Time
	maxEntries int
	maxBytes   int64

	mu    sync.Mutex
	ll    *list.List // front = most recently used; elements hold *memEntry
	items map[string]*list.Element
	bytes int64
}

type memEntry struct {
	key     string
	value   []byte
	expires time.Time
}

func (e *memEntry) size() int64 { return int64(len(e.key) + len(e.value)) }

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an in-process store holding at most maxEntries
// entries and maxBytes bytes of keys plus values (non-positive values take
// DefaultMemoryMaxEntries and DefaultMemoryMaxBytes). WithClock sets its
// clock.
func NewMemoryStore(maxEntries int, maxBytes int64, opts ...Option) *MemoryStore {
	o := buildOptions(opts)
	if maxEntries <= 0 {
		maxEntries = DefaultMemoryMaxEntries
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMemoryMaxBytes
	}
	return &MemoryStore{
		now:        o.now,
		maxEntries: maxEntries,
		maxBytes:   maxBytes,
		ll:         list.New(),
		items:      make(map[string]*list.Element),
	}
}

// Get implements Store.
func (s *MemoryStore) Get(_ context.Context, key string) ([]byte, bool, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.items[key]
	if !ok {
		return nil, false, nil
	}
	e := el.Value.(*memEntry)
	if !now.Before(e.expires) {
		s.removeLocked(el)
		return nil, false, nil
	}
	s.ll.MoveToFront(el)
	return append([]byte(nil), e.value...), true, nil
}

// Set implements Store.
func (s *MemoryStore) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return ErrInvalidTTL
	}
	e := &memEntry{key: key, value: append([]byte(nil), value...), expires: s.now().Add(ttl)}
	if e.size() > s.maxBytes {
		return ErrTooLarge
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.items[key]; ok {
		s.removeLocked(el)
	}
	s.items[key] = s.ll.PushFront(e)
	s.bytes += e.size()
	for s.ll.Len() > s.maxEntries || s.bytes > s.maxBytes {
		s.removeLocked(s.ll.Back())
	}
	return nil
}

// Delete implements Store.
func (s *MemoryStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.items[key]; ok {
		s.removeLocked(el)
	}
	return nil
}

// Close drops every entry.
func (s *MemoryStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ll.Init()
	clear(s.items)
	s.bytes = 0
	return nil
}

// Len returns the number of entries held, expired ones included until they
// are looked up or evicted.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ll.Len()
}

func (s *MemoryStore) removeLocked(el *list.Element) {
	e := s.ll.Remove(el).(*memEntry)
	delete(s.items, e.key)
	s.bytes -= e.size()
}
