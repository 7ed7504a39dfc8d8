package share

import (
	"strings"
	"testing"
)

// FuzzNormalize: whatever a person types, a code comes out only when it is
// exactly n symbols of the alphabet, and reading it again changes nothing.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"hx7k-2pq9r", "HX7K 2PQ9R", "0O1IL", "", "ｈｘ７", "ABCDEFGHJK", strings.Repeat("-", 50)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, n := range []int{ReferralCodeLen, CouponCodeLen, GroupIDLen} {
			code, ok := Normalize(s, n)
			if !ok {
				if code != "" {
					t.Fatalf("Normalize(%q) = %q but not ok", s, code)
				}
				continue
			}
			if len(code) != n {
				t.Fatalf("Normalize(%q, %d) = %q: wrong length", s, n, code)
			}
			for _, r := range code {
				if !strings.ContainsRune(Alphabet, r) {
					t.Fatalf("Normalize(%q) = %q: %q is not in the alphabet", s, code, r)
				}
			}
			if again, ok := Normalize(code, n); !ok || again != code {
				t.Fatalf("Normalize is not stable on %q: %q, %v", code, again, ok)
			}
		}
	})
}
