package wechat_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/bench/apistack"
	"github.com/laoyou/laoyou/infra/bench/wechat"
)

func TestMain(m *testing.M) { apistack.Main(m) }

func TestMeasure(t *testing.T) {
	f, err := wechat.Measure(context.Background(), apistack.TestDB(t), wechat.Options{Apps: 2, Environments: 10, Requesters: 8, SignIns: 3})
	require.NoError(t, err)
	require.True(t, f.GoalsMet(), f.Markdown())
	require.Contains(t, f.Markdown(), "Goal met")
	si := f.SignIn
	require.Equal(t, wechat.SignIn{Count: 3, ColdWeChat: 1, ColdReads: 2, ColdWrites: 1, WarmWeChat: 3, WarmReads: 1, WarmWrites: 1}, si)
	require.Contains(t, f.Markdown(), "| cold (first request of an environment) | 1 | | 2 | 1 |")
}

func TestGoals(t *testing.T) {
	f := wechat.Figures{Options: wechat.Options{Apps: 2}, FirstWave: 3, NextLife: 2, Revoked: 2, CodeFirst: 2}
	require.False(t, f.GoalsMet())
	require.Contains(t, f.Markdown(), "token fetches, first wave: 3, not 2")
	require.Contains(t, f.Summary(), "getwxacodeunlimit calls, concurrent first requests: 2, not 1")
}

func TestSignInGoals(t *testing.T) {
	met := wechat.SignIn{Count: 5, ColdWeChat: 1, ColdReads: 2, ColdWrites: 1, WarmWeChat: 5, WarmReads: 1, WarmWrites: 1}
	base := wechat.Figures{Options: wechat.Options{Apps: 1}, FirstWave: 1, NextLife: 1, Revoked: 1, CodeFirst: 1}
	for _, tc := range []struct {
		name   string
		change func(*wechat.SignIn)
		want   string
	}{
		{name: "met", change: func(*wechat.SignIn) {}},
		{name: "two WeChat calls cold", change: func(s *wechat.SignIn) { s.ColdWeChat = 2 }, want: "WeChat calls of a cold sign-in: 2, not 1"},
		{name: "a warm one calls twice", change: func(s *wechat.SignIn) { s.WarmWeChat = 6 }, want: "WeChat calls of 5 warm sign-ins: 6, not 5"},
		{name: "a token fetch", change: func(s *wechat.SignIn) { s.TokenFetches = 1 }, want: "access-token fetches by sign-ins: 1, not 0"},
		{name: "two writes", change: func(s *wechat.SignIn) { s.WarmWrites = 2 }, want: "DynamoDB writes of a sign-in: 1 cold, 2 warm, not at most 1"},
		{name: "two warm reads", change: func(s *wechat.SignIn) { s.WarmReads = 2 }, want: "DynamoDB reads of a warm sign-in: 2, not at most 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := base
			f.SignIn = met
			tc.change(&f.SignIn)
			if tc.want == "" {
				require.True(t, f.GoalsMet(), f.Summary())
				return
			}
			require.False(t, f.GoalsMet())
			require.Contains(t, f.Markdown(), tc.want)
			require.Contains(t, f.Summary(), tc.want)
		})
	}
}

// BenchmarkWeChat reports the calls that reach WeChat (goal: one token
// fetch per app per lifetime, one drawing per code).
func BenchmarkWeChat(b *testing.B) {
	f, err := wechat.Measure(context.Background(), apistack.SharedDB(b), wechat.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(f.FirstWave)/float64(f.Apps), "token-fetches/app")
	b.ReportMetric(float64(f.SameLife), "fetches-within-life")
	b.ReportMetric(float64(f.CodeFirst), "code-calls/first-wave")
	b.ReportMetric(float64(f.CodeLater), "code-calls/later")
	b.ReportMetric(float64(f.SignIn.WarmWeChat)/float64(f.SignIn.Count), "wechat-calls/sign-in")
	if !f.GoalsMet() {
		b.Error(f.Summary())
	}
}
