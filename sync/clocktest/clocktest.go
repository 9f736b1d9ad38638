// Package clocktest has the clock that tests move by hand, for the code
// that takes its time from a func() time.Time (the engine's and the
// store's Now, the simulator's Options.Now).
package clocktest

import (
	"sync"
	"time"
)

// Clock is a clock that stands still until the test moves it. It is safe
// for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a clock showing t.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time: what the code under test reads.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
