package api

import (
	"context"

	"github.com/laoyou/laoyou/shared/event"
)

// groupReactions are the group-buy's built-in reactions to events, applied
// by the hooks function before the tenant's rules.
func groupReactions(d *Deps) map[event.Type]func(context.Context, event.Event) error {
	return nil
}
