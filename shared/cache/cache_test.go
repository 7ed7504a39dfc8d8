package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestMapKeepsValuesForTTL(t *testing.T) {
	for _, tc := range []struct {
		name  string
		putAt time.Time
		getAt time.Time
		fresh bool
	}{
		{"read at once", t0, t0, true},
		{"just under TTL", t0, t0.Add(5*time.Second - time.Nanosecond), true},
		{"at TTL it is stale", t0, t0.Add(5 * time.Second), false},
		{"long after", t0, t0.Add(time.Hour), false},
		{"stamped a moment after the read counts", t0.Add(time.Millisecond), t0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewMap[string, int](5 * time.Second)
			c.Put("k", 7, tc.putAt)
			v, ok := c.Get("k", tc.getAt)
			require.Equal(t, tc.fresh, ok)
			if tc.fresh {
				require.Equal(t, 7, v)
			} else {
				require.Zero(t, v)
			}
		})
	}
}

func TestMapForgetAndZeroTTL(t *testing.T) {
	c := NewMap[string, int](time.Minute)
	_, ok := c.Get("k", t0)
	require.False(t, ok, "nothing kept yet")
	c.Put("k", 1, t0)
	c.Forget("k")
	_, ok = c.Get("k", t0)
	require.False(t, ok, "forgotten")

	var zero Map[string, int]
	zero.Put("k", 1, t0)
	_, ok = zero.Get("k", t0)
	require.False(t, ok, "TTL 0: nothing is ever fresh")
}

func TestMapIsBounded(t *testing.T) {
	c := NewMap[int, int](time.Minute)
	for i := range DefaultMax + 1 {
		c.Put(i, i, t0)
	}
	_, ok := c.Get(0, t0)
	require.False(t, ok, "a flood of keys drops what was kept")
	_, ok = c.Get(DefaultMax, t0)
	require.True(t, ok, "the newest is kept")
}

func TestMapLoad(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name      string
		results   []error // what each load call returns
		at        []time.Duration
		wantLoads int
		wantErr   []error
	}{
		{"a fresh value is not loaded again", []error{nil}, []time.Duration{0, time.Second}, 1, []error{nil, nil}},
		{"a stale value is loaded again", []error{nil, nil}, []time.Duration{0, 5 * time.Second}, 2, []error{nil, nil}},
		{"an error is not kept", []error{boom, nil}, []time.Duration{0, 0}, 2, []error{boom, nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewMap[string, *int](5 * time.Second)
			loads := 0
			for i, d := range tc.at {
				v, err := c.Load(context.Background(), "k", t0.Add(d), func(context.Context) (*int, error) {
					loads++
					return nil, tc.results[loads-1] // nil: known not to exist, kept as such
				})
				require.ErrorIs(t, err, tc.wantErr[i])
				require.Nil(t, v)
			}
			require.Equal(t, tc.wantLoads, loads)
		})
	}
}

func TestMapConcurrentUse(t *testing.T) {
	c := NewMap[string, int](time.Minute)
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				k := fmt.Sprint(i % 8)
				_, _ = c.Load(context.Background(), k, t0, func(context.Context) (int, error) { return g, nil })
				if i%50 == 0 {
					c.Forget(k)
				}
			}
		}()
	}
	wg.Wait()
	_, ok := c.Get("0", t0)
	require.True(t, ok)
}

func TestEmptyShardsPick(t *testing.T) {
	for _, tc := range []struct {
		name     string
		remember time.Duration
		marked   []int         // shards found empty at t0
		n        int           // shards the stock has
		at       time.Duration // when picked, after t0
		want     []int         // shards a pick may return; none: sold out
	}{
		{"nothing known: any shard", time.Minute, nil, 4, 0, []int{0, 1, 2, 3}},
		{"empty shards are passed over", time.Minute, []int{0, 2}, 4, 0, []int{1, 3}},
		{"a mark made a moment after the pick counts", time.Minute, []int{0, 1, 2}, 4, -time.Millisecond, []int{3}},
		{"all known empty: sold out", time.Minute, []int{0, 1, 2}, 3, 0, nil},
		{"a shard added since is tried", time.Minute, []int{0, 1, 2}, 4, 0, []int{3}},
		{"the memory lapses", time.Minute, []int{0, 1, 2}, 3, time.Minute, []int{0, 1, 2}},
		{"Remember 0: it never lapses", 0, []int{0, 1, 2}, 3, 24 * time.Hour, nil},
		{"no shards: nothing to pick", time.Minute, nil, 0, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := EmptyShards[string]{Remember: tc.remember}
			for _, s := range tc.marked {
				m.Empty("k", s, t0)
			}
			seen := map[int]bool{}
			for range 200 {
				s, ok := m.Pick("k", tc.n, t0.Add(tc.at))
				require.Equal(t, len(tc.want) > 0, ok)
				if ok {
					seen[s] = true
				}
			}
			want := map[int]bool{}
			for _, s := range tc.want {
				want[s] = true
			}
			require.Equal(t, want, seen, "random over the shards not known empty")
		})
	}
}

func TestEmptyShardsForgetAndKeys(t *testing.T) {
	var m EmptyShards[string]
	m.Empty("a", 0, t0)
	_, ok := m.Pick("a", 1, t0)
	require.False(t, ok)
	_, ok = m.Pick("b", 1, t0)
	require.True(t, ok, "another key knows nothing of a's shards")
	m.Forget("a")
	_, ok = m.Pick("a", 1, t0)
	require.True(t, ok, "forgotten: tried again")

	m = EmptyShards[string]{Remember: time.Minute}
	m.Empty("a", 0, t0.Add(time.Minute))
	m.Empty("a", 0, t0) // an earlier clock read does not shorten the mark
	_, ok = m.Pick("a", 1, t0.Add(time.Minute+time.Second))
	require.False(t, ok)
}

func TestEmptyShardsConcurrentUse(t *testing.T) {
	m := EmptyShards[int]{Remember: time.Minute}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				if s, ok := m.Pick(i%4, 8, t0); ok {
					m.Empty(i%4, s, t0)
				}
				if g == 0 && i == 50 {
					m.Forget(1)
				}
			}
		}()
	}
	wg.Wait()
	_, ok := m.Pick(0, 8, t0)
	require.False(t, ok, "every shard of key 0 was found empty, at most 8 picks in")
}
