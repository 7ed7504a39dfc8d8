package calls_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/bench/apistack"
	"github.com/laoyou/laoyou/infra/bench/calls"
	"github.com/laoyou/laoyou/shared/auth"
)

func TestMain(m *testing.M) { apistack.Main(m) }

// Every route the functions serve has a scenario, and every scenario a
// route: a new route must say how many calls it makes.
func TestEveryRouteHasAScenario(t *testing.T) {
	rows, stale := calls.Coverage(apistack.Routes(), calls.Scenarios)
	for _, r := range rows {
		require.True(t, r.Measured(), "route %s (%s) has no scenario in scenarios.go", r.Route.Key, r.Route.Function)
	}
	require.Empty(t, stale, "scenarios for routes no function serves")

	names := map[string]bool{}
	for _, s := range calls.Scenarios {
		require.False(t, names[s.Name], "scenario name %q used twice", s.Name)
		names[s.Name] = true
		require.NotContains(t, s.Name, " ", "names are benchmark names")
	}
}

func TestCoverageFindsGapsBothWays(t *testing.T) {
	routes := []apistack.Route{{Key: "GET /v1/a"}, {Key: "POST /v1/b"}}
	rows, stale := calls.Coverage(routes, []calls.Scenario{{Route: "GET /v1/a"}, {Route: "GET /v1/gone"}})
	require.Len(t, rows, 2)
	require.True(t, rows[0].Measured())
	require.False(t, rows[1].Measured())
	require.Equal(t, []string{"GET /v1/gone"}, stale)
}

func TestGoal(t *testing.T) {
	write := calls.Row{Route: apistack.Route{Key: "POST /v1/x"}}
	writeOnly := calls.Row{Route: apistack.Route{Key: "POST /v1/x"}, Scenario: &calls.Scenario{WriteOnly: true}}
	read := calls.Row{Route: apistack.Route{Key: "GET /v1/x"}}
	tests := []struct {
		name string
		row  calls.Row
		c    calls.Count
		want bool
	}{
		{name: "write: one write", row: write, c: calls.Count{Writes: 1}, want: true},
		{name: "write: a read and a write", row: write, c: calls.Count{Reads: 1, Writes: 1}, want: true},
		{name: "write: two reads", row: write, c: calls.Count{Reads: 2, Writes: 1}, want: false},
		{name: "write: two writes", row: write, c: calls.Count{Writes: 2}, want: false},
		{name: "write: none", row: write, c: calls.Count{}, want: false},
		{name: "write only: one write", row: writeOnly, c: calls.Count{Writes: 1}, want: true},
		{name: "write only: a read and a write", row: writeOnly, c: calls.Count{Reads: 1, Writes: 1}, want: false},
		{name: "read: one read", row: read, c: calls.Count{Reads: 1}, want: true},
		{name: "read: cached", row: read, c: calls.Count{}, want: true},
		{name: "read: a read and a write", row: read, c: calls.Count{Reads: 1, Writes: 1}, want: false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.row.MeetsGoal(tt.c), tt.name)
	}
}

// A write route has the same budget with an Idempotency-Key as without:
// the key's record belongs in the route's own write.
func TestGoalWithAKey(t *testing.T) {
	scenario := &calls.Scenario{}
	inBudget := calls.Count{Reads: 1, Writes: 1}
	tests := []struct {
		name  string
		keyed *calls.Count
		want  bool
	}{
		{name: "the key in the write", keyed: &calls.Count{Reads: 1, Writes: 1}, want: true},
		{name: "two writes of the key's own more", keyed: &calls.Count{Reads: 1, Writes: 3}, want: false},
		{name: "a read of the key more", keyed: &calls.Count{Reads: 2, Writes: 1}, want: false},
		{name: "a read route takes no key", keyed: nil, want: true},
	}
	for _, tt := range tests {
		row := calls.Row{Route: apistack.Route{Key: "POST /v1/x"}, Scenario: scenario, Cold: inBudget, Warm: inBudget, Keyed: tt.keyed}
		require.Equal(t, tt.want, row.KeyedMeetsGoal(), tt.name)
		require.Equal(t, tt.want, row.GoalMet(), tt.name)
	}
}

// The report says loudly what was not measured and which goals were
// missed, with the fix.
func TestMarkdown(t *testing.T) {
	claim := calls.Scenario{Route: "POST /v1/coupons/claim", Note: "the template is cached warm"}
	click := calls.Scenario{Route: "GET /v1/r/{code}", Fix: "Record clicks off the request path."}
	f := calls.Figures{Rows: []calls.Row{
		{
			Route: apistack.Route{Key: "POST /v1/coupons/claim", Access: auth.AnyUser}, Scenario: &claim,
			Cold:  calls.Count{Reads: 1, Writes: 1, Ops: []string{"GetItem", "TransactWriteItems"}},
			Warm:  calls.Count{Writes: 1, Ops: []string{"TransactWriteItems"}},
			Keyed: &calls.Count{Writes: 1},
		},
		{
			Route: apistack.Route{Key: "PUT /v1/admin/wechat"}, Scenario: &calls.Scenario{Route: "PUT /v1/admin/wechat"},
			Cold: calls.Count{Writes: 1}, Warm: calls.Count{Writes: 1},
			Keyed: &calls.Count{Writes: 3, Ops: []string{"PutItem", "PutItem", "UpdateItem"}},
		},
		{
			Route: apistack.Route{Key: "GET /v1/r/{code}"}, Scenario: &click,
			Cold: calls.Count{Reads: 2, Writes: 1}, Warm: calls.Count{Reads: 1, Writes: 1, Ops: []string{"GetItem", "PutItem"}},
		},
		{Route: apistack.Route{Key: "POST /v1/staff/visits", Function: "ReferralFunction"}},
	}}
	require.False(t, f.GoalsMet())
	md := f.Markdown()
	require.True(t, strings.HasPrefix(md, "**NOT MEASURED: `POST /v1/staff/visits` (ReferralFunction)"), md)
	require.Contains(t, md, "| `POST /v1/coupons/claim` | 1 + 1 | 0 + 1 | TransactWriteItems | 0 + 1 | yes |\n")
	require.Contains(t, md, "| `PUT /v1/admin/wechat` | 0 + 1 | 0 + 1 |  | 0 + 3 | **no**: with a key 0 + 3 |\n")
	require.Contains(t, md, "- `PUT /v1/admin/wechat` with an Idempotency-Key: 0 reads + 3 writes (PutItem, PutItem, UpdateItem), "+
		"goal 1 write and at most 1 read. The route writes the key's record in its own write, yet makes more calls")
	require.Contains(t, md, "| `GET /v1/r/{code}` | 2 + 1 | 1 + 1 | GetItem, PutItem |  | **no** |\n")
	require.Contains(t, md, "| `POST /v1/staff/visits` | **NOT MEASURED** |")
	require.Contains(t, md, "- `POST /v1/coupons/claim`: the template is cached warm.")
	require.Contains(t, md, "- `GET /v1/r/{code}`: cold 2 reads + 1 write, warm 1 read + 1 write, goal at most 1 call. Record clicks off the request path.")
	require.Contains(t, md, "- `POST /v1/staff/visits`: not measured.")
	require.Equal(t, "1 of 3 routes within their call budget cold, warm and with an Idempotency-Key; "+
		"over it: `GET /v1/r/{code}` (warm: 1 read + 1 write); "+
		"over it only with a key: `PUT /v1/admin/wechat` (0 reads + 3 writes); "+
		"NOT MEASURED: `POST /v1/staff/visits`", f.Summary())
}

// The whole table against DynamoDB Local: every scenario's requests do
// their work (the figures themselves are the benchmark's business).
func TestMeasure(t *testing.T) {
	f, err := calls.Measure(context.Background(), apistack.TestDB(t), nil)
	require.NoError(t, err)
	require.Len(t, f.Rows, len(apistack.Routes()))
	for _, r := range f.Rows {
		switch {
		case r.Measured() && r.Scenario.NoTable:
			require.Zero(t, r.Warm.Calls()+r.Cold.Calls(), "%s answers without the table", r.Route.Key)
		case r.Measured():
			require.Positive(t, r.Warm.Calls()+r.Cold.Calls(), "%s made no call at all", r.Route.Key)
		}
	}
}
