// Package tenant holds a clinic's (or clinic group's) program settings and a
// short-lived cache of them, so a warm request reads no configuration.
package tenant

import (
	"context"
	"sync"
	"time"
)

// Offer is what a newcomer is promised on a referral landing page.
type Offer struct {
	Title      string `json:"title" dynamodbav:"title"`
	TemplateID string `json:"templateId,omitempty" dynamodbav:"templateId,omitempty"`
}

// Settings are one tenant's program rules. Zero values mean the defaults.
type Settings struct {
	NewcomerOffer *Offer `json:"newcomerOffer" dynamodbav:"newcomerOffer,omitempty"`
}

// Source loads a tenant's settings; nil settings mean none were saved.
type Source interface {
	Settings(ctx context.Context, tenant string) (*Settings, error)
}

// Cache keeps settings for TTL. A stale read for a few seconds is fine for
// configuration (DESIGN.md, data rules).
type Cache struct {
	Source Source
	TTL    time.Duration
	Now    func() time.Time

	mu      sync.Mutex
	entries map[string]cached
}

type cached struct {
	s  Settings
	at time.Time
}

// NewCache caches src for ttl.
func NewCache(src Source, ttl time.Duration) *Cache {
	return &Cache{Source: src, TTL: ttl, Now: time.Now, entries: map[string]cached{}}
}

// Get returns the tenant's settings, loading them when the cached copy is
// older than TTL.
func (c *Cache) Get(ctx context.Context, tenant string) (Settings, error) {
	now := c.Now()
	c.mu.Lock()
	e, ok := c.entries[tenant]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.TTL {
		return e.s, nil
	}
	s, err := c.Source.Settings(ctx, tenant)
	if err != nil {
		return Settings{}, err
	}
	var v Settings
	if s != nil {
		v = *s
	}
	c.mu.Lock()
	c.entries[tenant] = cached{s: v, at: now}
	c.mu.Unlock()
	return v, nil
}
