package api

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A bind or a visit that finds no tenant settings cached reads them with
// its own read, in one call: one read and one write however cold.
func TestColdReferralWritesReadOnce(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.settings("clinic-a", `{"bindingWindowDays":30}`)
	s.deps.Settings.TTL = 0 // nothing cached is ever fresh: every request is cold
	alice, bob := patient("clinic-a", "alice"), patient("clinic-a", "bob")
	code := s.codeOf(alice)

	tests := []struct {
		name string
		do   func() reply
		ok   int
	}{
		{"bind", func() reply { return s.bind(bob, code) }, 200},
		{"a visit that qualifies", func() reply { return s.visit("clinic-a", "HIS-1", bob, "arrival", 0) }, 200},
	}
	for _, tt := range tests {
		r := tt.do()
		require.Equal(t, tt.ok, r.Status, r.Body)
		require.Equal(t, 1, r.Calls.Reads(), "%s: %v", tt.name, r.Calls.Ops())
		require.Equal(t, 1, r.Calls.Writes(), "%s: %v", tt.name, r.Calls.Ops())
	}
	require.Equal(t, []string{"QUALIFIED"}, s.stages(alice), "the settings read with the binding applied")
}
