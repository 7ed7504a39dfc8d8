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
	f, err := wechat.Measure(context.Background(), apistack.TestDB(t), wechat.Options{Apps: 2, Environments: 10, Requesters: 8})
	require.NoError(t, err)
	require.True(t, f.GoalsMet(), f.Markdown())
	require.Contains(t, f.Markdown(), "Goal met")
}

func TestGoals(t *testing.T) {
	f := wechat.Figures{Options: wechat.Options{Apps: 2}, FirstWave: 3, NextLife: 2, Revoked: 2, CodeFirst: 2}
	require.False(t, f.GoalsMet())
	require.Contains(t, f.Markdown(), "token fetches, first wave: 3, not 2")
	require.Contains(t, f.Summary(), "getwxacodeunlimit calls, concurrent first requests: 2, not 1")
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
	if !f.GoalsMet() {
		b.Error(f.Summary())
	}
}
