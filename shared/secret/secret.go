// Package secret seals the secrets tenants give Laoyou (a mini-program's
// appSecret) before they are stored, so the table never holds them in plain
// text. In AWS a KMS key seals them (package shared/kms: the admin function
// may only encrypt, the functions that call WeChat may only decrypt);
// locally an AES-256-GCM key from the runner's cache does (AESGCM).
//
// Every sealed value is bound to a context (e.g. the tenant): a sealed
// secret copied onto another tenant's item does not open there.
package secret

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Sealer seals and opens secrets. Sealed values are printable text.
type Sealer interface {
	Seal(ctx context.Context, plaintext string, context map[string]string) (string, error)
	Open(ctx context.Context, sealed string, context map[string]string) (string, error)
}

var _ Sealer = (*AESGCM)(nil)

// AESGCM seals with a 256-bit AES-GCM key held in memory.
type AESGCM struct{ aead cipher.AEAD }

// KeySize is the size of an AESGCM key.
const KeySize = 32

// NewAESGCM returns a Sealer over a 32-byte key.
func NewAESGCM(key []byte) (*AESGCM, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret: key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &AESGCM{aead: aead}, nil
}

// Seal encrypts plaintext with a fresh nonce; the context is authenticated,
// not stored.
func (a *AESGCM) Seal(_ context.Context, plaintext string, ctx map[string]string) (string, error) {
	nonce := make([]byte, a.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := a.aead.Seal(nonce, nonce, []byte(plaintext), aad(ctx))
	return base64.StdEncoding.EncodeToString(out), nil
}

// Open decrypts what Seal made under the same context.
func (a *AESGCM) Open(_ context.Context, sealed string, ctx map[string]string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < a.aead.NonceSize() {
		return "", errors.New("secret: malformed sealed value")
	}
	n := a.aead.NonceSize()
	plain, err := a.aead.Open(nil, raw[:n], raw[n:], aad(ctx))
	if err != nil {
		return "", errors.New("secret: sealed value does not open under this key and context")
	}
	return string(plain), nil
}

// aad is the context in a canonical order.
func aad(ctx map[string]string) []byte {
	keys := make([]string, 0, len(ctx))
	for k := range ctx {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%d:%s=%d:%s;", len(k), k, len(ctx[k]), ctx[k])
	}
	return []byte(b.String())
}
