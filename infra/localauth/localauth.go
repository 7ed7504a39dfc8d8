// Package localauth is the local stand-in for two AWS pieces that a
// developer machine does not have: the identity provider that signs users'
// JWTs, and API Gateway's JWT authorizer that checks them before any Lambda
// function runs.
//
// The local runner (infra/runner) uses an Authority to answer
// POST /_local/token and GET /_local/jwks.json, and to verify the
// Authorization header of every request to a protected route, with the same
// rules API Gateway applies in AWS (signature with a key from the issuer's
// JWKS, alg RS256, iss, aud, exp, nbf, iat). Keeping those rules identical
// is the point: a handler that works locally sees the same claims and the
// same 401s it will see behind the real authorizer.
//
// Tokens are signed and parsed with golang-jwt; what is ours is the
// authorizer's rule set and the JWKS it serves, because no library stands
// in for API Gateway's authorizer, and a near copy would let a token pass
// locally that AWS refuses.
package localauth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/laoyou/laoyou/shared/token"
)

// Defaults for the issuer and audience. The issuer sits under the local
// runner's own address so that its discovery document and JWKS are served
// where an OIDC client would look for them.
const (
	DefaultIssuer   = "http://127.0.0.1:3000/_local"
	DefaultAudience = "laoyou-local"
)

// Leeway tolerated on nbf and iat, for clocks of other processes (a browser
// test, a load tool) that run a little ahead. exp gets none: API Gateway
// rejects a token the moment it expires.
const Leeway = 30 * time.Second

const keyBits = 2048

// Errors returned by Verify. Every failure wraps one of them, so a caller can
// tell "no credentials" from "bad credentials"; the runner answers 401 to both,
// as API Gateway does.
var (
	ErrNoToken      = errors.New("localauth: no token")
	ErrInvalidToken = errors.New("localauth: invalid token")
)

// TokenRequest is what a signed-in user's token says about them. Sub, Tenant
// and Role are the claims every handler relies on; Name and PhoneNumber are
// optional and left out of the token when empty.
type TokenRequest struct {
	Sub         string
	Tenant      string
	Role        string
	Name        string
	PhoneNumber string
}

// Authority signs and verifies tokens with one RS256 key.
type Authority struct {
	// Issuer is the iss written into tokens and required on verification.
	Issuer string
	// Audience is the aud written into tokens; verification accepts a token
	// whose aud (a string or a list) contains it.
	Audience string
	// Now returns the current time; tests replace it to check expiry.
	Now func() time.Time

	key *rsa.PrivateKey
	kid string

	// trusted are other issuers whose tokens are accepted too, each
	// verified against its own JWKS: Laoyou's own sign-in tokens.
	trusted map[string]KeySource
}

// KeySource lists an issuer's public keys, as its JWKS does.
type KeySource func(ctx context.Context) (token.JWKS, error)

// Trust accepts the tokens of issuer too, verified as API Gateway's JWT
// authorizer verifies them when issuer is its configured one: RS256, a kid
// of the issuer's JWKS, iss, Audience, exp. Keys are read from keys at each
// verification, so a rotation is seen at once.
func (a *Authority) Trust(issuer string, keys KeySource) {
	if a.trusted == nil {
		a.trusted = map[string]KeySource{}
	}
	a.trusted[issuer] = keys
}

// New returns an Authority with an RS256 key. With keyPath == "" the key is
// ephemeral (tokens die with the process). Otherwise the PEM at keyPath is
// loaded, or generated and saved there (mode 0600) when missing, so tokens
// issued before a restart of the local runner stay valid after it.
func New(keyPath string) (*Authority, error) {
	key, err := loadOrCreateKey(keyPath)
	if err != nil {
		return nil, err
	}
	return &Authority{
		Issuer:   DefaultIssuer,
		Audience: DefaultAudience,
		Now:      time.Now,
		key:      key,
		kid:      thumbprint(&key.PublicKey),
	}, nil
}

// LoadOrCreateKey loads the RSA key in the PEM at path, or generates and
// saves one there (mode 0600) when missing; "" makes a key that is never
// saved.
func LoadOrCreateKey(path string) (*rsa.PrivateKey, error) { return loadOrCreateKey(path) }

func loadOrCreateKey(path string) (*rsa.PrivateKey, error) {
	if path == "" {
		return rsa.GenerateKey(rand.Reader, keyBits)
	}
	data, err := os.ReadFile(path)
	if err == nil {
		key, perr := jwt.ParseRSAPrivateKeyFromPEM(data)
		if perr != nil {
			return nil, fmt.Errorf("localauth: key %s: %w", path, perr)
		}
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("localauth: read key: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return nil, fmt.Errorf("localauth: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("localauth: encode key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("localauth: key dir: %w", err)
	}
	// O_EXCL: if another process created the file since our read, use its key
	// rather than overwrite it and invalidate the tokens it already issued.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return loadOrCreateKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("localauth: save key: %w", err)
	}
	werr := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("localauth: save key: %w", werr)
	}
	return key, nil
}

// KeyID is the kid of the signing key: its RFC 7638 thumbprint, so the same
// key file always yields the same kid.
func (a *Authority) KeyID() string { return a.kid }

func (a *Authority) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Issue signs a token for c that expires after ttl.
func (a *Authority) Issue(c TokenRequest, ttl time.Duration) (string, error) {
	if c.Sub == "" || c.Tenant == "" || c.Role == "" {
		return "", errors.New("localauth: sub, tenant and role are required")
	}
	if ttl <= 0 {
		return "", errors.New("localauth: ttl must be positive")
	}
	now := a.now()
	claims := jwt.MapClaims{
		"sub":    c.Sub,
		"tenant": c.Tenant,
		"role":   c.Role,
		"iss":    a.Issuer,
		"aud":    a.Audience,
		"iat":    now.Unix(),
		"exp":    now.Add(ttl).Unix(),
	}
	if c.Name != "" {
		claims["name"] = c.Name
	}
	if c.PhoneNumber != "" {
		claims["phone_number"] = c.PhoneNumber
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = a.kid
	return tok.SignedString(a.key)
}

// Verify checks an Authorization header value the way API Gateway's JWT
// authorizer does and returns the token's claims flattened to strings, as
// they appear in requestContext.authorizer.jwt.claims.
//
// Accepted: "Bearer <jwt>" (scheme in any case) or the bare token, which API
// Gateway also accepts. Required: alg RS256, a kid naming our key (or, for
// an issuer of Trust, a key of its JWKS), a valid signature, iss equal to
// Issuer or a trusted one, aud (or client_id when aud is absent) containing
// Audience, exp in the future, nbf and iat not in the future (give or take
// Leeway).
func (a *Authority) Verify(authorizationHeader string) (map[string]string, error) {
	raw, err := bearer(authorizationHeader)
	if err != nil {
		return nil, err
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithJSONNumber(),          // keep numbers as their exact decimal text
		jwt.WithoutClaimsValidation(), // the time and aud rules are below, spelled out
	)
	claims := jwt.MapClaims{}
	_, err = parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		iss, _ := claims["iss"].(string)
		if keys, ok := a.trusted[iss]; ok && iss != a.Issuer {
			return trustedKey(keys, kid)
		}
		if kid != a.kid {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		return &a.key.PublicKey, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if err := a.checkClaims(claims); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	return flatten(claims), nil
}

// trustedKey finds kid in a trusted issuer's JWKS.
func trustedKey(keys KeySource, kid string) (any, error) {
	set, err := keys(context.Background())
	if err != nil {
		return nil, fmt.Errorf("issuer keys: %v", err)
	}
	for _, k := range set.Keys {
		if k.Kid != kid || k.Kty != "RSA" {
			continue
		}
		n, errN := base64.RawURLEncoding.DecodeString(k.N)
		e, errE := base64.RawURLEncoding.DecodeString(k.E)
		if errN != nil || errE != nil || len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("malformed key %q", kid)
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
	}
	return nil, fmt.Errorf("unknown kid %q", kid)
}

func bearer(h string) (string, error) {
	h = strings.TrimSpace(h)
	if h == "" || strings.EqualFold(h, "Bearer") {
		return "", ErrNoToken
	}
	scheme, rest, found := strings.Cut(h, " ")
	if !found {
		return h, nil // a bare token, as API Gateway allows
	}
	if !strings.EqualFold(scheme, "Bearer") {
		return "", fmt.Errorf("%w: scheme %q is not Bearer", ErrInvalidToken, scheme)
	}
	tok := strings.TrimSpace(rest)
	if tok == "" {
		return "", ErrNoToken
	}
	return tok, nil
}

func (a *Authority) checkClaims(c jwt.MapClaims) error {
	now := a.now()
	if iss, _ := c["iss"].(string); iss != a.Issuer && a.trusted[iss] == nil {
		return fmt.Errorf("issuer %q not accepted", iss)
	}
	aud, err := c.GetAudience()
	if err != nil {
		return fmt.Errorf("aud: %v", err)
	}
	if _, has := c["aud"]; !has {
		if cid, ok := c["client_id"].(string); ok {
			aud = jwt.ClaimStrings{cid}
		}
	}
	okAud := false
	for _, v := range aud {
		if v == a.Audience {
			okAud = true
		}
	}
	if !okAud {
		return fmt.Errorf("audience %v not accepted", []string(aud))
	}
	exp, err := c.GetExpirationTime()
	if err != nil || exp == nil {
		return errors.New("exp missing or malformed")
	}
	if !now.Before(exp.Time) {
		return errors.New("token expired")
	}
	for _, name := range []string{"nbf", "iat"} {
		if _, has := c[name]; !has {
			continue
		}
		t, err := numericDate(c[name])
		if err != nil {
			return fmt.Errorf("%s malformed", name)
		}
		if t.After(now.Add(Leeway)) {
			return fmt.Errorf("%s is in the future", name)
		}
	}
	return nil
}

func numericDate(v any) (time.Time, error) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, errors.New("not a number")
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, err
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
}

// flatten renders every claim as a string, like API Gateway: strings as
// they are, numbers as their decimal text, lists as "[a b]", objects as JSON.
func flatten(c jwt.MapClaims) map[string]string {
	out := make(map[string]string, len(c))
	for k, v := range c {
		out[k] = flat(v)
	}
	return out
}

func flat(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = flat(e)
		}
		return "[" + strings.Join(parts, " ") + "]"
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}

// JWKS returns the JSON Web Key Set holding the public key, as an identity
// provider publishes it at its jwks_uri.
func (a *Authority) JWKS() []byte {
	pub := &a.key.PublicKey
	set := map[string]any{"keys": []map[string]string{{
		"kty": "RSA",
		"use": "sig",
		"alg": "RS256",
		"kid": a.kid,
		"n":   b64(pub.N.Bytes()),
		"e":   b64(big.NewInt(int64(pub.E)).Bytes()),
	}}}
	b, _ := json.Marshal(set) // a map of strings cannot fail to encode
	return b
}

// OpenIDConfiguration returns a minimal OIDC discovery document, the file
// API Gateway fetches from <issuer>/.well-known/openid-configuration to find
// the JWKS.
func (a *Authority) OpenIDConfiguration() []byte {
	b, _ := json.Marshal(map[string]any{
		"issuer":                                a.Issuer,
		"jwks_uri":                              strings.TrimSuffix(a.Issuer, "/") + "/jwks.json",
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
	})
	return b
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// thumbprint is the RFC 7638 JWK thumbprint: SHA-256 over the required
// members in lexicographic order, no whitespace.
func thumbprint(pub *rsa.PublicKey) string {
	canonical := fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`,
		b64(big.NewInt(int64(pub.E)).Bytes()), b64(pub.N.Bytes()))
	sum := sha256.Sum256([]byte(canonical))
	return b64(sum[:])
}
