package fakeclock

import (
	"sync"
	"testing"
	"time"
)

func TestClockMovesOnlyWhenTold(t *testing.T) {
	t.Parallel()
	c := New(Start)
	if got := c.Now(); !got.Equal(Start) {
		t.Fatalf("Now = %v, want %v", got, Start)
	}
	c.Advance(90 * time.Second)
	if got, want := c.Now(), Start.Add(90*time.Second); !got.Equal(want) {
		t.Fatalf("after Advance: %v, want %v", got, want)
	}
	c.Set(Start)
	if got := c.Now(); !got.Equal(Start) {
		t.Fatalf("after Set: %v, want %v", got, Start)
	}
}

func TestClockConcurrentAdvance(t *testing.T) {
	t.Parallel()
	c := New(Start)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			for range 100 {
				c.Advance(time.Millisecond)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	if got, want := c.Now(), Start.Add(time.Second); !got.Equal(want) {
		t.Fatalf("Now = %v, want %v", got, want)
	}
}
