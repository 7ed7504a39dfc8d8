package metrics

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/laoyou/laoyou/shared/hook"
)

// WeChat metrics. Calls are counted by API and result, not by tenant: the
// client serves every tenant's app and WeChat's quotas are what they watch.
const (
	WeChatCalls   Metric = "WeChatCalls"   // one per call, dimensions API and Result
	WeChatLatency Metric = "WeChatLatency" // milliseconds, same dimensions

	// Subscribe messages of hook rules not sent, per tenant: the user had
	// not accepted the template (43101) or never signed in with WeChat.
	SubscribeNotGranted Metric = "SubscribeMessagesNotGranted"
	SubscribeNoOpenID   Metric = "SubscribeMessagesNoOpenId"
	// SubscribeFailures are subscribe messages dead-lettered.
	SubscribeFailures Metric = "SubscribeMessageFailures"
)

// WeChatDimensions are the dimensions of WeChatCalls and WeChatLatency.
var WeChatDimensions = []string{"API", "Result"}

// WeChatMetrics writes one EMF line per WeChat call on W; it is the WeChat
// client's metrics sink.
type WeChatMetrics struct{ W io.Writer }

// WeChatCall writes the call's count and latency. A line that cannot be
// written is dropped: metrics never fail a call.
func (m WeChatMetrics) WeChatCall(api, result string, took time.Duration) {
	doc := map[string]any{
		"_aws": emfMetadata{
			Timestamp: time.Now().UnixMilli(),
			CloudWatchMetrics: []emfDirective{{
				Namespace:  Namespace,
				Dimensions: [][]string{WeChatDimensions},
				Metrics: []emfDefinition{
					{Name: string(WeChatCalls), Unit: "Count"},
					{Name: string(WeChatLatency), Unit: "Milliseconds"},
				},
			}},
		},
		"API": api, "Result": result,
		string(WeChatCalls): 1, string(WeChatLatency): took.Milliseconds(),
	}
	line, err := json.Marshal(doc)
	if err != nil {
		return
	}
	writeMu.Lock()
	defer writeMu.Unlock()
	_, _ = m.W.Write(append(line, '\n'))
}

// SubscribeSkipped counts a subscribe message of tenant not sent, by the
// hook package's reason (hook.NotGrantedSkip or hook.NoOpenIDSkip).
func SubscribeSkipped(w io.Writer, tenant, reason string) error {
	switch reason {
	case hook.NotGrantedSkip:
		return Emit(w, tenant, Counts{SubscribeNotGranted: 1})
	case hook.NoOpenIDSkip:
		return Emit(w, tenant, Counts{SubscribeNoOpenID: 1})
	}
	return fmt.Errorf("metrics: unknown subscribe skip %q", reason)
}
