package share

import (
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCodesCarryAtLeast40BitsAndNoLookAlikes(t *testing.T) {
	for _, n := range []int{ReferralCodeLen, CouponCodeLen, GroupIDLen} {
		bits := float64(n) * math.Log2(float64(len(Alphabet)))
		require.GreaterOrEqual(t, bits, 40.0, "length %d", n)
	}
	for _, r := range "01OIL" {
		require.NotContains(t, Alphabet, string(r))
	}
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		c := NewCode(ReferralCodeLen)
		require.Len(t, c, ReferralCodeLen)
		require.False(t, seen[c], "repeated code %s", c)
		seen[c] = true
		for _, r := range c {
			require.Contains(t, Alphabet, string(r))
		}
	}
}

func TestCodesAreUniform(t *testing.T) {
	counts := map[rune]int{}
	const draws = 31 * 2000
	for i := 0; i < draws/10; i++ {
		for _, r := range NewCode(10) {
			counts[r]++
		}
	}
	require.Len(t, counts, len(Alphabet))
	for r, n := range counts {
		// Expected 2000 per symbol; a biased draw would skew the low symbols.
		require.InDelta(t, 2000, n, 300, "symbol %c", r)
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"ABCDEFGHJ", "ABCDEFGHJ", true},
		{"abcdefghj", "ABCDEFGHJ", true},
		{"abc-def ghj", "ABCDEFGHJ", true},
		{"ABCDEFGH", "", false},   // too short
		{"ABCDEFGHJK", "", false}, // too long
		{"ABCDEFGH0", "", false},  // 0 is not in the alphabet
		{"ABCDEFGHÄ", "", false},  // not ASCII
		{"../../etc", "", false},  // not a code at all
		{strings.Repeat("A", 100), "", false},
	}
	for _, tt := range tests {
		got, ok := Normalize(tt.in, ReferralCodeLen)
		require.Equal(t, tt.ok, ok, tt.in)
		require.Equal(t, tt.want, got, tt.in)
	}
}

var wechatScene = regexp.MustCompile(`^[0-9A-Za-z!#$&'()*+,/:;=?@._~-]{1,32}$`)

func TestLinksFitWeChat(t *testing.T) {
	links := Links{BaseURL: "https://h5.clinic.cn/s", MiniProgramPage: "pages/landing/index"}
	tenant := strings.Repeat("clinic-", 18) // longer than any scene could hold
	for _, l := range []Link{links.Referral(tenant, NewCode(ReferralCodeLen)), links.Group(tenant, NewCode(GroupIDLen))} {
		require.Regexp(t, wechatScene, l.Scene)
		require.LessOrEqual(t, len(l.Scene), MaxScene)
		require.True(t, strings.HasPrefix(l.MiniProgramPath, "/pages/landing/index?"), l.MiniProgramPath)
		require.True(t, strings.HasSuffix(l.MiniProgramPath, "?"+l.Scene), "path carries the scene's query")
		require.Equal(t, "https://h5.clinic.cn/s?"+l.Scene+"&t="+tenant, l.ShareURL, "the H5 link names the clinic too")
	}
}

func TestShareURLNamesTheClinic(t *testing.T) {
	tests := []struct{ base, tenant, want string }{
		{"https://h5.clinic.cn/s", "clinic-a", "https://h5.clinic.cn/s?r=ABC&t=clinic-a"},
		{"https://h5.clinic.cn/s?from=wx", "clinic-a", "https://h5.clinic.cn/s?from=wx&r=ABC&t=clinic-a"},
		{"https://h5.clinic.cn/s", "a b&c", "https://h5.clinic.cn/s?r=ABC&t=a+b%26c"},
		{"https://h5.clinic.cn/s", "", "https://h5.clinic.cn/s?r=ABC"},
		{"", "clinic-a", "?r=ABC&t=clinic-a"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, Links{BaseURL: tt.base}.Referral(tt.tenant, "ABC").ShareURL, tt)
	}
}

func TestCodePageHasNoLeadingSlashNorQuery(t *testing.T) {
	tests := []struct{ configured, want string }{
		{"/pages/landing/index", "pages/landing/index"},
		{"pages/landing/index", "pages/landing/index"},
		{"", "pages/landing/index"},
		{"/pages/landing/index?from=share", "pages/landing/index"},
		{"//pages/room/index#top", "pages/room/index"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, Links{MiniProgramPage: tt.configured}.CodePage(), tt.configured)
	}
}
