package grpcapi

import (
	"testing"
	"time"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
)

func TestQuoteMemo(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	m := newQuoteMemo(2)
	m.now = func() time.Time { return now }
	a, b, c := &catalogv1.QuoteLine{Sku: "A"}, &catalogv1.QuoteLine{Sku: "B"}, &catalogv1.QuoteLine{Sku: "C"}

	m.set("a", a, time.Minute)
	m.set("never", b, 0) // no TTL, not stored
	if got, ok := m.get("a"); !ok || got != a {
		t.Fatalf("get a = %v, %v; want the stored line itself", got, ok)
	}
	if _, ok := m.get("never"); ok {
		t.Fatal("an entry without TTL was stored")
	}
	now = now.Add(time.Minute)
	if _, ok := m.get("a"); ok {
		t.Fatal("a is served after its TTL")
	}

	// Full: a new key starts over; replacing a key does not.
	m.set("a", a, time.Hour)
	m.set("b", b, time.Hour)
	m.set("b", b, time.Hour)
	if _, ok := m.get("a"); !ok {
		t.Fatal("replacing b cleared the memo")
	}
	m.set("c", c, time.Hour)
	if _, ok := m.get("a"); ok {
		t.Fatal("a third key did not start the memo over")
	}
	if got, ok := m.get("c"); !ok || got != c {
		t.Fatalf("get c = %v, %v", got, ok)
	}
}

func TestPriceLiveKey(t *testing.T) {
	q := availQuery{channel: "web", customer: "C0001", currency: "EUR"}
	if got, want := priceLiveKey(7, -2, q, "SKU-1", 3), "7|-2|web|C0001|EUR|SKU-1|3"; got != want {
		t.Errorf("priceLiveKey = %q, want %q", got, want)
	}
}
