package referral

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A binding replaced while still BOUND by one to another referrer leaves
// its former referrer a stale friend; any other replacement does not.
func TestReboundOf(t *testing.T) {
	binding := func(referrer string, stage Stage) Binding {
		return Binding{Tenant: "t", RefereeID: "bob", ReferrerID: referrer, Stage: stage}
	}
	tests := []struct {
		name          string
		before, after Binding
		want          bool
	}{
		{"bound, then bound to another referrer", binding("alice", Bound), binding("zoe", Bound), true},
		{"bound again to the same referrer", binding("alice", Bound), binding("alice", Bound), false},
		{"qualified before (never replaced)", binding("alice", Qualified), binding("zoe", Bound), false},
		{"rewarded before", binding("alice", Rewarded), binding("zoe", Bound), false},
		{"no referrer before", binding("", Bound), binding("zoe", Bound), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rb, ok := ReboundOf(tt.before, tt.after)
			require.Equal(t, tt.want, ok)
			if tt.want {
				require.Equal(t, Rebound{Tenant: "t", RefereeID: "bob", FormerReferrerID: "alice"}, rb)
			} else {
				require.Zero(t, rb)
			}
		})
	}
}
