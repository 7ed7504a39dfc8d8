package referral

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/tenant"
)

func TestPlanVisit(t *testing.T) {
	now := time.Date(2026, 10, 31, 20, 0, 0, 0, time.UTC) // 1 November in China
	v := Visit{Tenant: "t", VisitID: "V1", UserID: "bob", Kind: Treatment, At: now}
	bound := func(ago time.Duration, stage Stage) *Binding {
		return &Binding{Tenant: "t", RefereeID: "bob", ReferrerID: "alice", Stage: stage, BoundAt: now.Add(-ago)}
	}
	day := 24 * time.Hour
	tests := []struct {
		name     string
		binding  *Binding
		settings tenant.Settings
		stage    Stage // "" for no referral
		qualify  bool
	}{
		{"not referred", nil, tenant.Settings{}, "", false},
		{"bound yesterday", bound(day, Bound), tenant.Settings{}, Qualified, true},
		{"bound 29 days ago", bound(29*day, Bound), tenant.Settings{}, Qualified, true},
		{"bound 30 days ago", bound(30*day, Bound), tenant.Settings{}, "", false},
		{"a shorter window", bound(8*day, Bound), tenant.Settings{BindingWindowDays: 7}, "", false},
		{"qualified before", bound(day, Qualified), tenant.Settings{}, Qualified, false},
		{"rewarded before", bound(40*day, Rewarded), tenant.Settings{}, Rewarded, false},
		{"reversed", bound(day, Reversed), tenant.Settings{}, Reversed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, q := planVisit(v, tt.binding, tt.settings)
			require.Equal(t, "V1", rec.Result.VisitID)
			if tt.stage == "" {
				require.Nil(t, rec.Result.Referral)
			} else {
				require.Equal(t, tt.stage, rec.Result.Referral.Stage)
			}
			require.Equal(t, tt.qualify, q != nil)
			require.Equal(t, tt.qualify, rec.Qualified)
		})
	}

	hold := 3
	rec, q := planVisit(v, bound(day, Bound), tenant.Settings{MonthlyCap: 4, HoldDays: &hold})
	require.Equal(t, 4, q.Cap)
	require.Equal(t, "2026-11", q.CapMonth, "the month in China")
	require.Equal(t, "2026-11", rec.CapMonth)
	require.Equal(t, "2026-11-03T20:00:00Z", q.Event.Data["releaseAt"])
	require.Equal(t, map[string]any{
		"referrerId": "alice", "refereeId": "bob", "visitId": "V1", "rewardable": true, "releaseAt": "2026-11-03T20:00:00Z",
	}, q.Event.Data, "ids only: no amount, no kind")

	_, q = planVisit(v, bound(day, Bound), tenant.Settings{})
	require.Zero(t, q.Cap, "no cap, no count")
}

func TestCapMonth(t *testing.T) {
	require.Equal(t, "2026-12", CapMonth(time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC)))
	require.Equal(t, "2026-11", CapMonth(time.Date(2026, 11, 30, 15, 59, 59, 0, time.UTC)))
}
