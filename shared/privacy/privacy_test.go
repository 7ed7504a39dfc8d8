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
	same := []string{"13800138000", "138 0013 8000", "+86 138-0013-8000", "8613800138000", "0086 13800138000", "+86 (0)13800138000", "１３８００１３８０００"}
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

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		name, in, want string // want "" when the claim is ignored
	}{
		{"E.164", "+8613800138000", "+8613800138000"},
		{"bare mainland mobile", "13800138000", "+8613800138000"},
		{"00 for +", "0086 13800138000", "+8613800138000"},
		{"00 without a space", "008613800138000", "+8613800138000"},
		{"(0) trunk digit", "+86 (0)13800138000", "+8613800138000"},
		{"full-width digits", "１３８００１３８０００", "+8613800138000"},
		{"full-width plus, parentheses and ideographic spaces", "＋８６\u3000（０）１３８\u3000００１３\u3000８０００", "+8613800138000"},
		{"dashes", "+86 138-0013-8000", "+8613800138000"},
		{"country code in parentheses, dots", "(+86) 138.0013.8000", "+8613800138000"},
		{"dots", "+86.138.0013.8000", "+8613800138000"},
		{"86 without a plus", "8613800138000", "+8613800138000"},
		{"surrounding spaces", "  13800138000\t", "+8613800138000"},
		{"unicode dashes", "138\u20140013\u20138000", "+8613800138000"},
		{"another country", "+1 (415) 555-2671", "+14155552671"},
		{"another country with a trunk digit", "+44 (0)20 7946 0958", "+442079460958"},
		{"another country by 00", "00852 9123 4567", "+85291234567"},
		{"empty", "", ""},
		{"letters", "abc", ""},
		{"letters inside", "+86 138001380OO", ""},
		{"an extension", "+1 415 555 2671 x12", ""},
		{"a second plus", "+86+13800138000", ""},
		{"too short", "+86 1380", ""},
		{"seven digits", "+1234567", ""},
		{"too long", "+1234567890123456", ""},
		{"a mainland landline", "+86 10 6552 9988", ""},
		{"a mainland number of 12 digits", "+86 138001380001", ""},
		{"a bare landline", "010-6552-9988", ""},
		{"a bare number of another length", "1380013800", ""},
		{"a country code starting with 0", "+0 123 456 789", ""},
		{"000", "000 86 13800138000", ""},
		{"only separators", " - . ( ) ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, NormalizePhone(tt.in), tt.in)
		})
	}
}
