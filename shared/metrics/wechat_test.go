package metrics

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/hook"
)

func TestWeChatCall(t *testing.T) {
	var out bytes.Buffer
	WeChatMetrics{W: &out}.WeChatCall("jscode2session", "WECHAT_UNAVAILABLE", 1500*time.Millisecond)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc))
	require.Equal(t, "jscode2session", doc["API"])
	require.Equal(t, "WECHAT_UNAVAILABLE", doc["Result"])
	require.Equal(t, 1.0, doc["WeChatCalls"])
	require.Equal(t, 1500.0, doc["WeChatLatency"])
	cw := doc["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
	require.Equal(t, []any{[]any{"API", "Result"}}, cw["Dimensions"])
	require.Equal(t, Namespace, cw["Namespace"])
}

func TestSubscribeSkipped(t *testing.T) {
	tests := []struct {
		reason string
		metric string
	}{
		{hook.NotGrantedSkip, "SubscribeMessagesNotGranted"},
		{hook.NoOpenIDSkip, "SubscribeMessagesNoOpenId"},
	}
	for _, tc := range tests {
		t.Run(tc.reason, func(t *testing.T) {
			var out bytes.Buffer
			require.NoError(t, SubscribeSkipped(&out, "clinic-a", tc.reason))
			var doc map[string]any
			require.NoError(t, json.Unmarshal(out.Bytes(), &doc))
			require.Equal(t, 1.0, doc[tc.metric])
			require.Equal(t, "clinic-a", doc["Tenant"])
		})
	}
	require.Error(t, SubscribeSkipped(&bytes.Buffer{}, "clinic-a", "other"))
}

func TestCountingSubscribeDeadLetters(t *testing.T) {
	var out bytes.Buffer
	s := CountingDeadLetters(&deadLetterStore{}, &out)
	require.NoError(t, s.DeadLetter(t.Context(), hook.DeadLetter{Tenant: "clinic-a", Action: "subscribeMessage"}, "fx"))
	var doc map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc))
	require.Equal(t, 1.0, doc["SubscribeMessageFailures"])
}
