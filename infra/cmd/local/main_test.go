package main

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// `-addr` reaches the public base URL unless PUBLIC_BASE_URL says
// otherwise, and shareUrl follows it unless SHARE_BASE_URL is set.
func TestOptionsFollowTheListenAddress(t *testing.T) {
	addr, err := net.ResolveTCPAddr("tcp", "127.0.0.1:3001")
	require.NoError(t, err)
	tests := []struct {
		name, public, share string
		wantPublic          string
		wantShare           string
	}{
		{"nothing set", "", "", "http://127.0.0.1:3001", ""},
		{"PUBLIC_BASE_URL", "https://api.example", "", "https://api.example", ""},
		{"SHARE_BASE_URL", "", "https://h5.example/s", "http://127.0.0.1:3001", "https://h5.example/s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PUBLIC_BASE_URL", tc.public)
			t.Setenv("SHARE_BASE_URL", tc.share)
			opts := options(addr)
			require.Equal(t, tc.wantPublic, opts.PublicBaseURL)
			require.Equal(t, tc.wantShare, opts.Config.ShareBaseURL, `"" is the runner's own landing page`)
			require.True(t, opts.Config.AllowLoopbackWebhooks)
		})
	}
}
