package localauth

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// sign builds a token with arbitrary claims and header, for the cases Issue
// would never produce.
func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

func TestVerify(t *testing.T) {
	a, err := New("")
	require.NoError(t, err)
	other, err := New("")
	require.NoError(t, err)

	now := time.Now()
	good, err := a.Issue(TokenRequest{Sub: "u1", Tenant: "t1", Role: "patient"}, time.Hour)
	require.NoError(t, err)
	base := func() jwt.MapClaims {
		return jwt.MapClaims{
			"sub": "u1", "tenant": "t1", "role": "patient",
			"iss": a.Issuer, "aud": a.Audience,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		}
	}
	with := func(k string, v any) jwt.MapClaims {
		c := base()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	rs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodRS256, a.key, a.kid, c) }
	pubDER := []byte(a.key.PublicKey.N.String())

	tests := []struct {
		name    string
		header  string
		wantErr error
	}{
		{"good token", "Bearer " + good, nil},
		{"lower-case scheme", "bearer " + good, nil},
		{"bare token as API Gateway allows", good, nil},
		{"aud as a list containing ours", "Bearer " + rs(with("aud", []string{"x", a.Audience})), nil},
		{"client_id when aud is absent", "Bearer " + rs(without(with("client_id", a.Audience), "aud")), nil},
		{"iat slightly ahead within leeway", "Bearer " + rs(with("iat", now.Add(10*time.Second).Unix())), nil},
		{"missing header", "", ErrNoToken},
		{"scheme only", "Bearer ", ErrNoToken},
		{"wrong scheme", "Basic " + good, ErrInvalidToken},
		{"garbage", "Bearer not.a.jwt", ErrInvalidToken},
		{"token from another key", "Bearer " + mustIssue(t, other), ErrInvalidToken},
		{"another key posing with our kid", "Bearer " + sign(t, jwt.SigningMethodRS256, other.key, a.kid, base()), ErrInvalidToken},
		{"no kid", "Bearer " + sign(t, jwt.SigningMethodRS256, a.key, "", base()), ErrInvalidToken},
		{"tampered payload", "Bearer " + tamper(t, good), ErrInvalidToken},
		{"wrong audience", "Bearer " + rs(with("aud", "someone-else")), ErrInvalidToken},
		{"no audience", "Bearer " + rs(with("aud", nil)), ErrInvalidToken},
		{"wrong issuer", "Bearer " + rs(with("iss", "https://evil.example")), ErrInvalidToken},
		{"expired", "Bearer " + rs(with("exp", now.Add(-time.Second).Unix())), ErrInvalidToken},
		{"no exp", "Bearer " + rs(with("exp", nil)), ErrInvalidToken},
		{"nbf in the future", "Bearer " + rs(with("nbf", now.Add(time.Hour).Unix())), ErrInvalidToken},
		{"iat in the future", "Bearer " + rs(with("iat", now.Add(time.Hour).Unix())), ErrInvalidToken},
		{"alg none", "Bearer " + sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, a.kid, base()), ErrInvalidToken},
		{"HS256 keyed with public material", "Bearer " + sign(t, jwt.SigningMethodHS256, pubDER, a.kid, base()), ErrInvalidToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			claims, err := a.Verify(tc.header)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.Nil(t, claims)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "u1", claims["sub"])
			require.Equal(t, "t1", claims["tenant"])
			require.Equal(t, "patient", claims["role"])
		})
	}
}

func without(c jwt.MapClaims, k string) jwt.MapClaims {
	delete(c, k)
	return c
}

func mustIssue(t *testing.T, a *Authority) string {
	t.Helper()
	tok, err := a.Issue(TokenRequest{Sub: "u1", Tenant: "t1", Role: "patient"}, time.Hour)
	require.NoError(t, err)
	return tok
}

// tamper swaps the payload for one claiming another role, keeping the
// original signature.
func tamper(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	m["role"] = "admin"
	raw, err = json.Marshal(m)
	require.NoError(t, err)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + parts[2]
}

func TestIssueClaims(t *testing.T) {
	a, err := New("")
	require.NoError(t, err)
	fixed := time.Unix(1_700_000_000, 0)
	a.Now = func() time.Time { return fixed }

	tests := []struct {
		name string
		req  TokenRequest
		want map[string]string
	}{
		{
			name: "required claims only; optional ones omitted",
			req:  TokenRequest{Sub: "u1", Tenant: "t1", Role: "staff"},
			want: map[string]string{
				"sub": "u1", "tenant": "t1", "role": "staff",
				"iss": DefaultIssuer, "aud": DefaultAudience,
				"iat": "1700000000", "exp": "1700003600",
			},
		},
		{
			name: "name and phone number",
			req:  TokenRequest{Sub: "u2", Tenant: "t1", Role: "patient", Name: "张三", PhoneNumber: "+8613800000000"},
			want: map[string]string{
				"sub": "u2", "tenant": "t1", "role": "patient",
				"name": "张三", "phone_number": "+8613800000000",
				"iss": DefaultIssuer, "aud": DefaultAudience,
				"iat": "1700000000", "exp": "1700003600",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := a.Issue(tc.req, time.Hour)
			require.NoError(t, err)
			claims, err := a.Verify("Bearer " + tok)
			require.NoError(t, err)
			require.Equal(t, tc.want, claims)

			h, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
			require.NoError(t, err)
			require.JSONEq(t, `{"alg":"RS256","typ":"JWT","kid":"`+a.KeyID()+`"}`, string(h))
		})
	}

	_, err = a.Issue(TokenRequest{Sub: "u1", Role: "patient"}, time.Hour)
	require.Error(t, err, "tenant is required")
}

func TestExpiryFollowsClock(t *testing.T) {
	a, err := New("")
	require.NoError(t, err)
	tok := mustIssue(t, a)
	a.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	_, err = a.Verify("Bearer " + tok)
	require.ErrorIs(t, err, ErrInvalidToken)
}

func TestFlatten(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{"x", "x"},
		{json.Number("1583348638"), "1583348638"},
		{json.Number("1.5"), "1.5"},
		{true, "true"},
		{[]any{"a", "b"}, "[a b]"},
		{map[string]any{"k": "v"}, `{"k":"v"}`},
		{nil, ""},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, flat(tc.in))
	}
}

func TestKeyFilePersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "jwt.pem")
	a, err := New(path)
	require.NoError(t, err)
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	tok := mustIssue(t, a)
	b, err := New(path) // a restart of the runner
	require.NoError(t, err)
	require.Equal(t, a.KeyID(), b.KeyID())
	_, err = b.Verify("Bearer " + tok)
	require.NoError(t, err)

	require.NoError(t, os.WriteFile(path, []byte("not a pem"), 0o600))
	_, err = New(path)
	require.Error(t, err)
}

func TestJWKS(t *testing.T) {
	a, err := New("")
	require.NoError(t, err)
	var set struct {
		Keys []struct{ Kty, Use, Alg, Kid, N, E string }
	}
	require.NoError(t, json.Unmarshal(a.JWKS(), &set))
	require.Len(t, set.Keys, 1)
	k := set.Keys[0]
	require.Equal(t, "RSA", k.Kty)
	require.Equal(t, "RS256", k.Alg)
	require.Equal(t, "sig", k.Use)
	require.Equal(t, a.KeyID(), k.Kid)

	// A verifier that knows only the JWKS accepts our tokens.
	n, err := base64.RawURLEncoding.DecodeString(k.N)
	require.NoError(t, err)
	e, err := base64.RawURLEncoding.DecodeString(k.E)
	require.NoError(t, err)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	_, err = jwt.Parse(mustIssue(t, a), func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(a.Issuer), jwt.WithAudience(a.Audience))
	require.NoError(t, err)

	var disc map[string]any
	require.NoError(t, json.Unmarshal(a.OpenIDConfiguration(), &disc))
	require.Equal(t, DefaultIssuer, disc["issuer"])
	require.Equal(t, DefaultIssuer+"/jwks.json", disc["jwks_uri"])
}
