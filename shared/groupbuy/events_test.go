package groupbuy

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/event"
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

// The reactions read the ids back from events as written and as the stream
// hands them over (numbers and lists as other Go types); data that is not
// a group event's reads as no id.
func TestEventIDsReadBack(t *testing.T) {
	r := Room{GroupID: "G", Tenant: "t", DealID: "d", LeaderID: "a", Size: 3, Joined: 1,
		Members: []Member{{UserID: "a", Leader: true}}}
	now := time.Now()
	streamed := func(e event.Event) event.Event {
		var data map[string]any
		require.NoError(t, throughJSON(e.Data, &data))
		e.Data = data
		return e
	}
	tests := []struct {
		name                  string
		e                     event.Event
		deal, group, joinerID string
	}{
		{"opened", openedEvent(&r, now), "d", "G", ""},
		{"joined", joinedEvent(&r, "b", now), "d", "G", "b"},
		{"joined, streamed", streamed(joinedEvent(&r, "b", now)), "d", "G", "b"},
		{"failed, streamed", streamed(settledEvent(&r, Failed, now)), "d", "G", ""},
		{"ids not strings", event.Event{Data: map[string]any{"dealId": 7, "groupId": []any{"G"}, "userId": 1.5}}, "", "", ""},
		{"no data", event.Event{}, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.deal, dealOf(tt.e))
			group, joiner := JoinOf(tt.e)
			require.Equal(t, tt.group, group)
			require.Equal(t, tt.joinerID, joiner)
		})
	}
}

// throughJSON reads data into v the way the stream's consumers see it.
func throughJSON(data map[string]any, v any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
