package kms_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"maps"
	"testing"
	"time"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/kms"
	"github.com/laoyou/laoyou/shared/token"
)

// fakeKMS answers as KMS does for an RSA_2048 SIGN_VERIFY key and a
// symmetric key, and refuses what KMS would refuse.
type fakeKMS struct {
	keys          map[string]*rsa.PrivateKey
	getPublicKeys int
}

func (f *fakeKMS) Sign(_ context.Context, in *awskms.SignInput, _ ...func(*awskms.Options)) (*awskms.SignOutput, error) {
	k, ok := f.keys[*in.KeyId]
	switch {
	case !ok:
		return nil, errors.New("NotFoundException")
	case in.SigningAlgorithm != types.SigningAlgorithmSpecRsassaPkcs1V15Sha256 || in.MessageType != types.MessageTypeDigest || len(in.Message) != 32:
		return nil, errors.New("ValidationException")
	}
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, in.Message)
	return &awskms.SignOutput{Signature: sig}, err
}

func (f *fakeKMS) GetPublicKey(_ context.Context, in *awskms.GetPublicKeyInput, _ ...func(*awskms.Options)) (*awskms.GetPublicKeyOutput, error) {
	f.getPublicKeys++
	k, ok := f.keys[*in.KeyId]
	if !ok {
		return nil, errors.New("NotFoundException")
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return &awskms.GetPublicKeyOutput{PublicKey: der}, err
}

// Encrypt and Decrypt stand for KMS's by keeping the plaintext beside
// the ciphertext's context; what matters here is that the context is sent
// both ways.
func (f *fakeKMS) Encrypt(_ context.Context, in *awskms.EncryptInput, _ ...func(*awskms.Options)) (*awskms.EncryptOutput, error) {
	blob := append([]byte(*in.KeyId+"|"+in.EncryptionContext["tenant"]+"|"), in.Plaintext...)
	for i := range blob {
		blob[i] ^= 0x5a
	}
	return &awskms.EncryptOutput{CiphertextBlob: blob}, nil
}

func (f *fakeKMS) Decrypt(_ context.Context, in *awskms.DecryptInput, _ ...func(*awskms.Options)) (*awskms.DecryptOutput, error) {
	blob := append([]byte(nil), in.CiphertextBlob...)
	for i := range blob {
		blob[i] ^= 0x5a
	}
	prefix := *in.KeyId + "|" + in.EncryptionContext["tenant"] + "|"
	if len(blob) < len(prefix) || string(blob[:len(prefix)]) != prefix {
		return nil, errors.New("InvalidCiphertextException")
	}
	return &awskms.DecryptOutput{Plaintext: blob[len(prefix):]}, nil
}

func TestSigningKeysMakeTokensAJWTLibraryVerifies(t *testing.T) {
	ctx := context.Background()
	current, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	previous, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	const arn = "arn:aws:kms:ap-east-1:123456789012:key/0b7c6a3e-1111-4c2d-9e8f-000000000001"
	f := &fakeKMS{keys: map[string]*rsa.PrivateKey{arn: current, "0b7c6a3e-1111-4c2d-9e8f-000000000000": previous}}
	set := kms.SigningKeys(f, arn, []string{" 0b7c6a3e-1111-4c2d-9e8f-000000000000", ""})

	now := time.Now()
	raw, err := set.Sign(ctx, token.Claims{Issuer: "https://api.example.com/prod", Audience: "mini", Subject: "wx-1",
		Tenant: "t1", Role: "patient", IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	require.NoError(t, err)
	jwks, err := set.Keys(ctx)
	require.NoError(t, err)
	require.Len(t, jwks.Keys, 2, "the current key and the previous one")
	require.Equal(t, "0b7c6a3e-1111-4c2d-9e8f-000000000001", jwks.Keys[0].Kid, "the kid is the key id")

	parsed, err := jwt.Parse(raw, func(tok *jwt.Token) (any, error) {
		require.Equal(t, jwks.Keys[0].Kid, tok.Header["kid"])
		return &current.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer("https://api.example.com/prod"), jwt.WithAudience("mini"))
	require.NoError(t, err)
	require.True(t, parsed.Valid)

	_, err = set.Keys(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, f.getPublicKeys, "each public key is read from KMS once")
}

func TestSealerSendsTheContext(t *testing.T) {
	ctx := context.Background()
	s := kms.NewSealer(&fakeKMS{}, "alias/secrets")
	c := map[string]string{"tenant": "t1", "appId": "wx1"}
	sealed, err := s.Seal(ctx, "app-secret", maps.Clone(c))
	require.NoError(t, err)
	require.NotContains(t, sealed, "app-secret")
	plain, err := s.Open(ctx, sealed, c)
	require.NoError(t, err)
	require.Equal(t, "app-secret", plain)
	_, err = s.Open(ctx, sealed, map[string]string{"tenant": "t2", "appId": "wx1"})
	require.Error(t, err, "another tenant's context")
}
