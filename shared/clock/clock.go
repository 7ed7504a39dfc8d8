// Package clock holds Settable, the clock tests and benchmarks move by hand.
// Production code takes a func() time.Time (time.Now in a function); a test
// passes a Settable's Now instead, so expiry, holds and TTLs are reached
// without waiting.
package clock

import (
	"sync"
	"time"
)

// Settable is a clock that stands still until it is set or advanced. It is
// safe for concurrent use: the functions under test read it from many
// goroutines.
type Settable struct {
	mu sync.Mutex
	t  time.Time
}

// At is a clock standing at t.
func At(t time.Time) *Settable { return &Settable{t: t} }

// Now is the clock's time.
func (c *Settable) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *Settable) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Advance moves the clock on by d.
func (c *Settable) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
