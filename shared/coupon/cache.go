package coupon

import (
	"context"
	"time"

	"github.com/laoyou/laoyou/shared/cache"
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
	Now    func() time.Time

	cache.Map[templateKey, *Template] // TTL; nil: known not to exist
}

type templateKey struct{ tenant, id string }

// NewTemplateCache caches src for ttl.
func NewTemplateCache(src TemplateSource, ttl time.Duration) *TemplateCache {
	return &TemplateCache{Source: src, Now: time.Now, Map: cache.Map[templateKey, *Template]{TTL: ttl}}
}

// Get returns the template, or nil if there is none, loading it when the
// cached copy is older than TTL.
func (c *TemplateCache) Get(ctx context.Context, tenant, id string) (*Template, error) {
	return c.Load(ctx, templateKey{tenant, id}, c.Now(), func(ctx context.Context) (*Template, error) {
		return c.Source.Template(ctx, tenant, id)
	})
}

// Forget drops a template, so this function sees a change at once.
func (c *TemplateCache) Forget(tenant, id string) {
	c.Map.Forget(templateKey{tenant, id})
}

// stockMemory remembers, in a warm function, which stock shards were found
// empty, so claims go to shards that still hold units and a sold-out
// template answers OUT_OF_STOCK without a write. Marks never lapse: a raise
// changes the stock in the key, so memory of the old stock is simply unused.
// A unit a refund gives back to a shard marked empty is not claimed through
// this function instance.
type stockMemory struct {
	shards cache.EmptyShards[stockKey]
}

type stockKey struct {
	tenant, template string
	stock            int64
}

func keyOf(t *Template) stockKey { return stockKey{t.Tenant, t.ID, t.Stock} }

// pick returns a random shard not known to be empty, or -1 if all are (or a
// limited stock has no shards, so holds nothing).
func (m *stockMemory) pick(t *Template) int {
	shard, ok := m.shards.Pick(keyOf(t), t.Shards, time.Time{})
	if !ok {
		return -1
	}
	return shard
}

// markEmpty records that shard was found empty.
func (m *stockMemory) markEmpty(t *Template, shard int) {
	m.shards.Empty(keyOf(t), shard, time.Time{})
}
