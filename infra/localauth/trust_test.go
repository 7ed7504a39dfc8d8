package localauth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/token"
)

// Laoyou's own sign-in tokens pass the local authorizer exactly when API
// Gateway's would pass them: RS256 by a key of the issuer's JWKS, the
// issuer, the audience, not expired. The runner's own tokens still pass.
func TestTrustedIssuer(t *testing.T) {
	a, err := New("")
	require.NoError(t, err)
	const issuer = "http://127.0.0.1:3000"
	newKey := func() *token.RSAKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		return token.NewRSAKey(k)
	}
	current, previous, stranger := newKey(), newKey(), newKey()
	keys := token.KeySet{Current: current, Previous: []token.Key{previous}}
	a.Trust(issuer, keys.Keys)

	ctx := context.Background()
	now := time.Now()
	claims := func(mod func(*token.Claims)) token.Claims {
		c := token.Claims{Issuer: issuer, Audience: a.Audience, Subject: "wx-1", Tenant: "t1", Role: "staff",
			IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour)}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	signWith := func(k token.Key, c token.Claims) string {
		raw, err := token.KeySet{Current: k}.Sign(ctx, c)
		require.NoError(t, err)
		return raw
	}

	got, err := a.Verify("Bearer " + signWith(current, claims(nil)))
	require.NoError(t, err)
	require.Equal(t, "wx-1", got["sub"])
	require.Equal(t, "staff", got["role"])
	_, err = a.Verify(signWith(previous, claims(nil)))
	require.NoError(t, err, "a rotated-out key still listed in the JWKS")

	own, err := a.Issue(TokenRequest{Sub: "u1", Tenant: "t1", Role: "patient"}, time.Hour)
	require.NoError(t, err)
	_, err = a.Verify(own)
	require.NoError(t, err, "the runner's own tokens")

	for name, raw := range map[string]string{
		"a key not in the JWKS":                  signWith(stranger, claims(nil)),
		"another audience":                       signWith(current, claims(func(c *token.Claims) { c.Audience = "someone-else" })),
		"expired":                                signWith(current, claims(func(c *token.Claims) { c.IssuedAt, c.ExpiresAt = now.Add(-3*time.Hour), now.Add(-time.Second) })),
		"issued in the future":                   signWith(current, claims(func(c *token.Claims) { c.IssuedAt, c.ExpiresAt = now.Add(time.Hour), now.Add(2*time.Hour) })),
		"an untrusted issuer":                    signWith(current, claims(func(c *token.Claims) { c.Issuer = "https://evil.example.com" })),
		"the runner's issuer with a trusted key": signWith(current, claims(func(c *token.Claims) { c.Issuer = a.Issuer })),
	} {
		_, err := a.Verify(raw)
		require.ErrorIs(t, err, ErrInvalidToken, name)
	}
}
