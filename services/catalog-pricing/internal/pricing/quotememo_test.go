package pricing

import (
	"fmt"
	"testing"
	"time"
)

// TestQuoteMemoBoundAndExpiry: the memo never holds more than its bound,
// drops expired quotes first when full, and never returns an expired quote.
func TestQuoteMemoBoundAndExpiry(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	m := newQuoteMemo(3)
	m.put("old", Quote{Total: 1, ExpireTime: now.Add(time.Second)}, now)
	m.put("a", Quote{Total: 2, ExpireTime: now.Add(time.Hour)}, now)
	m.put("b", Quote{Total: 3, ExpireTime: now.Add(time.Hour)}, now)
	later := now.Add(2 * time.Second)
	if _, ok := m.get("old", later); ok {
		t.Fatal("expired quote returned")
	}
	m.put("old", Quote{Total: 1, ExpireTime: now.Add(time.Second)}, now)
	m.put("c", Quote{Total: 4, ExpireTime: now.Add(time.Hour)}, later)
	if n := m.len(); n != 3 {
		t.Fatalf("memo holds %d quotes; want 3", n)
	}
	for _, k := range []string{"a", "b", "c"} {
		if _, ok := m.get(k, later); !ok {
			t.Fatalf("valid quote %q dropped while an expired one could go", k)
		}
	}
	for i := range 10 {
		m.put(fmt.Sprint(i), Quote{Total: int64(i), ExpireTime: now.Add(time.Hour)}, later)
		if n := m.len(); n > 3 {
			t.Fatalf("memo holds %d quotes after %d puts; bound 3", n, i+1)
		}
	}
	if q, ok := m.get("9", later); !ok || q.Total != 9 {
		t.Fatalf("last put = %+v, %v; want it kept", q, ok)
	}
}
