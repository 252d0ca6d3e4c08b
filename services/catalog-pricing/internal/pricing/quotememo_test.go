package pricing

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// TestQuoteMemoBoundAndExpiry: the memo never holds more than its bound,
// drops expired quotes first when full, and never returns an expired quote.
func TestQuoteMemoBoundAndExpiry(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	m := newQuoteMemo(3, 1<<30)
	m.put("old", Quote{Total: 1, ExpireTime: now.Add(time.Second)}, now, false)
	m.put("a", Quote{Total: 2, ExpireTime: now.Add(time.Hour)}, now, false)
	m.put("b", Quote{Total: 3, ExpireTime: now.Add(time.Hour)}, now, false)
	later := now.Add(2 * time.Second)
	if _, _, ok := m.get("old", later); ok {
		t.Fatal("expired quote returned")
	}
	m.put("old", Quote{Total: 1, ExpireTime: now.Add(time.Second)}, now, false)
	m.put("c", Quote{Total: 4, ExpireTime: now.Add(time.Hour)}, later, false)
	if n := m.len(); n != 3 {
		t.Fatalf("memo holds %d quotes; want 3", n)
	}
	for _, k := range []string{"a", "b", "c"} {
		if _, _, ok := m.get(k, later); !ok {
			t.Fatalf("valid quote %q dropped while an expired one could go", k)
		}
	}
	for i := range 10 {
		m.put(fmt.Sprint(i), Quote{Total: int64(i), ExpireTime: now.Add(time.Hour)}, later, false)
		if n := m.len(); n > 3 {
			t.Fatalf("memo holds %d quotes after %d puts; bound 3", n, i+1)
		}
	}
	if q, _, ok := m.get("9", later); !ok || q.Total != 9 {
		t.Fatalf("last put = %+v, %v; want it kept", q, ok)
	}
}

// TestQuoteMemoByteBound: the estimated bytes of the kept quotes never
// exceed the byte bound, whatever the count bound, and a quote heavier
// than the whole bound is not kept.
func TestQuoteMemoByteBound(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	line := QuoteLine{SKU: "SKU-1", Winning: Rule{Name: "priceLists/PL/prices/SKU-1", Explanation: "List price"},
		Candidates: make([]Candidate, 8)}
	q := Quote{Lines: []QuoteLine{line, line}, ExpireTime: now.Add(time.Hour)}
	w := quoteFootprint(q)
	m := newQuoteMemo(1000, 3*w+w/2)
	for i := range 20 {
		if m.put(fmt.Sprint(i), q, now, false) == nil {
			t.Fatalf("put %d not kept", i)
		}
		if m.bytes > m.maxBytes || m.len() > 3 {
			t.Fatalf("after %d puts the memo holds %d quotes, %d bytes; bounds 3 quotes (by bytes), %d bytes", i+1, m.len(), m.bytes, m.maxBytes)
		}
	}
	if m.len() != 3 || m.bytes != 3*w {
		t.Fatalf("memo holds %d quotes, %d bytes; want 3 and %d", m.len(), m.bytes, 3*w)
	}
	m.put("9", q, now, false) // replacing a key does not count it twice
	if m.bytes != 3*w {
		t.Fatalf("replacing an entry left %d bytes; want %d", m.bytes, 3*w)
	}
	big := Quote{Lines: make([]QuoteLine, 10000), ExpireTime: now.Add(time.Hour)}
	if m.put("big", big, now, false) != nil {
		t.Fatal("a quote heavier than the bound was kept")
	}
	if _, _, ok := m.get("big", now); ok {
		t.Fatal("a quote heavier than the bound is served")
	}
}

// TestQuoteMemoEvictsAnEighthAtOnce: a full memo makes room for an eighth
// of its bound in one pass, so the next puts need no pass over the whole
// memo; it never exceeds its bound.
func TestQuoteMemoEvictsAnEighthAtOnce(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	m := newQuoteMemo(64, 1<<30)
	for i := range 64 {
		m.put(fmt.Sprint(i), Quote{Total: int64(i), ExpireTime: now.Add(time.Hour)}, now, false)
	}
	if n := m.len(); n != 64 {
		t.Fatalf("memo holds %d quotes; want 64", n)
	}
	m.put("next", Quote{ExpireTime: now.Add(time.Hour)}, now, false)
	if n := m.len(); n != 64-8 {
		t.Fatalf("after the put that found the memo full it holds %d quotes; want %d", n, 64-8)
	}
	if _, _, ok := m.get("next", now); !ok {
		t.Fatal("the new quote was not kept")
	}
	for i := range 200 {
		m.put(fmt.Sprint("more", i), Quote{ExpireTime: now.Add(time.Hour)}, now, false)
		if n := m.len(); n > 64 {
			t.Fatalf("memo holds %d quotes; bound 64", n)
		}
	}
}

func TestQuoteMemoBytesFor(t *testing.T) {
	for _, c := range []struct {
		limit int64
		want  int
	}{
		{math.MaxInt64, DefaultQuoteMemoBytes}, // no limit
		{0, DefaultQuoteMemoBytes},
		{1 << 30, DefaultQuoteMemoBytes},
		{80 << 20, 20 << 20}, // svcmain's default MEMORY_LIMIT_MB
		{8 << 20, 2 << 20},
	} {
		if got := QuoteMemoBytesFor(c.limit); got != c.want {
			t.Errorf("QuoteMemoBytesFor(%d) = %d, want %d", c.limit, got, c.want)
		}
	}
}
