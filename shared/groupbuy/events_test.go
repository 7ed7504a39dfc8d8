package groupbuy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Subscribe messages quote the deal's title and the room's size, count and
// status from the events alone.
func TestEventsCarryWhatMessagesQuote(t *testing.T) {
	r := Room{GroupID: "G", Tenant: "t", DealID: "d", DealTitle: "闺蜜卡", LeaderID: "a", Size: 3, Joined: 1,
		Members: []Member{{UserID: "a", Leader: true}}}
	now := time.Now()
	tests := []struct {
		name   string
		data   map[string]any
		joined int
		status Status
	}{
		{"opened", openedEvent(&r, now).Data, 1, Open},
		{"joined, not full", joinedEvent(&r, "b", now).Data, 2, Open},
		{"joined, full", joinedEvent(&Room{DealTitle: "闺蜜卡", Size: 3, Joined: 2}, "c", now).Data, 3, Succeeded},
		{"succeeded", settledEvent(&Room{DealTitle: "闺蜜卡", Size: 3, Joined: 3}, Succeeded, now).Data, 3, Succeeded},
		{"failed", settledEvent(&Room{DealTitle: "闺蜜卡", Size: 3, Joined: 2}, Failed, now).Data, 2, Failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, "闺蜜卡", tt.data["dealTitle"])
			require.Equal(t, 3, tt.data["size"])
			require.Equal(t, tt.joined, tt.data["joined"])
			require.Equal(t, string(tt.status), tt.data["status"])
		})
	}
}
