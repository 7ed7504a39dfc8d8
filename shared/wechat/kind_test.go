package wechat

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/apierr"
)

// The one map from WeChat's errcodes to Laoyou's kinds.
func TestKindOf(t *testing.T) {
	tests := []struct {
		code int
		want apierr.Kind
	}{
		{40029, apierr.WeChatCodeInvalid},
		{40163, apierr.WeChatCodeInvalid},
		{40226, apierr.WeChatUserBlocked},
		{40013, apierr.WeChatNotConfigured},
		{40125, apierr.WeChatNotConfigured},
		{40164, apierr.WeChatNotConfigured},
		{-1, apierr.WeChatUnavailable},
		{45009, apierr.WeChatUnavailable},
		{45011, apierr.WeChatUnavailable},
		{40001, apierr.WeChatUnavailable}, // still refused after the forced refresh
		{42001, apierr.WeChatUnavailable},
		{43101, apierr.BadRequest},
		{47003, apierr.BadRequest},
		{40037, apierr.BadRequest},
		{41030, apierr.BadRequest},
		{99999, apierr.WeChatUnavailable}, // unknown: not the user's fault
	}
	for _, tt := range tests {
		err := refused("test", "api", tt.code)
		require.Equal(t, tt.want, apierr.KindOf(err), "errcode %d", tt.code)
		require.Equal(t, tt.code, CodeOf(err))
		require.Equal(t, tt.code == 43101, IsNotGranted(err))
	}
	require.True(t, retryable(refused("test", "api", -1)))
	require.False(t, retryable(refused("test", "api", 45009)), "a quota does not reset within a retry's pause")
	require.False(t, retryable(refused("test", "api", 40029)))
}
