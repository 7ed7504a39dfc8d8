package metrics

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/hook"
	"github.com/laoyou/laoyou/shared/referral"
)

func ev(t event.Type, tenant string, data map[string]any) event.Event {
	return event.New(t, tenant, time.Now(), data)
}

// emfLine is one EMF document as CloudWatch reads it.
type emfLine struct {
	AWS struct {
		Timestamp         int64 `json:"Timestamp"`
		CloudWatchMetrics []struct {
			Namespace  string     `json:"Namespace"`
			Dimensions [][]string `json:"Dimensions"`
			Metrics    []struct {
				Name string `json:"Name"`
				Unit string `json:"Unit"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	} `json:"_aws"`
	Tenant string `json:"Tenant"`
	Values map[string]float64
}

// parse reads the lines of out, checking each is one well-formed EMF
// document whose every declared metric has its value at the root.
func parse(t *testing.T, out string, before, after time.Time) []emfLine {
	t.Helper()
	var lines []emfLine
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		raw := sc.Bytes()
		var l emfLine
		require.NoError(t, json.Unmarshal(raw, &l), "%s", raw)
		var root map[string]any
		require.NoError(t, json.Unmarshal(raw, &root))

		require.GreaterOrEqual(t, l.AWS.Timestamp, before.UnixMilli())
		require.LessOrEqual(t, l.AWS.Timestamp, after.UnixMilli())
		require.Len(t, l.AWS.CloudWatchMetrics, 1)
		d := l.AWS.CloudWatchMetrics[0]
		require.Equal(t, "Laoyou", d.Namespace)
		require.Equal(t, [][]string{{"Tenant"}}, d.Dimensions)
		require.NotEmpty(t, l.Tenant)

		l.Values = map[string]float64{}
		for _, m := range d.Metrics {
			require.Equal(t, "Count", m.Unit, m.Name)
			v, ok := root[m.Name].(float64)
			require.True(t, ok, "metric %s has no number at the root: %s", m.Name, raw)
			l.Values[m.Name] = v
		}
		// Nothing at the root but the metadata, the dimension and the metrics.
		require.Len(t, root, len(d.Metrics)+2, "%s", raw)
		lines = append(lines, l)
	}
	require.NoError(t, sc.Err())
	return lines
}

func TestFromEvents(t *testing.T) {
	tests := []struct {
		name string
		evs  []event.Event
		want map[string]map[string]float64 // tenant → metric → count
	}{
		{
			name: "every business event counts towards its metric",
			evs: []event.Event{
				ev(event.GroupOpened, "clinic-a", nil),
				ev(event.GroupJoined, "clinic-a", nil),
				ev(event.GroupJoined, "clinic-a", nil),
				ev(event.GroupSucceeded, "clinic-a", nil),
				ev(event.GroupFailed, "clinic-a", nil),
				ev(event.CouponIssued, "clinic-a", map[string]any{"source": "claim"}),
				ev(event.CouponRedeemed, "clinic-a", nil),
				ev(event.ReferralBound, "clinic-a", nil),
				ev(event.ReferralQualified, "clinic-a", nil),
				ev(event.ReferralReversed, "clinic-a", nil),
				ev(referral.RewardedEvent, "clinic-a", nil),
			},
			want: map[string]map[string]float64{"clinic-a": {
				"RoomsOpened": 1, "RoomsJoined": 2, "RoomsSucceeded": 1, "RoomsFailed": 1,
				"CouponsClaimed": 1, "CouponsRedeemed": 1,
				"ReferralsBound": 1, "ReferralsQualified": 1, "ReferralsReversed": 1, "ReferralsRewarded": 1,
			}},
		},
		{
			name: "one line per tenant, tenants apart",
			evs: []event.Event{
				ev(event.GroupJoined, "clinic-b", nil),
				ev(event.GroupJoined, "clinic-a", nil),
				ev(event.GroupJoined, "clinic-b", nil),
			},
			want: map[string]map[string]float64{
				"clinic-a": {"RoomsJoined": 1},
				"clinic-b": {"RoomsJoined": 2},
			},
		},
		{
			name: "coupons issued by hooks are not claims; clicks are no metric",
			evs: []event.Event{
				ev(event.CouponIssued, "clinic-a", map[string]any{"source": "hook"}),
				ev(event.CouponIssued, "clinic-a", map[string]any{"source": "group"}),
				ev(event.CouponIssued, "clinic-a", map[string]any{"source": "referral"}),
				ev(event.ReferralClicked, "clinic-a", nil),
			},
			want: map[string]map[string]float64{},
		},
		{
			name: "no events, no lines",
			want: map[string]map[string]float64{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			before := time.Now()
			require.NoError(t, FromEvents(&out, tc.evs))
			got := map[string]map[string]float64{}
			var order []string
			for _, l := range parse(t, out.String(), before, time.Now()) {
				require.NotContains(t, got, l.Tenant, "one line per tenant")
				got[l.Tenant] = l.Values
				order = append(order, l.Tenant)
			}
			require.Equal(t, tc.want, got)
			require.IsNonDecreasing(t, order, "tenants in order, so output is reproducible")
		})
	}
}

func TestExactShape(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, Emit(&out, "demo-clinic", Counts{RoomsJoined: 3, RoomsOpened: 1, RoomsFailed: 0}))
	var doc map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc))
	ts := doc["_aws"].(map[string]any)["Timestamp"]
	require.Equal(t, map[string]any{
		"_aws": map[string]any{
			"Timestamp": ts,
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  "Laoyou",
				"Dimensions": []any{[]any{"Tenant"}},
				"Metrics": []any{
					map[string]any{"Name": "RoomsJoined", "Unit": "Count"},
					map[string]any{"Name": "RoomsOpened", "Unit": "Count"},
				},
			}},
		},
		"Tenant":      "demo-clinic",
		"RoomsJoined": 3.0,
		"RoomsOpened": 1.0,
	}, doc, "zero counts are left out")
	require.Equal(t, byte('\n'), out.Bytes()[out.Len()-1], "one document per line")
	require.Equal(t, 1, bytes.Count(out.Bytes(), []byte("\n")))
}

func TestWebhookFailed(t *testing.T) {
	var out bytes.Buffer
	before := time.Now()
	require.NoError(t, WebhookFailed(&out, "clinic-a", 2))
	lines := parse(t, out.String(), before, time.Now())
	require.Len(t, lines, 1)
	require.Equal(t, "clinic-a", lines[0].Tenant)
	require.Equal(t, map[string]float64{"WebhookFailures": 2}, lines[0].Values)
}

func TestEveryEventTypeHasAMetric(t *testing.T) {
	covered := map[Metric]bool{WebhookFailures: true}
	for _, typ := range append(event.Public, referral.RewardedEvent) {
		data := map[string]any{}
		if typ == event.CouponIssued {
			data["source"] = "claim"
		}
		m, ok := metricOf(ev(typ, "clinic-a", data))
		require.True(t, ok, "public event %s counts towards no metric", typ)
		covered[m] = true
	}
	for _, m := range All {
		require.True(t, covered[m], "metric %s is fed by no event", m)
	}
}

func TestCountingDeadLetters(t *testing.T) {
	tests := []struct {
		name     string
		dl       hook.DeadLetter
		storeErr error
		want     map[string]float64 // nil: no line
	}{
		{"a webhook given up on", hook.DeadLetter{Tenant: "clinic-a", Action: "webhook"}, nil, map[string]float64{"WebhookFailures": 1}},
		{"a reward that could not be issued", hook.DeadLetter{Tenant: "clinic-a", Action: "issueCoupon"}, nil, nil},
		{"a dead letter not kept", hook.DeadLetter{Tenant: "clinic-a", Action: "webhook"}, errBroken, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			inner := &deadLetterStore{err: tc.storeErr}
			s := CountingDeadLetters(inner, &out)
			before := time.Now()
			err := s.DeadLetter(context.Background(), tc.dl, "effect-1")
			require.ErrorIs(t, err, tc.storeErr)
			require.Equal(t, []string{"effect-1"}, inner.effects, "the dead letter goes to the store")
			lines := parse(t, out.String(), before, time.Now())
			if tc.want == nil {
				require.Empty(t, lines)
				return
			}
			require.Len(t, lines, 1)
			require.Equal(t, tc.dl.Tenant, lines[0].Tenant)
			require.Equal(t, tc.want, lines[0].Values)
		})
	}
}

// deadLetterStore is a hook store that keeps only dead letters' effects.
type deadLetterStore struct {
	hook.Store // the other methods are not called
	err        error
	effects    []string
}

func (s *deadLetterStore) DeadLetter(_ context.Context, _ hook.DeadLetter, effect string) error {
	s.effects = append(s.effects, effect)
	return s.err
}

func TestConcurrentWritersKeepLinesWhole(t *testing.T) {
	var out lockedBuffer
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, WebhookFailed(&out, "clinic-a", 1))
		}()
	}
	wg.Wait()
	lines := parse(t, out.String(), time.Now().Add(-time.Minute), time.Now())
	require.Len(t, lines, 20)
}

func TestWriteErrorIsReturned(t *testing.T) {
	err := FromEvents(failingWriter{}, []event.Event{ev(event.GroupOpened, "clinic-a", nil)})
	require.ErrorIs(t, err, errBroken)
}

// lockedBuffer is a buffer that writes in pieces, as a pipe may, so that
// only the package's lock keeps lines whole.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	for i := range p {
		b.mu.Lock()
		b.buf.WriteByte(p[i])
		b.mu.Unlock()
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var errBroken = errors.New("broken pipe")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errBroken }
