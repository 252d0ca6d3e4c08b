// Package fakeclock is the manually advanced clock that tests hand to code
// taking a `func() time.Time` or a `Now() time.Time` clock: TTLs, leases,
// hold expiry, snapshot ages. It replaces sleeping in tests.
package fakeclock

import (
	"sync"
	"time"
)

// Start is a fixed, arbitrary instant tests can start from when the date
// does not matter.
var Start = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// Clock is a goroutine-safe clock that moves only when told to.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock at t.
func New(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d (backwards when d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
