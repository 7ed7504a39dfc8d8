package api

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A referee whose binding expired unqualified and who binds to another
// referrer (by code, or by joining their room) leaves the first referrer's
// friends once the stream has been read; a friend who stays bound, or
// qualified, stays listed. Reading the stream again changes nothing.
func TestReboundFriendLeavesTheFormerReferrer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		rebind func(t *testing.T, s *stack, referee, other who)
	}{
		{"by code", func(t *testing.T, s *stack, referee, other who) {
			r := s.bind(referee, s.codeOf(other))
			require.Equal(t, 200, r.Status, r.Body)
		}},
		{"by joining a room", func(t *testing.T, s *stack, referee, other who) {
			s.deal("clinic-a", "duo", map[string]any{"groupSize": 3})
			id := s.opened(other, "duo")
			require.Equal(t, 200, s.join(referee, id).Status)
			drainHooks(t, s) // the join's referral channel binds
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStack(t)
			clock := s.withClock()
			s.settings("clinic-a", `{"bindingWindowDays":10}`)
			alice, zoe := patient("clinic-a", "alice"), patient("clinic-a", "zoe")
			bob := s.referralBound(alice, "bob")
			s.referralBound(alice, "carol")
			drainHooks(t, s)
			require.Len(t, s.me(alice)["referrals"], 2)

			clock.Advance(11 * 24 * time.Hour)
			tt.rebind(t, s, bob, zoe)
			drainHooks(t, s)
			require.Len(t, s.me(zoe)["referrals"], 1, "bob is zoe's friend now")
			mine := s.me(alice)
			require.Len(t, mine["referrals"], 1, "and no longer alice's")
			require.Equal(t, 1.0, mine["counts"].(map[string]any)["bound"])

			drainHooks(t, s)
			require.Len(t, s.me(alice)["referrals"], 1)
		})
	}
}
