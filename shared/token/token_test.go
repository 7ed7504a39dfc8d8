package token_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/token"
)

func TestSignRefusesIncompleteClaims(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	set := token.KeySet{Current: token.NewRSAKey(k)}
	now := time.Now()
	good := token.Claims{Issuer: "https://i", Audience: "a", Subject: "s", Tenant: "t", Role: "patient", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}

	raw, err := set.Sign(context.Background(), good)
	require.NoError(t, err)
	parts := strings.Split(raw, ".")
	require.Len(t, parts, 3)
	h, err := base64.RawURLEncoding.DecodeString(parts[0])
	require.NoError(t, err)
	var header map[string]string
	require.NoError(t, json.Unmarshal(h, &header))
	require.Equal(t, map[string]string{"alg": "RS256", "typ": "JWT", "kid": token.Thumbprint(&k.PublicKey)}, header)

	for name, mod := range map[string]func(*token.Claims){
		"no issuer":         func(c *token.Claims) { c.Issuer = "" },
		"no audience":       func(c *token.Claims) { c.Audience = "" },
		"no subject":        func(c *token.Claims) { c.Subject = "" },
		"no tenant":         func(c *token.Claims) { c.Tenant = "" },
		"no role":           func(c *token.Claims) { c.Role = "" },
		"expires when made": func(c *token.Claims) { c.ExpiresAt = c.IssuedAt },
	} {
		c := good
		mod(&c)
		_, err := set.Sign(context.Background(), c)
		require.Error(t, err, name)
	}
	_, err = token.KeySet{}.Sign(context.Background(), good)
	require.Error(t, err, "no key")
}

func TestDiscoveryPointsAtTheJWKSUnderTheIssuer(t *testing.T) {
	d := token.DiscoveryOf("https://abc.execute-api.ap-east-1.amazonaws.com/prod")
	require.Equal(t, "https://abc.execute-api.ap-east-1.amazonaws.com/prod", d.Issuer)
	require.Equal(t, "https://abc.execute-api.ap-east-1.amazonaws.com/prod/.well-known/jwks.json", d.JWKSURI)
	require.Equal(t, []string{"RS256"}, d.IDTokenSigningAlgValuesSupported)
}
