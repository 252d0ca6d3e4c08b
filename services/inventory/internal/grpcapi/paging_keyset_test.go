package grpcapi

import (
	"testing"
	"time"
)

func TestKeysetPage(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	type item struct {
		id string
		at time.Time
	}
	key := func(i item) (string, time.Time) { return i.id, i.at }
	items := []item{{"c", t0.Add(3 * time.Second)}, {"b", t0.Add(2 * time.Second)}, {"a", t0.Add(time.Second)}}
	tok := pageToken{Scope: scope("x")}

	page, next := keysetPage(tok, 2, items, key)
	if len(page) != 2 || page[1].id != "b" || next == "" {
		t.Fatalf("first page = %v, next %q; want c,b and a token", page, next)
	}
	got, err := decodeToken(next, scope("x"))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "b" || got.Micros != items[1].at.UnixMicro() {
		t.Fatalf("token resumes after %q@%d, want b@%d", got.ID, got.Micros, items[1].at.UnixMicro())
	}
	if page, next := keysetPage(tok, 3, items, key); len(page) != 3 || next != "" {
		t.Fatalf("last page = %d items, next %q; want 3 and no token", len(page), next)
	}
}

func TestFilterState(t *testing.T) {
	values := map[string]int32{"STATE_UNSPECIFIED": 0, "STATE_HELD": 1}
	for _, raw := range []string{"HELD", "STATE_HELD"} {
		if v, err := filterState(values, raw); err != nil || v != 1 {
			t.Errorf("filterState(%q) = %d, %v; want 1", raw, v, err)
		}
	}
	for _, raw := range []string{"UNSPECIFIED", "GONE"} {
		if _, err := filterState(values, raw); err == nil {
			t.Errorf("filterState(%q) accepted", raw)
		}
	}
}
