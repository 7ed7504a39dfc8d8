package auth

import (
	"strings"
	"testing"

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
