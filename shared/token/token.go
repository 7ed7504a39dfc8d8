// Package token issues Laoyou's own sign-in tokens: RS256 JWTs with a kid,
// and the issuer's discovery document and JWKS that API Gateway's JWT
// authorizer reads to verify them.
//
// The signing key is behind Key, so the
// private key may live in KMS (package shared/kms) and never leave it, or in
// a local file for the runner (RSAKey). Keys rotate with an overlap: the
// JWKS lists the current key and the previous ones, which still verify
// tokens signed before the rotation while API Gateway's key cache lasts.
package token

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Claims are what a Laoyou token says. Issuer and Audience are what API
// Gateway's JWT authorizer checks; Subject, Tenant and Role are what
// handlers act on.
type Claims struct {
	Issuer    string
	Audience  string
	Subject   string
	Tenant    string
	Role      string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Key is one RSA signing key. SignDigest signs a SHA-256 digest with
// RSASSA-PKCS1-v1_5, as RS256 needs.
type Key interface {
	ID() string
	Public(ctx context.Context) (*rsa.PublicKey, error)
	SignDigest(ctx context.Context, digest []byte) ([]byte, error)
}

// JWK is one public key as a JWKS lists it.
type JWK struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// JWKS is a JSON Web Key Set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// Signer signs tokens and lists the keys that verify them.
type Signer interface {
	Sign(ctx context.Context, c Claims) (string, error)
	Keys(ctx context.Context) (JWKS, error)
}

var _ Signer = KeySet{}

// KeySet signs with Current; its JWKS also lists Previous, so tokens signed
// before a rotation keep verifying until they expire.
type KeySet struct {
	Current  Key
	Previous []Key
}

// Sign makes the RS256 JWT of c, with the current key's kid.
func (s KeySet) Sign(ctx context.Context, c Claims) (string, error) {
	if s.Current == nil {
		return "", errors.New("token: no signing key")
	}
	if c.Issuer == "" || c.Audience == "" || c.Subject == "" || c.Tenant == "" || c.Role == "" {
		return "", errors.New("token: iss, aud, sub, tenant and role are required")
	}
	if !c.ExpiresAt.After(c.IssuedAt) {
		return "", errors.New("token: exp must be after iat")
	}
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": s.Current.ID()})
	payload, err := json.Marshal(map[string]any{
		"iss":    c.Issuer,
		"aud":    c.Audience,
		"sub":    c.Subject,
		"tenant": c.Tenant,
		"role":   c.Role,
		"iat":    c.IssuedAt.Unix(),
		"exp":    c.ExpiresAt.Unix(),
	})
	if err != nil {
		return "", err
	}
	signing := b64(header) + "." + b64(payload)
	digest := sha256.Sum256([]byte(signing))
	sig, err := s.Current.SignDigest(ctx, digest[:])
	if err != nil {
		return "", fmt.Errorf("token: sign: %w", err)
	}
	return signing + "." + b64(sig), nil
}

// Keys lists the public keys of the current and previous keys.
func (s KeySet) Keys(ctx context.Context) (JWKS, error) {
	keys := append([]Key{s.Current}, s.Previous...)
	set := JWKS{Keys: make([]JWK, 0, len(keys))}
	for _, k := range keys {
		if k == nil {
			continue
		}
		pub, err := k.Public(ctx)
		if err != nil {
			return JWKS{}, fmt.Errorf("token: public key %s: %w", k.ID(), err)
		}
		set.Keys = append(set.Keys, PublicJWK(k.ID(), pub))
	}
	return set, nil
}

// PublicJWK is the JWK of an RSA public key.
func PublicJWK(kid string, pub *rsa.PublicKey) JWK {
	return JWK{Kty: "RSA", Use: "sig", Alg: "RS256", Kid: kid, N: b64(pub.N.Bytes()), E: b64(big.NewInt(int64(pub.E)).Bytes())}
}

// Discovery is the issuer's OpenID Connect discovery document, which API
// Gateway fetches from <issuer>/.well-known/openid-configuration.
type Discovery struct {
	Issuer                           string   `json:"issuer"`
	JWKSURI                          string   `json:"jwks_uri"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported           []string `json:"response_types_supported"`
	SubjectTypesSupported            []string `json:"subject_types_supported"`
	ClaimsSupported                  []string `json:"claims_supported"`
}

// DiscoveryOf is the discovery document of issuer, whose JWKS is served at
// <issuer>/.well-known/jwks.json.
func DiscoveryOf(issuer string) Discovery {
	return Discovery{
		Issuer:                           issuer,
		JWKSURI:                          strings.TrimSuffix(issuer, "/") + "/.well-known/jwks.json",
		IDTokenSigningAlgValuesSupported: []string{"RS256"},
		ResponseTypesSupported:           []string{"id_token"},
		SubjectTypesSupported:            []string{"public"},
		ClaimsSupported:                  []string{"iss", "aud", "sub", "tenant", "role", "iat", "exp"},
	}
}

// RSAKey is a signing key held in memory: the local runner's key file, or a
// test's key. Its kid is the RFC 7638 thumbprint of its public key, so the
// same file always yields the same kid.
type RSAKey struct {
	priv *rsa.PrivateKey
	kid  string
}

var _ Key = (*RSAKey)(nil)

// NewRSAKey wraps priv.
func NewRSAKey(priv *rsa.PrivateKey) *RSAKey {
	return &RSAKey{priv: priv, kid: Thumbprint(&priv.PublicKey)}
}

// ID is the key's kid.
func (k *RSAKey) ID() string { return k.kid }

// Public is the key's public half.
func (k *RSAKey) Public(context.Context) (*rsa.PublicKey, error) { return &k.priv.PublicKey, nil }

// SignDigest signs a SHA-256 digest.
func (k *RSAKey) SignDigest(_ context.Context, digest []byte) ([]byte, error) {
	return rsa.SignPKCS1v15(rand.Reader, k.priv, crypto.SHA256, digest)
}

// Thumbprint is the RFC 7638 JWK thumbprint of pub: SHA-256 over the
// required members in lexicographic order, no whitespace.
func Thumbprint(pub *rsa.PublicKey) string {
	canonical := fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`,
		b64(big.NewInt(int64(pub.E)).Bytes()), b64(pub.N.Bytes()))
	sum := sha256.Sum256([]byte(canonical))
	return b64(sum[:])
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
