package auth

import (
	"strings"
	"testing"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/stretchr/testify/require"
)

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"u1", true},
		{"wx-o7xK2_newcomer.1:a@b|c", true},
		{strings.Repeat("a", 128), true},
		{"", false},
		{strings.Repeat("a", 129), false},
		{"has space", false},
		{"slash/", false},
		{"#hash", false},
		{"张三", false},
		{"new\nline", false},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, ValidID(tc.id), "%q", tc.id)
	}
}

func TestInvalidIDIsABadRequestNamingTheField(t *testing.T) {
	err := InvalidID("dealId")
	require.Equal(t, apierr.BadRequest, apierr.KindOf(err))
	require.Equal(t, `field "dealId" must be 1 to 128 letters, digits or _.:@|-`, apierr.Message(err))
}
