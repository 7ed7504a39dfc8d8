package coupon

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// TemplateSource loads one template; nil if there is none.
type TemplateSource interface {
	Template(ctx context.Context, tenant, id string) (*Template, error)
}

// TemplateCache keeps templates for TTL, absent ones too, so a warm claim
// reads no configuration (docs/DESIGN.md, data rules). A change reaches the
// claims of other warm functions within TTL.
type TemplateCache struct {
	Source TemplateSource
	TTL    time.Duration
	Now    func() time.Time

	mu      sync.Mutex
	entries map[templateKey]cachedTemplate
}

type templateKey struct{ tenant, id string }

type cachedTemplate struct {
	t  *Template // nil: known not to exist
	at time.Time
}

// NewTemplateCache caches src for ttl.
func NewTemplateCache(src TemplateSource, ttl time.Duration) *TemplateCache {
	return &TemplateCache{Source: src, TTL: ttl, Now: time.Now, entries: map[templateKey]cachedTemplate{}}
}

// Get returns the template, or nil if there is none, loading it when the
// cached copy is older than TTL.
func (c *TemplateCache) Get(ctx context.Context, tenant, id string) (*Template, error) {
	k := templateKey{tenant, id}
	now := c.Now()
	c.mu.Lock()
	e, ok := c.entries[k]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.TTL {
		return e.t, nil
	}
	t, err := c.Source.Template(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.entries) > 10_000 {
		clear(c.entries) // bounded: a flood of unknown ids must not grow it forever
	}
	c.entries[k] = cachedTemplate{t: t, at: now}
	c.mu.Unlock()
	return t, nil
}

// Forget drops a template, so this function sees a change at once.
func (c *TemplateCache) Forget(tenant, id string) {
	c.mu.Lock()
	delete(c.entries, templateKey{tenant, id})
	c.mu.Unlock()
}

// stockMemory remembers, in a warm function, which stock shards were found
// empty, so claims go to shards that still hold units and a sold-out
// template answers OUT_OF_STOCK without a write. A shard fills again only
// when the stock is raised, which changes the stock in the key: memory of
// the old stock is then simply unused.
type stockMemory struct {
	mu    sync.Mutex
	empty map[stockKey][]bool
}

type stockKey struct {
	tenant, template string
	stock            int64
}

func keyOf(t *Template) stockKey { return stockKey{t.Tenant, t.ID, t.Stock} }

// pick returns a random shard not known to be empty, or -1 if all are.
func (m *stockMemory) pick(t *Template) int {
	if t.Shards <= 0 {
		return -1 // a limited stock without shards holds nothing
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := m.empty[keyOf(t)]
	var open []int
	if seen != nil {
		open = make([]int, 0, t.Shards)
		for i := 0; i < t.Shards; i++ {
			if !seen[i] {
				open = append(open, i)
			}
		}
		if len(open) == 0 {
			return -1
		}
		return open[rand.IntN(len(open))]
	}
	return rand.IntN(t.Shards)
}

// markEmpty records that shard was found empty.
func (m *stockMemory) markEmpty(t *Template, shard int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.empty == nil || len(m.empty) > 10_000 {
		m.empty = map[stockKey][]bool{}
	}
	k := keyOf(t)
	seen := m.empty[k]
	if seen == nil {
		seen = make([]bool, t.Shards)
		m.empty[k] = seen
	}
	if shard >= 0 && shard < len(seen) {
		seen[shard] = true
	}
}
