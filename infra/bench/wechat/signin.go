package wechat

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/laoyou/laoyou/infra/bench/apistack"
	"github.com/laoyou/laoyou/infra/wechatstub"
)

// SignIn is what sign-ins through POST /v1/auth/wechat cost: the calls
// that reach WeChat and the DynamoDB calls, in a cold execution
// environment (the first request after start) and in a warm one.
type SignIn struct {
	Count        int // warm sign-ins measured
	ColdWeChat   int // WeChat calls of the cold sign-in
	ColdReads    int
	ColdWrites   int
	WarmWeChat   int // WeChat calls of all warm sign-ins
	WarmReads    int // the most reads of one warm sign-in
	WarmWrites   int // the most writes of one warm sign-in
	TokenFetches int // stable_token calls of every sign-in: none needs the access token
}

// The sign-in clinic and its mini-program, as the stand-in knows it.
const (
	signInTenant = "bench-signin"
	signInAppID  = "wxbe4c00000000005a"
	signInSecret = "bench-signin-secret"
)

// measureSignIn signs count users in, each with a wx.login code of its
// own, through the full functions over t; the first in a fresh
// environment, the others warm.
func measureSignIn(ctx context.Context, t *apistack.Table, count int) (SignIn, error) {
	out := SignIn{Count: count}
	s, err := apistack.NewStack(ctx, t)
	if err != nil {
		return out, err
	}
	defer s.WeChat.Close()
	s.WeChat.AddApp(signInAppID, signInSecret)
	if _, err := s.Must(ctx, apistack.Request{
		Route: "PUT /v1/admin/wechat", As: apistack.Admin(signInTenant, "bench-admin"),
		Body: fmt.Sprintf(`{"appId":%q,"appSecret":%q}`, signInAppID, signInSecret),
	}, http.StatusOK); err != nil {
		return out, err
	}
	weChatCalls := func() int {
		n := 0
		for _, api := range []string{wechatstub.Code2Session, wechatstub.StableToken, wechatstub.CodeImage, wechatstub.PhoneNumber, wechatstub.Subscribe} {
			n += s.WeChat.Calls(api)
		}
		return n
	}
	tokensBefore := s.WeChat.Calls(wechatstub.StableToken)
	signIn := func(env *apistack.Stack, n int) (apistack.Reply, int, error) {
		code := s.WeChat.LoginCode(signInAppID, fmt.Sprintf("bench-openid-%d", n), "")
		before := weChatCalls()
		rep, err := env.Must(ctx, apistack.Request{
			Route: "POST /v1/auth/wechat",
			Body:  fmt.Sprintf(`{"tenant":%q,"code":%q}`, signInTenant, code),
		}, http.StatusOK)
		if err != nil {
			return rep, 0, err
		}
		var body struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal([]byte(rep.Body), &body); err != nil || strings.Count(body.Token, ".") != 2 {
			return rep, 0, fmt.Errorf("sign-in answered no token: %s", rep.Body)
		}
		return rep, weChatCalls() - before, nil
	}

	cold := s.Fresh()
	rep, calls, err := signIn(cold, 0)
	if err != nil {
		return out, err
	}
	out.ColdWeChat, out.ColdReads, out.ColdWrites = calls, rep.Calls.Reads(), rep.Calls.Writes()
	for i := 1; i <= count; i++ {
		rep, calls, err := signIn(cold, i)
		if err != nil {
			return out, err
		}
		out.WarmWeChat += calls
		out.WarmReads = max(out.WarmReads, rep.Calls.Reads())
		out.WarmWrites = max(out.WarmWrites, rep.Calls.Writes())
	}
	out.TokenFetches = s.WeChat.Calls(wechatstub.StableToken) - tokensBefore
	return out, nil
}

// problems are the sign-in goals missed: one WeChat call a sign-in (none
// for the access token), at most one write and, warm, one read.
func (s SignIn) problems() []string {
	var out []string
	if s.ColdWeChat != 1 {
		out = append(out, fmt.Sprintf("WeChat calls of a cold sign-in: %d, not 1", s.ColdWeChat))
	}
	if s.WarmWeChat != s.Count {
		out = append(out, fmt.Sprintf("WeChat calls of %d warm sign-ins: %d, not %d", s.Count, s.WarmWeChat, s.Count))
	}
	if s.TokenFetches != 0 {
		out = append(out, fmt.Sprintf("access-token fetches by sign-ins: %d, not 0", s.TokenFetches))
	}
	if s.ColdWrites > 1 || s.WarmWrites > 1 {
		out = append(out, fmt.Sprintf("DynamoDB writes of a sign-in: %d cold, %d warm, not at most 1", s.ColdWrites, s.WarmWrites))
	}
	if s.WarmReads > 1 {
		out = append(out, fmt.Sprintf("DynamoDB reads of a warm sign-in: %d, not at most 1", s.WarmReads))
	}
	return out
}
