package account_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/account"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/wechat"
)

func TestMaskPhone(t *testing.T) {
	for in, want := range map[string]string{
		"13812345678":    "138****5678",
		"+8613812345678": "861****5678",
		"85291234567":    "852****4567",
		"91234567":       "******67",
		"12":             "**",
		"":               "",
	} {
		require.Equal(t, want, account.MaskPhone(in), in)
	}
}

func TestUserIDIsStableAndNeverTheOpenID(t *testing.T) {
	pepper := []byte("pepper")
	alice := wechat.Session{OpenID: "oAlice"}
	id := account.UserID(pepper, "c1", alice)
	require.True(t, auth.ValidID(id), id)
	require.NotContains(t, id, "oAlice")
	require.Equal(t, id, account.UserID(pepper, "c1", alice), "stable")
	require.NotEqual(t, id, account.UserID(pepper, "c2", alice), "per clinic")
	require.NotEqual(t, id, account.UserID([]byte("other"), "c1", alice), "keyed")

	// The unionid, where given, is who the user is, whatever the openid.
	u1 := account.UserID(pepper, "c1", wechat.Session{OpenID: "o1", UnionID: "u"})
	u2 := account.UserID(pepper, "c1", wechat.Session{OpenID: "o2", UnionID: "u"})
	require.Equal(t, u1, u2)
	require.NotEqual(t, u1, id)
}
