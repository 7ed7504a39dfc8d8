package localauth

import (
	"strings"
	"testing"
	"time"
)

// FuzzVerify: no Authorization header the authorizer has not signed is
// accepted, and none makes it panic.
func FuzzVerify(f *testing.F) {
	a, err := New("")
	if err != nil {
		f.Fatal(err)
	}
	good, err := a.Issue(TokenRequest{Sub: "u1", Tenant: "t1", Role: "patient"}, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(good, ".")
	f.Add("Bearer " + good)
	f.Add("Bearer " + parts[0] + "." + parts[1] + ".")
	f.Add("Bearer " + parts[0] + ".e30." + parts[2])
	f.Add("bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1MSJ9.")
	f.Add("Basic dTE6cGFzcw==")
	f.Add("")
	f.Fuzz(func(t *testing.T, header string) {
		claims, err := a.Verify(header)
		if err != nil {
			if claims != nil {
				t.Fatalf("claims returned with an error for %q", header)
			}
			return
		}
		// Only the one token we signed (however the scheme is written) passes.
		if !strings.HasSuffix(header, good) {
			t.Fatalf("accepted a token it did not sign: %q", header)
		}
	})
}
