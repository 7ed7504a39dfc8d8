package dynamo

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/referral"
)

// One code per user, one user per code: of many first calls of one user
// at once (duplicates included), one saves its code and every other is
// answered with that code; a code another user holds is reported taken.
// A lost race is a result, never an error.
func TestSaveCodeConflicts(t *testing.T) {
	s := ReferralStore{Store: newGroupStore(t).Store}
	ctx := context.Background()
	code := func(user, value string) referral.Code {
		return referral.Code{Code: value, Tenant: "clinic-a", UserID: user, DisplayName: "王*", Role: auth.Patient, CreatedAt: t0}
	}

	const calls = 16
	conflicts := make([]*referral.CodeConflict, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			conflicts[i], err = s.SaveCode(ctx, code("u1", fmt.Sprintf("CODE%d", i%5))) // duplicates: five values among sixteen calls
			require.NoError(t, err)
		}()
	}
	wg.Wait()

	stored, _, err := s.CodeOf(ctx, "clinic-a", "u1")
	require.NoError(t, err)
	require.NotNil(t, stored)
	saved := 0
	for _, c := range conflicts {
		if c == nil {
			saved++
			continue
		}
		require.False(t, c.Taken)
		require.NotNil(t, c.Existing)
		require.Equal(t, stored.Code, c.Existing.Code, "a call that lost is answered with the code that won")
	}
	require.Equal(t, 1, saved, "one call of the user saves a code")

	conflict, err := s.SaveCode(ctx, code("u2", stored.Code))
	require.NoError(t, err)
	require.Equal(t, &referral.CodeConflict{Taken: true}, conflict, "another user's code is taken")
	mine, _, err := s.CodeOf(ctx, "clinic-a", "u2")
	require.NoError(t, err)
	require.Nil(t, mine, "a taken code writes nothing")
}
