package landing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddbtest"
	"github.com/laoyou/laoyou/infra/landing"
	"github.com/laoyou/laoyou/infra/local"
	"github.com/laoyou/laoyou/shared/config"
	"github.com/laoyou/laoyou/shared/logging"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

// chromiumPath is Debian's chromium package (`make test` installs it);
// tests that need it skip without it, except in CI (CI set), where they
// fail: a browser test that quietly skips there proves nothing.
const chromiumPath = "/usr/bin/chromium"

// screenshotsEnv names a directory to keep the screenshots in (CI uploads
// them); without it they stay in the test's temporary directory.
const screenshotsEnv = "LANDING_SCREENSHOTS"

// The phone the screenshots are taken at: an iPhone 12-15 in CSS pixels.
const phoneWidth, phoneHeight = 390, 844

// browser drives headless Chromium from its command line: no dependency, no
// DevTools protocol. --virtual-time-budget lets the page's fetches finish
// and its timers run that many virtual milliseconds before the DOM is
// dumped or the screenshot taken.
type browser struct {
	t   *testing.T
	bin string
}

func newBrowser(t *testing.T) browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and Chromium is missing at %s (make browser-deps installs it): %v", chromiumPath, err)
		}
		t.Skipf("the landing page's browser test needs Chromium at %s (Debian: apt-get install -y chromium): %v", chromiumPath, err)
	}
	return browser{t: t, bin: chromiumPath}
}

// on is the browser reporting to t.
func (b browser) on(t *testing.T) browser { return browser{t: t, bin: b.bin} }

// run runs Chromium once, and once more if it crashed: on a loaded
// machine without a system bus its zygote now and then dies forking, which
// says nothing of the page.
func (b browser) run(args ...string) []byte {
	b.t.Helper()
	out, stderr, err := b.runOnce(args)
	var exit *exec.ExitError
	if errors.As(err, &exit) && !exit.Exited() {
		b.t.Logf("chromium crashed (%v); trying once more", err)
		out, stderr, err = b.runOnce(args)
	}
	require.NoError(b.t, err, "chromium %s\n--- stderr ---\n%s", strings.Join(args, " "), stderr)
	return out
}

func (b browser) runOnce(args []string) (stdout []byte, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	flags := []string{
		"--headless", "--no-sandbox", "--no-zygote", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
		"--no-first-run", "--no-default-browser-check", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--disable-extensions", "--mute-audio",
		"--disable-breakpad", "--hide-scrollbars", "--force-device-scale-factor=1", "--lang=zh-CN",
		"--user-data-dir=" + b.t.TempDir(),
		"--virtual-time-budget=5000",
		fmt.Sprintf("--window-size=%d,%d", phoneWidth, phoneHeight),
		"--user-agent=Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Safari/604.1",
	}
	cmd := exec.CommandContext(ctx, b.bin, append(flags, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.Bytes(), errOut.String(), err
}

// dom is the page's DOM after its scripts ran.
func (b browser) dom(url string) string {
	b.t.Helper()
	return string(b.run("--dump-dom", url))
}

// screenshot saves the page as a PNG of the phone's size and checks it is one.
func (b browser) screenshot(url, name string) string {
	b.t.Helper()
	dir := os.Getenv(screenshotsEnv)
	if dir == "" {
		dir = b.t.TempDir()
	}
	require.NoError(b.t, os.MkdirAll(dir, 0o755))
	file := filepath.Join(dir, name)
	b.run("--screenshot="+file, url)
	f, err := os.Open(file)
	require.NoError(b.t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(b.t, err, "%s is a PNG", file)
	require.Equal(b.t, phoneWidth, img.Bounds().Dx(), file)
	require.Equal(b.t, phoneHeight, img.Bounds().Dy(), file)
	colors := map[uint32]bool{}
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y += 7 {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x += 7 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colors[r>>8<<16|g>>8<<8|bl>>8] = true
		}
	}
	require.Greater(b.t, len(colors), 50, "%s looks blank", file)
	b.t.Logf("screenshot: %s", file)
	return file
}

// site is the local stack with the landing page mounted at /s, as `make
// run` serves it, on a free port; shareUrl links point at it.
type site struct {
	url  string
	demo *local.Demo
}

func startSite(t *testing.T) *site {
	t.Helper()
	db := ddbtest.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + ln.Addr().String()
	cfg := config.Config{
		Table: db.Table, Endpoint: db.Endpoint, Region: "us-east-1",
		ShareBaseURL: base + "/s", MiniProgramPage: "/pages/landing/index", PhonePepper: "test-pepper",
	}
	ctx, cancel := context.WithCancel(context.Background())
	st, err := local.Start(ctx, local.Options{Config: cfg, Demo: true, Log: logging.Discard(), StreamInterval: 100 * time.Millisecond})
	require.NoError(t, err)
	// The stack serves on a port of its own, so its stream and schedules
	// run as under `make run`; the browser's port adds the page.
	stackLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	stackDone := make(chan error, 1)
	go func() { stackDone <- st.Serve(ctx, stackLn) }()

	page := landing.Handler("/s")
	mux := http.NewServeMux()
	mux.Handle("/s", page)
	mux.Handle("/s/", page)
	mux.HandleFunc("/test/accept", acceptFrame)
	mux.Handle("/", st.Server.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Serve(ln) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, srv.Close())
		require.ErrorIs(t, <-srvDone, http.ErrServerClosed)
		require.NoError(t, <-stackDone)
		st.Close()
	})
	return &site{url: base, demo: st.Demo}
}

// acceptFrame is a test page on the landing page's origin that does what a
// patient does, as the command-line browser cannot: it leaves the token
// where the mini-program's web-view would, opens the share link ?r= in a
// frame, taps 接受邀请 once it is shown, and keeps a copy of the frame's
// page in its own (hidden; the screenshot shows the frame), which
// --dump-dom prints.
func acceptFrame(w http.ResponseWriter, r *http.Request) {
	token, _ := json.Marshal(r.URL.Query().Get("token"))
	src, _ := json.Marshal("/s?r=" + r.URL.Query().Get("r"))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><html><body style="margin:0"><div id="copy" hidden></div><iframe id="frame" width="390" height="844" style="border:0;display:block"></iframe><script>
localStorage.setItem("laoyou.token", %s);
const frame = document.getElementById("frame");
let tapped = false;
setInterval(() => {
  const doc = frame.contentDocument;
  if (!doc || !doc.body) return;
  const accept = doc.getElementById("accept");
  if (!tapped && accept && !doc.getElementById("referral").hidden) { tapped = true; accept.click(); }
  document.getElementById("copy").innerHTML = doc.body.innerHTML;
}, 100);
frame.src = %s;
</script></body></html>`, token, src)
}

// api calls the local API; token "" sends none.
func (s *site) api(t *testing.T, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	return res.StatusCode, out
}

// token signs a patient of the demo clinic in, as /_local/token does.
func (s *site) token(t *testing.T, sub, name string) string {
	return s.tokenAs(t, sub, name, "patient")
}

func (s *site) tokenAs(t *testing.T, sub, name, role string) string {
	t.Helper()
	status, out := s.api(t, "POST", "/_local/token", "", map[string]string{"sub": sub, "tenant": s.demo.Tenant, "role": role, "name": name})
	require.Equal(t, 200, status, out)
	return out["token"].(string)
}

// clicks is the demo clinic's count of opened referral links.
func (s *site) clicks(t *testing.T) float64 {
	t.Helper()
	status, out := s.api(t, "GET", "/v1/admin/stats", s.tokenAs(t, "ops", "", "admin"), nil)
	require.Equal(t, 200, status, out)
	return out["referral"].(map[string]any)["clicks"].(float64)
}

// eventually polls cond for up to ten seconds: what the stream does takes
// a moment.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
	}
}

// text is the text of the element with id, or an error if there is none.
func text(dom, id string) (string, error) {
	m := regexp.MustCompile(`<[a-z0-9]+ [^>]*\bid="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`).FindStringSubmatch(dom)
	if m == nil {
		return "", errors.New("no element #" + id)
	}
	return m[1], nil
}

// tag is the opening tag of the element with id.
func tag(dom, id string) string {
	return regexp.MustCompile(`<[a-z0-9]+ [^>]*\bid="` + regexp.QuoteMeta(id) + `"[^>]*>`).FindString(dom)
}

func requireText(t *testing.T, dom, id, want string) {
	t.Helper()
	got, err := text(dom, id)
	require.NoError(t, err, dom)
	require.Equal(t, want, got, "#%s", id)
}

func requireShown(t *testing.T, dom, id string, shown bool) {
	t.Helper()
	open := tag(dom, id)
	require.NotEmpty(t, open, "no element #%s", id)
	require.Equal(t, shown, !regexp.MustCompile(`\shidden(=""|\s|>)`).MatchString(open), "#%s: %s", id, open)
}

var countdownTag = regexp.MustCompile(`<time [^>]*\bid="countdown"[^>]*>(\d{2,}):(\d{2}):(\d{2})</time>`)

// TestLandingInChromium loads share links in a real browser against the
// local stack: one stack for all, as starting one costs more than a page.
func TestLandingInChromium(t *testing.T) {
	b := newBrowser(t)
	s := startSite(t)
	t.Run("group room", func(t *testing.T) { groupRoom(t, b.on(t), s) })
	t.Run("referral code", func(t *testing.T) { referralCode(t, b.on(t), s) })
	t.Run("broken links", func(t *testing.T) { brokenLinks(t, b.on(t), s) })
}

func groupRoom(t *testing.T, b browser, s *site) {
	leader := s.token(t, "lina", "李娜")
	status, room := s.api(t, "POST", "/v1/groups", leader, map[string]string{"dealId": s.demo.Deal})
	require.Equal(t, 201, status, room)
	shareURL := room["shareUrl"].(string)
	require.True(t, strings.HasPrefix(shareURL, s.url+"/s?g="), shareURL)

	dom := b.dom(shareURL)
	requireShown(t, dom, "group", true)
	requireShown(t, dom, "loading", false)
	requireText(t, dom, "deal-title", "闺蜜卡·热玛吉双人体验")
	requireText(t, dom, "group-status", "拼团中")
	requireText(t, dom, "group-price", "3999")
	requireText(t, dom, "list-price", "原价 ¥5999")
	requireText(t, dom, "leader-price", "团长价 ¥3599")
	requireText(t, dom, "deal-covers", "价格包含：闺蜜卡·热玛吉双人体验（项目 THERMAGE-FACE） · 到院付款")
	requireShown(t, dom, "pay-note", true)
	require.Contains(t, dom, "到院付款")
	requireText(t, dom, "group-brand", local.DemoClinic.Name)
	requireShown(t, dom, "clinic", true)
	requireText(t, dom, "clinic-name", local.DemoClinic.Name)
	requireText(t, dom, "seats-left", "1")
	require.Regexp(t, `<li class="member leader" data-leader="true"><span class="avatar">李<span class="badge">团长</span></span><span class="name">李\*</span></li>`, dom,
		"the leader, masked and marked")
	require.Equal(t, 1, strings.Count(dom, `class="member empty"`), "one seat left")
	require.NotContains(t, dom, "李娜", "never the full name")
	require.NotContains(t, tag(dom, "join"), "disabled")
	requireText(t, dom, "join", "参与拼团")

	m := countdownTag.FindStringSubmatch(dom)
	require.NotNil(t, m, "a countdown as HH:MM:SS: %s", tag(dom, "countdown"))
	h, _ := strconv.Atoi(m[1])
	mi, _ := strconv.Atoi(m[2])
	sec, _ := strconv.Atoi(m[3])
	shown := h*3600 + mi*60 + sec
	started, err := strconv.Atoi(regexp.MustCompile(`data-seconds-left="(\d+)"`).FindStringSubmatch(tag(dom, "countdown"))[1])
	require.NoError(t, err)
	require.InDelta(t, 86400, started, 60, "the demo deal's rooms run a day")
	require.Less(t, shown, started, "the countdown ticks: %d shown, %d at load", shown, started)
	require.Greater(t, shown, started-30)

	b.screenshot(shareURL, "group-open.png")

	// A friend joins: the room fills, the page says so and offers no join.
	friend := s.token(t, "mei", "Mei")
	status, joined := s.api(t, "POST", "/v1/groups/"+room["groupId"].(string)+"/join", friend, nil)
	require.Equal(t, 200, status, joined)
	dom = b.dom(shareURL)
	requireText(t, dom, "group-status", "拼团成功")
	requireText(t, dom, "seats-line", "拼团成功，名额已满")
	require.Contains(t, dom, `<span class="name">M***</span>`)
	require.Contains(t, tag(dom, "join"), "disabled")
	requireText(t, dom, "join", "已成团")
	requireShown(t, dom, "timer", false)
	b.screenshot(shareURL, "group-succeeded.png")
}

func referralCode(t *testing.T, b browser, s *site) {
	require.True(t, strings.HasPrefix(s.demo.ShareURL, s.url+"/s?r="), s.demo.ShareURL)

	before := s.clicks(t)
	dom := b.dom(s.demo.ShareURL)
	requireShown(t, dom, "referral", true)
	requireText(t, dom, "referrer-name", "王*")
	requireText(t, dom, "offer-title", "新客到院礼：免费皮肤检测一次")
	require.NotContains(t, dom, "王芳", "never the full name")
	// The clinic, by name, where to go and whom to call.
	requireText(t, dom, "referral-brand", local.DemoClinic.Name)
	requireShown(t, dom, "clinic", true)
	requireText(t, dom, "clinic-name", local.DemoClinic.Name)
	requireText(t, dom, "clinic-address", local.DemoClinic.Address)
	requireText(t, dom, "clinic-phone", local.DemoClinic.Phone)
	require.Contains(t, tag(dom, "clinic-phone"), `href="tel:02162880000"`)
	requireShown(t, dom, "desk", false)
	// Showing the page reported the open: the funnel counts it.
	eventually(t, "the open counted in the stats' clicks", func() bool { return s.clicks(t) > before })
	b.screenshot(s.demo.ShareURL, "referral.png")

	// A newcomer accepts. Bound already (by the API, a moment ago) so the
	// newcomer gift is in their coupons before the page asks: the tap
	// binds again to the same code, which answers the same.
	newcomer := s.token(t, "xia", "夏雨")
	status, bound := s.api(t, "POST", "/v1/referral/bind", newcomer, map[string]string{"code": s.demo.ReferralCode})
	require.Equal(t, 200, status, bound)
	var gift map[string]any
	eventually(t, "the newcomer gift issued on binding", func() bool {
		status, mine := s.api(t, "GET", "/v1/coupons/me", newcomer, nil)
		require.Equal(t, 200, status, mine)
		for _, c := range mine["coupons"].([]any) {
			if c := c.(map[string]any); c["templateId"] == "newcomer-gift" {
				gift = c
			}
		}
		return gift != nil
	})
	code := s.demo.ReferralCode
	accepted := s.url + "/test/accept?r=" + code + "&token=" + newcomer
	dom = b.dom(accepted)
	requireShown(t, dom, "desk", true)
	requireShown(t, dom, "accept", false)
	requireText(t, dom, "desk-patient", "夏*")
	requireText(t, dom, "desk-referrer", "王*")
	requireText(t, dom, "desk-clinic", local.DemoClinic.Name)
	requireText(t, dom, "desk-offer", gift["title"].(string))
	requireText(t, dom, "desk-coupon", gift["couponCode"].(string))
	require.NotContains(t, dom, "夏雨", "the newcomer masked too")
	b.screenshot(accepted, "referral-accepted.png")
}

func brokenLinks(t *testing.T, b browser, s *site) {
	tests := []struct{ query, want string }{
		{"?g=ZZZZZZZZZZZZ", "没有找到这个团，链接可能已失效"},
		{"?r=ZZZZZZZZZ", "邀请链接无效或已失效"},
		{"", "链接不完整，请从好友分享的链接打开"},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			dom := b.dom(s.url + "/s" + tc.query)
			requireShown(t, dom, "problem", true)
			requireText(t, dom, "problem-text", tc.want)
		})
	}
}
