package sqldb

import (
	"testing"
	"time"
)

func TestBackoffDoublesWithJitterAndCap(t *testing.T) {
	t.Parallel()
	p := retryPolicy{attempts: 10, base: 4 * time.Millisecond}
	for attempt := 1; attempt <= 9; attempt++ {
		full := p.base << min(attempt-1, 5) // 4, 8, ... capped at 128ms
		for range 200 {
			got := p.backoff(attempt)
			if got < full/2 || got > full {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", attempt, got, full/2, full)
			}
		}
	}
	if got := p.backoff(100); got > 32*p.base {
		t.Errorf("backoff(100) = %v, want at most 32×base", got)
	}
	if got := (retryPolicy{attempts: 3}).backoff(2); got != 0 {
		t.Errorf("backoff with zero base = %v, want 0", got)
	}
}
