package referral

import (
	"context"
	"time"

	"github.com/laoyou/laoyou/shared/event"
)

// Opened is a share link's open as recorded by Open, not yet known to be
// of an existing code.
type Opened struct {
	ID       string // the open's id, the click event's id: counted once however often delivered
	Code     string
	OpenedAt time.Time
}

// Clicks turns opens into referral.clicked events of their codes'
// tenants; opens of codes that do not exist give none. It is the funnel's
// click count, fed from the stream rather than the public route, which
// never reads.
func (s *Service) Clicks(ctx context.Context, opens []Opened) ([]event.Event, error) {
	return s.Store.ClickEvents(ctx, opens)
}
