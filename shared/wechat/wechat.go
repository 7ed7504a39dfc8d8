// Package wechat is Laoyou's one client of WeChat's server API: sign-in
// (jscode2session), phone numbers (getuserphonenumber), mini-program codes
// (getwxacodeunlimit) and subscribe messages (subscribe/send), with the
// access token they need (stable_token) shared by every execution
// environment through a TokenStore.
//
// WeChat answers most failures as HTTP 200 with an errcode; the client turns
// them into apierr kinds in one place (kindOf): a bad, used or expired code
// is WECHAT_CODE_INVALID, a blocked user WECHAT_USER_BLOCKED, an app WeChat
// does not know (or whose secret it refuses) WECHAT_NOT_CONFIGURED, and
// WeChat busy, rate limited, slow or failing WECHAT_UNAVAILABLE, after a
// short bounded retry. An invalid-token answer forces one token refresh and
// one more try. Neither errors nor metrics carry a secret, token, code,
// session key or openid.
package wechat

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/laoyou/laoyou/shared/apierr"
)

// DefaultBase is WeChat's server API.
const DefaultBase = "https://api.weixin.qq.com"

// App is one mini-program: its appId, its secret and the version its codes
// and messages open (release, trial or develop; empty means release).
type App struct {
	ID, Secret, EnvVersion string
}

// Env versions of a mini-program.
const (
	EnvRelease = "release"
	EnvTrial   = "trial"
	EnvDevelop = "develop"
)

// ValidEnvVersion reports whether v names a version WeChat knows.
func ValidEnvVersion(v string) bool { return v == EnvRelease || v == EnvTrial || v == EnvDevelop }

// Apps finds a tenant's mini-program; a tenant with none answers
// WECHAT_NOT_CONFIGURED.
type Apps interface {
	App(ctx context.Context, tenant string) (App, error)
}

// Session is who signed in with a wx.login code.
type Session struct {
	OpenID, UnionID, SessionKey string
}

// Phone is the number behind a phone-number button's code.
type Phone struct {
	Number      string // with the country code where not +86, as WeChat gives it
	PureNumber  string // without the country code
	CountryCode string
}

// CodeRequest asks for a mini-program code (小程序码) of an unlimited scene.
type CodeRequest struct {
	Scene      string // at most 32 characters
	Page       string // no leading "/"; empty opens the home page
	Width      int    // 280 to 1280 pixels; 0 is WeChat's default, 430
	CheckPath  bool   // WeChat checks that Page exists in the published version
	EnvVersion string // empty: the app's
}

// Image is a mini-program code as WeChat draws it.
type Image struct {
	ContentType string // image/jpeg or image/png
	Bytes       []byte
}

// SubscribeMessage is one subscribe message (订阅消息) to one user.
type SubscribeMessage struct {
	ToOpenID   string
	TemplateID string
	Page       string            // no leading "/"; empty: no page
	State      string            // miniprogram_state: developer, trial or formal; empty: from the app's version
	Data       map[string]string // the template's keys (e.g. thing1) to their values
}

// Token is an access token and when it stops working.
type Token struct {
	Value     string
	ExpiresAt time.Time
}

// Error is what WeChat answered when it refused a call: the API and
// WeChat's errcode. Its text carries neither the request nor WeChat's
// errmsg, which may echo it.
type Error struct {
	API  string
	Code int
}

func (e *Error) Error() string { return fmt.Sprintf("wechat %s: errcode %d", e.API, e.Code) }

// WeChat's errcodes the client acts on.
const (
	codeBusy          = -1
	codeInvalidToken  = 40001
	codeInvalidCred   = 40013 // invalid appid
	codeBadToken      = 40014 // invalid access_token
	codeCodeInvalid   = 40029
	codeSecretInvalid = 40125
	codeCodeUsed      = 40163
	codeIPNotAllowed  = 40164
	codeUserBlocked   = 40226
	codeTokenExpired  = 42001
	codeNotGranted    = 43101
	codeQuota         = 45009
	codeMinuteQuota   = 45011
)

// CodeOf is WeChat's errcode behind err, or 0.
func CodeOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// IsNotGranted reports whether WeChat refused a subscribe message because
// the user has not accepted its template (43101). Sending again does not
// help until they do.
func IsNotGranted(err error) bool { return CodeOf(err) == codeNotGranted }

// IsCodeUsed reports whether WeChat refused a one-time code (wx.login's,
// a phone button's) as used already (40163), perhaps by an earlier attempt
// of the same request.
func IsCodeUsed(err error) bool { return CodeOf(err) == codeCodeUsed }

// tokenInvalid reports whether WeChat refused the access token.
func tokenInvalid(code int) bool {
	return code == codeInvalidToken || code == codeBadToken || code == codeTokenExpired
}

// kindOf is the one place WeChat's errcodes become Laoyou's error kinds.
func kindOf(code int) apierr.Kind {
	switch code {
	case codeCodeInvalid, codeCodeUsed:
		return apierr.WeChatCodeInvalid
	case codeUserBlocked:
		return apierr.WeChatUserBlocked
	case codeInvalidCred, codeSecretInvalid, codeIPNotAllowed:
		return apierr.WeChatNotConfigured
	case codeBusy, codeQuota, codeMinuteQuota, codeInvalidToken, codeBadToken, codeTokenExpired:
		return apierr.WeChatUnavailable
	case codeNotGranted, 40003, 40037, 41030, 47003, 47001, 44002, 40097, 40169, 40159, 85096:
		// Refusals of what was asked (openid, template, page, data, scene):
		// asking again the same way cannot succeed.
		return apierr.BadRequest
	}
	return apierr.WeChatUnavailable
}

// messageOf says, for the client, what a kind means here.
func messageOf(kind apierr.Kind) string {
	switch kind {
	case apierr.WeChatCodeInvalid:
		return "the WeChat code is invalid, used or expired"
	case apierr.WeChatUserBlocked:
		return "WeChat has blocked this user"
	case apierr.WeChatNotConfigured:
		return "WeChat refuses this mini-program's appId or appSecret"
	case apierr.BadRequest:
		return "WeChat refused the request"
	}
	return "WeChat is busy or out of reach; try again shortly"
}

// refused turns WeChat's errcode into an apierr error.
func refused(op apierr.Op, api string, code int) error {
	kind := kindOf(code)
	return apierr.E(op, kind, messageOf(kind), &Error{API: api, Code: code})
}

// unavailable is the error of a call that could not reach WeChat or got no
// usable answer; cause never carries the URL.
func unavailable(op apierr.Op, api string, cause error) error {
	return apierr.E(op, apierr.WeChatUnavailable, messageOf(apierr.WeChatUnavailable), fmt.Errorf("wechat %s: %w", api, cause))
}

// Metrics counts WeChat calls by API and result ("ok", or the kind of
// error, e.g. "WECHAT_UNAVAILABLE", or "NOT_GRANTED") with their latency.
type Metrics interface {
	WeChatCall(api, result string, took time.Duration)
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sends requests with hc.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithTimeout bounds each attempt of a call (default 5 s).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithRetry sets how many attempts a call that WeChat answers busy, with a
// 5xx or not at all gets (default 2), and the pause after the first
// failure, doubling after each (default 200 ms).
func WithRetry(attempts int, backoff time.Duration) Option {
	return func(c *Client) { c.attempts, c.backoff = max(1, attempts), backoff }
}

// WithTokenStore shares access tokens through s (default: in this process
// only).
func WithTokenStore(s TokenStore) Option { return func(c *Client) { c.tokens = s } }

// WithClock reads the time from now (tokens' expiry, the forced-refresh
// gap).
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// WithMetrics counts every call on m.
func WithMetrics(m Metrics) Option { return func(c *Client) { c.metrics = m } }

// WithTokenWait bounds how long a call waits for another environment's
// token refresh before it gives up with WECHAT_UNAVAILABLE (default 3 s).
func WithTokenWait(d time.Duration) Option { return func(c *Client) { c.tokenWait = d } }
