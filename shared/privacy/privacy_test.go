package privacy

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMaskName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"张三", "张*"},
		{"张三丰", "张**"},
		{"欧阳娜娜娜", "欧***"},
		{"张", "张*"},
		{"Lily", "L***"},
		{"Li", "L***"},
		{"  ", Anonymous},
		{"", Anonymous},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, MaskName(tt.in), tt.in)
	}
}

func TestPhoneHashMatchesOneNumberHoweverWritten(t *testing.T) {
	pepper := []byte("pepper")
	same := []string{"13800138000", "138 0013 8000", "+86 138-0013-8000", "8613800138000"}
	want := PhoneHash(pepper, same[0])
	require.Len(t, want, 64)
	require.NotContains(t, want, "13800138000")
	for _, p := range same {
		require.Equal(t, want, PhoneHash(pepper, p), p)
	}
	require.NotEqual(t, want, PhoneHash(pepper, "13900139000"))
	require.NotEqual(t, want, PhoneHash([]byte("other pepper"), same[0]), "the pepper keys the hash")
	require.Empty(t, PhoneHash(pepper, ""))
	require.Empty(t, PhoneHash(pepper, "abc"))
}
