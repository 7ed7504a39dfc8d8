package clock

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSettable(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		move func(c *Settable)
		want time.Time
	}{
		{"stands still", func(*Settable) {}, t0},
		{"advanced", func(c *Settable) { c.Advance(90 * time.Second) }, t0.Add(90 * time.Second)},
		{"set back", func(c *Settable) { c.Set(t0.Add(-time.Hour)) }, t0.Add(-time.Hour)},
		{"set, then advanced", func(c *Settable) { c.Set(t0.Add(time.Hour)); c.Advance(time.Minute) }, t0.Add(61 * time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := At(t0)
			tc.move(c)
			require.Equal(t, tc.want, c.Now())
		})
	}
}

func TestSettableConcurrentUse(t *testing.T) {
	c := At(time.Time{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				c.Advance(time.Second)
				_ = c.Now()
			}
		}()
	}
	wg.Wait()
	require.Equal(t, time.Time{}.Add(1600*time.Second), c.Now())
}
