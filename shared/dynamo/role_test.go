package dynamo

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddbtest"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/referral"
)

// A grant that lands between a visit's read and its write is caught by the
// write's own condition: the qualification is refused (nothing written)
// and says which side is staff now, for either side, however many grants
// and visits race.
func TestQualificationChecksRolesInItsWrite(t *testing.T) {
	t.Parallel()
	db := ddbtest.New(t, ddbtest.WithoutStream())
	s := ReferralStore{Store: NewStore(db.Client, db.Table)}
	roles := RoleStore{Store: s.Store}
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Millisecond)

	// qualify plans, as the visit read it, the qualification of referee's
	// binding to referrer with neither side known to be staff.
	qualify := func(t *testing.T, referrer, referee, visitID string) (*referral.VisitConflict, error) {
		t.Helper()
		b := referral.Binding{Tenant: "clinic-a", RefereeID: referee, ReferrerID: referrer, Code: "C" + referee, Stage: referral.Bound, BoundAt: at}
		conflict, err := s.Bind(ctx, b, event.New(event.ReferralBound, "clinic-a", at, map[string]any{}))
		require.NoError(t, err)
		require.Nil(t, conflict)
		v := referral.RecordedVisit{Visit: referral.Visit{Tenant: "clinic-a", VisitID: visitID, UserID: referee, Kind: referral.Arrival,
			StaffID: "desk", StaffRole: auth.Staff, At: at}, Qualified: true, ReferrerID: referrer, Rewardable: true}
		q := &referral.Qualification{Binding: b, Rewardable: true,
			Event: event.New(event.ReferralQualified, "clinic-a", at, map[string]any{"visitId": visitID})}
		return s.RecordVisit(ctx, v, q)
	}

	tests := []struct {
		name              string
		grant             string // who is granted staff after the read
		referrer, referee bool   // the conflict's flags
	}{
		{"the referrer granted staff", "referrer", true, false},
		{"the referee granted staff", "referee", false, true},
		{"no grant", "", false, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids := map[string]string{"referrer": "alice-" + string(rune('a'+i)), "referee": "bob-" + string(rune('a'+i))}
			if tt.grant != "" {
				require.NoError(t, roles.SetRole(ctx, "clinic-a", ids[tt.grant], auth.Staff))
			}
			conflict, err := qualify(t, ids["referrer"], ids["referee"], "V-"+tt.name)
			require.NoError(t, err)
			if tt.grant == "" {
				require.Nil(t, conflict)
				return
			}
			require.NotNil(t, conflict)
			require.Equal(t, tt.referrer, conflict.StaffReferrer)
			require.Equal(t, tt.referee, conflict.StaffReferee)
			visit, err := s.VisitByID(ctx, "clinic-a", "V-"+tt.name)
			require.NoError(t, err)
			require.Nil(t, visit, "nothing written")
			who, err := s.VisitorOf(ctx, "clinic-a", ids["referee"])
			require.NoError(t, err)
			require.Equal(t, referral.Bound, who.Binding.Stage, "still bound")
		})
	}

	t.Run("grants racing qualifications", func(t *testing.T) {
		const n = 20
		var wg sync.WaitGroup
		outcomes := make([]*referral.VisitConflict, n)
		for i := range n {
			referrer, referee := "racer-"+string(rune('A'+i)), "friend-"+string(rune('A'+i))
			wg.Add(2)
			go func() {
				defer wg.Done()
				require.NoError(t, roles.SetRole(ctx, "clinic-a", referrer, auth.Staff))
			}()
			go func() {
				defer wg.Done()
				c, err := qualify(t, referrer, referee, "RACE-"+referee)
				require.NoError(t, err)
				outcomes[i] = c
			}()
		}
		wg.Wait()
		for i, c := range outcomes {
			referee := "friend-" + string(rune('A'+i))
			visit, err := s.VisitByID(ctx, "clinic-a", "RACE-"+referee)
			require.NoError(t, err)
			if c != nil {
				require.True(t, c.StaffReferrer, "refused only for the grant")
				require.Nil(t, visit, "a refused qualification wrote nothing")
				continue
			}
			require.NotNil(t, visit, "qualified before the grant")
		}
	})
}
