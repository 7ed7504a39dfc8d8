package privacy

import (
	"regexp"
	"strings"
	"testing"
)

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// FuzzNormalizePhone: whatever a token's phone claim holds, the answer is
// "" or one E.164 number (a +86 one a mobile number), stable when
// normalised again, and the same however its separators are spaced.
func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"13800138000", "0086 13800138000", "+86 (0)13800138000", "１３８００１３８０００", "+86 138-0013-8000",
		"+1 (415) 555-2671", "+44 (0)20 7946 0958", "abc", "", "+", "00", "(0)", "+86 10 6552 9988", strings.Repeat("9", 40), "＋８６\u3000１３８"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := NormalizePhone(s)
		if n == "" {
			return
		}
		if !e164.MatchString(n) {
			t.Fatalf("NormalizePhone(%q) = %q: not E.164", s, n)
		}
		if strings.HasPrefix(n, "+86") && (len(n) != 14 || n[3] != '1') {
			t.Fatalf("NormalizePhone(%q) = %q: not a mainland mobile number", s, n)
		}
		if again := NormalizePhone(n); again != n {
			t.Fatalf("NormalizePhone is not stable on %q: %q", n, again)
		}
		if spaced := NormalizePhone(strings.Join(strings.Split(s, ""), " ")); spaced != n && !strings.Contains(s, "(0)") && !strings.HasPrefix(strings.TrimLeft(s, separators), "00") {
			t.Fatalf("NormalizePhone(%q) = %q, but spaced out %q", s, n, spaced)
		}
	})
}
