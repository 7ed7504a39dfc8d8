package api

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/wechatstub"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/logging"
)

// capture is a writer many goroutines share (the functions' log and EMF
// lines), kept whole for the test to read.
type capture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// TestLogsAndMetricsCarryNoPersonalData drives every route of every HTTP
// function (the authorization matrix's requests), WeChat sign-in and phone
// binding, the hooks function (a webhook that fails for good, subscribe
// messages sent and skipped) and the closer, by users whose names, phone,
// openids, codes and tokens are distinctive, with the clinic's app secret
// and a webhook secret set; every access log line, every other log line
// and every EMF record at DEBUG is captured, and none of those strings
// appears in them. Masked forms (张*, 139****4321) may.
func TestLogsAndMetricsCarryNoPersonalData(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	var logs, emf capture
	s.deps.Log = logging.New(&logs, "DEBUG")
	s.deps.Metrics = &emf
	s.apis = apisOf(s.deps) // the functions as built in AWS: on the captured writers
	s.allowLoopbackWebhooks()

	const (
		tenant        = tenantA
		latinName     = "Quillon Vexmoor"
		chineseName   = "秦雪薇"
		phone         = "13987654321"
		matrixPhone   = "13800000000" // the authorization matrix's phone binding
		leaderOpenID  = "oPRIV-leader-7f3kQ"
		friendOpenID  = "oPRIV-friend-9q2mZ"
		webhookSecret = "whsec-PRIV-0123456789abcdef"
	)
	named := func(w who, name string) who { w["name"] = name; return w }
	private := []string{latinName, chineseName, testAppSecret, webhookSecret, leaderOpenID, friendOpenID,
		phone, "+86" + phone, "139 8765 4321", "139-8765-4321", matrixPhone}

	// Every route, as its own role, by a caller with a distinctive name.
	callers := map[auth.Access]struct {
		role string
		as   who
	}{
		auth.Public:    {"patient", named(patient(tenant, "matrix-patient"), chineseName)},
		auth.AnyUser:   {"patient", named(patient(tenant, "matrix-patient"), chineseName)},
		auth.StaffOnly: {"staff", named(staff(tenant, "matrix-staff"), latinName)},
		auth.AdminOnly: {"admin", named(admin(tenant), latinName)},
	}
	var keys []string
	routes := map[string]auth.Access{}
	fnOf := map[string]string{}
	for fn, a := range s.apis {
		for _, r := range a.Routes() {
			keys = append(keys, r.Key)
			routes[r.Key], fnOf[r.Key] = r.Access, fn
		}
	}
	// Erasures last: an erased caller's later writes are refused.
	sort.Slice(keys, func(i, j int) bool {
		di, dj := strings.HasPrefix(keys[i], "DELETE "), strings.HasPrefix(keys[j], "DELETE ")
		if di != dj {
			return dj
		}
		return keys[i] < keys[j]
	})
	for _, key := range keys {
		c, ok := authzCases[key]
		require.True(t, ok, "route %s has no request in the authorization matrix", key)
		caller := callers[routes[key]]
		f := &authzFixture{s: s, t: t, caller: caller.as}
		req := c.request(f)
		req.fn, req.as = fnOf[key], caller.as
		r := s.do(req)
		require.Equal(t, expectedStatus(routes[key], caller.role, true, c), r.Status, "%s: %s", key, r.Body)
	}

	// Sign-in, the phone button, and WeChat out of reach for one sign-in.
	s.withApp(tenant)
	signIn := func(openID string) (who, string) {
		code := s.wechat.LoginCode(testAppID, openID, "")
		private = append(private, code)
		r := s.signIn(tenant, code)
		require.Equal(t, http.StatusOK, r.Status, r.Body)
		tok := r.JSON(t)["token"].(string)
		private = append(private, tok, tok[strings.LastIndex(tok, ".")+1:])
		return named(patient(tenant, r.JSON(t)["userId"].(string)), chineseName), tok
	}
	leader, _ := signIn(leaderOpenID)
	friend, _ := signIn(friendOpenID)
	phoneCode := s.wechat.PhoneCode(testAppID, phone)
	private = append(private, phoneCode)
	r := s.do(call{fn: "auth", route: "POST /v1/me/phone", as: leader, body: fmt.Sprintf(`{"code":%q}`, phoneCode)})
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	s.wechat.Fail(wechatstub.Code2Session, wechatstub.HTTP5xx, 10)
	unreachable := s.wechat.LoginCode(testAppID, leaderOpenID, "")
	private = append(private, unreachable)
	r = s.signIn(tenant, unreachable)
	require.Equal(t, http.StatusServiceUnavailable, r.Status, r.Body)
	s.wechat.ClearFaults()

	// The hooks function: rooms succeed; their members get a subscribe
	// message (the friend never accepted the template: skipped), first
	// while WeChat is busy (given up on), and a webhook that fails for good
	// is dead-lettered.
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer broken.Close()
	boss := named(admin(tenant), latinName)
	require.Equal(t, http.StatusOK, s.putHook(boss, "crm",
		fmt.Sprintf(`{"event":"group.succeeded","webhook":{"url":%q,"secret":%q}}`, broken.URL, webhookSecret)).Status)
	require.Equal(t, http.StatusOK, s.putHook(boss, "tell-members",
		`{"event":"group.succeeded","to":"members","subscribeMessage":{"templateId":"TPL-OK","page":"pages/group/index","data":{"thing1":"{deal.title}"}}}`).Status)
	s.deps.Hooks().Dispatcher.Messages.Backoff = time.Millisecond
	s.wechat.Accept(testAppID, leaderOpenID, "TPL-OK")
	succeed := func(dealID string) {
		s.deal(tenant, dealID, map[string]any{"groupSize": 2, "stock": 10})
		room := s.opened(leader, dealID)
		require.Equal(t, http.StatusOK, s.join(friend, room).Status)
		drainHooks(t, s)
	}
	s.wechat.Fail(wechatstub.Subscribe, wechatstub.Busy, 100)
	succeed("duo-busy")
	s.wechat.ClearFaults()
	succeed("duo")
	require.Len(t, s.wechat.SentMessages(), 1, "the leader's message went out once WeChat answered, the friend's was skipped")
	s.runCloser(s.deps)

	if tok, ok := s.rawItem("WXAPP#"+testAppID, "TOKEN")["token"].(*types.AttributeValueMemberS); ok {
		private = append(private, tok.Value) // WeChat's access token
	}
	if hash, ok := s.rawItem("T#"+tenant+"#U#"+leader["sub"], "PROFILE")["phoneHash"].(*types.AttributeValueMemberS); ok {
		private = append(private, hash.Value)
	}

	logged, metered := logs.String(), emf.String()
	require.Contains(t, logged, `"msg":"request"`, "access log lines were captured")
	require.Contains(t, logged, `"msg":"webhook failed"`, "the hooks function's lines were captured")
	require.Contains(t, logged, `"msg":"subscribe message not sent"`)
	require.Contains(t, metered, `"_aws"`, "EMF records were captured")
	var leaks []string
	for source, lines := range map[string]string{"log": logged, "EMF": metered} {
		for _, line := range strings.Split(strings.TrimSpace(lines), "\n") {
			for _, p := range private {
				if strings.Contains(line, p) {
					leaks = append(leaks, fmt.Sprintf("%s line carries %q: %s", source, p, line))
				}
			}
		}
	}
	require.Empty(t, leaks, "%d log lines and %d EMF records checked for %d strings", strings.Count(logged, "\n"), strings.Count(metered, "\n"), len(private))
}
