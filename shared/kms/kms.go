// Package kms is where Laoyou meets AWS KMS: the asymmetric key that signs
// sign-in tokens (its private half never leaves KMS) and the symmetric key
// that seals tenants' WeChat app secrets. Only the functions that need them
// import this package, so the others do not carry the KMS client.
package kms

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/laoyou/laoyou/shared/secret"
	"github.com/laoyou/laoyou/shared/token"
)

// API is the part of the KMS client Laoyou calls.
type API interface {
	Sign(ctx context.Context, in *awskms.SignInput, opts ...func(*awskms.Options)) (*awskms.SignOutput, error)
	GetPublicKey(ctx context.Context, in *awskms.GetPublicKeyInput, opts ...func(*awskms.Options)) (*awskms.GetPublicKeyOutput, error)
	Encrypt(ctx context.Context, in *awskms.EncryptInput, opts ...func(*awskms.Options)) (*awskms.EncryptOutput, error)
	Decrypt(ctx context.Context, in *awskms.DecryptInput, opts ...func(*awskms.Options)) (*awskms.DecryptOutput, error)
}

var _ API = (*awskms.Client)(nil)

// NewClient is a KMS client with the function role's credentials from the
// environment, as shared/dynamo's client gets them (no SDK default chain).
func NewClient(region string) (*awskms.Client, error) {
	id, key := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || key == "" {
		return nil, errors.New("kms: no AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)")
	}
	return awskms.NewFromConfig(aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(id, key, os.Getenv("AWS_SESSION_TOKEN")),
	}), nil
}

// MustClient is NewClient for a function's init: a function that cannot
// reach KMS cannot start, so it logs why and exits, and Lambda reports the
// failed init.
func MustClient(region string, log *slog.Logger) *awskms.Client {
	c, err := NewClient(region)
	if err != nil {
		log.Error("init failed", "error", err.Error())
		os.Exit(1)
	}
	return c
}

// SigningKeys is the token key set of a current KMS key and the previous
// ones still listed in the JWKS.
func SigningKeys(api API, current string, previous []string) token.KeySet {
	set := token.KeySet{Current: NewSigningKey(api, current)}
	for _, id := range previous {
		if id = strings.TrimSpace(id); id != "" {
			set.Previous = append(set.Previous, NewSigningKey(api, id))
		}
	}
	return set
}

// SigningKey is an RSA_2048 SIGN_VERIFY KMS key. Its kid is the key's id.
type SigningKey struct {
	api   API
	keyID string

	mu  sync.Mutex
	pub *rsa.PublicKey // a key's public half never changes: read once
}

var _ token.Key = (*SigningKey)(nil)

// NewSigningKey is the KMS key keyID (an id or ARN).
func NewSigningKey(api API, keyID string) *SigningKey { return &SigningKey{api: api, keyID: keyID} }

// ID is the kid: the key id without its ARN prefix.
func (k *SigningKey) ID() string {
	if i := strings.LastIndex(k.keyID, "/"); i >= 0 {
		return k.keyID[i+1:]
	}
	return k.keyID
}

// Public reads the public key from KMS once.
func (k *SigningKey) Public(ctx context.Context) (*rsa.PublicKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.pub != nil {
		return k.pub, nil
	}
	out, err := k.api.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(k.keyID)})
	if err != nil {
		return nil, fmt.Errorf("kms: get public key: %w", err)
	}
	parsed, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("kms: public key: %w", err)
	}
	pub, ok := parsed.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("kms: the signing key is not RSA")
	}
	k.pub = pub
	return pub, nil
}

// SignDigest asks KMS to sign a SHA-256 digest (RSASSA_PKCS1_V1_5_SHA_256).
func (k *SigningKey) SignDigest(ctx context.Context, digest []byte) ([]byte, error) {
	out, err := k.api.Sign(ctx, &awskms.SignInput{
		KeyId:            aws.String(k.keyID),
		Message:          digest,
		MessageType:      types.MessageTypeDigest,
		SigningAlgorithm: types.SigningAlgorithmSpecRsassaPkcs1V15Sha256,
	})
	if err != nil {
		return nil, fmt.Errorf("kms: sign: %w", err)
	}
	return out.Signature, nil
}

// Sealer seals secrets with a symmetric KMS key; the context is KMS's
// encryption context, so a sealed secret opens only for its own tenant.
type Sealer struct {
	api   API
	keyID string
}

var _ secret.Sealer = (*Sealer)(nil)

// NewSealer is the KMS key keyID (an id or ARN).
func NewSealer(api API, keyID string) *Sealer { return &Sealer{api: api, keyID: keyID} }

// Seal encrypts plaintext (KMS takes up to 4 KiB directly).
func (s *Sealer) Seal(ctx context.Context, plaintext string, c map[string]string) (string, error) {
	out, err := s.api.Encrypt(ctx, &awskms.EncryptInput{
		KeyId: aws.String(s.keyID), Plaintext: []byte(plaintext), EncryptionContext: c,
	})
	if err != nil {
		return "", fmt.Errorf("kms: encrypt: %w", err)
	}
	return base64.StdEncoding.EncodeToString(out.CiphertextBlob), nil
}

// Open decrypts what Seal made under the same context.
func (s *Sealer) Open(ctx context.Context, sealed string, c map[string]string) (string, error) {
	blob, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return "", errors.New("kms: malformed sealed value")
	}
	out, err := s.api.Decrypt(ctx, &awskms.DecryptInput{
		KeyId: aws.String(s.keyID), CiphertextBlob: blob, EncryptionContext: c,
	})
	if err != nil {
		return "", fmt.Errorf("kms: decrypt: %w", err)
	}
	return string(out.Plaintext), nil
}
