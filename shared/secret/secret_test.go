package secret_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/secret"
)

func TestAESGCMSealsBoundToContext(t *testing.T) {
	ctx := context.Background()
	s, err := secret.NewAESGCM(make([]byte, secret.KeySize))
	require.NoError(t, err)
	sealed, err := s.Seal(ctx, "app-secret-1", map[string]string{"tenant": "a"})
	require.NoError(t, err)
	require.NotContains(t, sealed, "app-secret-1")

	plain, err := s.Open(ctx, sealed, map[string]string{"tenant": "a"})
	require.NoError(t, err)
	require.Equal(t, "app-secret-1", plain)

	for name, c := range map[string]map[string]string{
		"other tenant": {"tenant": "b"},
		"no context":   nil,
		"extra key":    {"tenant": "a", "appId": "x"},
	} {
		_, err := s.Open(ctx, sealed, c)
		require.Error(t, err, name)
	}
	other, err := secret.NewAESGCM(append(make([]byte, secret.KeySize-1), 1))
	require.NoError(t, err)
	_, err = other.Open(ctx, sealed, map[string]string{"tenant": "a"})
	require.Error(t, err, "another key")

	_, err = secret.NewAESGCM([]byte("short"))
	require.Error(t, err)
}
