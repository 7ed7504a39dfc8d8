package apierr

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A field error is a BadRequest whose message names the field, worded the
// same whichever layer caught it.
func TestFieldErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		msg  string
	}{
		{"missing", Missing("dealId"), `field "dealId" is required`},
		{"invalid", Invalid("groupSize", "must be between 2 and 50"), `field "groupSize" must be between 2 and 50`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, BadRequest, KindOf(tc.err))
			require.Equal(t, tc.msg, Message(tc.err))
		})
	}
}
