package correlation

import (
	"context"
	"strings"
	"testing"
)

func TestNewIsValidAndUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		id := New()
		if !Valid(id) {
			t.Fatalf("New() = %q, not Valid", id)
		}
		if seen[id] {
			t.Fatalf("New() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestContextRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if id, ok := FromContext(ctx); ok || id != "" {
		t.Fatalf("FromContext(empty) = %q, %v; want \"\", false", id, ok)
	}
	ctx = WithID(ctx, "abc-123")
	if got := ID(ctx); got != "abc-123" {
		t.Fatalf("ID() = %q, want abc-123", got)
	}
	same, id := Ensure(ctx)
	if id != "abc-123" || ID(same) != "abc-123" {
		t.Fatalf("Ensure kept %q, want abc-123", id)
	}
	fresh, id := Ensure(context.Background())
	if id == "" || ID(fresh) != id {
		t.Fatalf("Ensure on empty ctx gave %q / %q", id, ID(fresh))
	}
}

func TestValid(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		"":                            false,
		"abc":                         true,
		"0f8fad5b-d9cb-469f-a165-70":  true,
		"trace:1.2_x":                 true,
		"has space":                   false,
		"new\nline":                   false,
		`quote"`:                      false,
		strings.Repeat("a", MaxLen):   true,
		strings.Repeat("a", MaxLen+1): false,
	}
	for id, want := range tests {
		if got := Valid(id); got != want {
			t.Errorf("Valid(%q) = %v, want %v", id, got, want)
		}
	}
}
