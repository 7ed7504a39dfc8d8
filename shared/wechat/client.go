package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/laoyou/laoyou/shared/apierr"
)

// The APIs, as metrics and errors name them.
const (
	APICode2Session = "jscode2session"
	APIStableToken  = "stable_token"
	APICodeImage    = "getwxacodeunlimit"
	APIPhoneNumber  = "getuserphonenumber"
	APISubscribe    = "subscribe_send"
)

// maxBody bounds what the client reads of an answer: a mini-program code
// at 1280 pixels is a few hundred KB at most.
const maxBody = 2 << 20

// Client calls WeChat's server API at one base URL. It is safe for
// concurrent use; one per process is enough.
type Client struct {
	base      string
	http      *http.Client
	timeout   time.Duration
	attempts  int
	backoff   time.Duration
	tokens    TokenStore
	tokenWait time.Duration
	now       func() time.Time
	metrics   Metrics
	holder    string // this client's name when it holds a token lease

	mu     sync.Mutex
	cached map[string]Token       // appId → the token last seen valid
	locks  map[string]*sync.Mutex // appId → one refresh at a time in this process
}

// New returns a client of the API at base (DefaultBase in production).
func New(base string, opts ...Option) *Client {
	c := &Client{
		base:      strings.TrimRight(base, "/"),
		http:      &http.Client{},
		timeout:   5 * time.Second,
		attempts:  2,
		backoff:   200 * time.Millisecond,
		tokenWait: 3 * time.Second,
		now:       time.Now,
		holder:    newHolder(),
		cached:    map[string]Token{},
		locks:     map[string]*sync.Mutex{},
	}
	for _, o := range opts {
		o(c)
	}
	if c.tokens == nil {
		c.tokens = NewMemoryTokens()
	}
	return c
}

// errorFields is what every WeChat JSON answer may carry.
type errorFields struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// Code2Session signs a user in with the code of wx.login.
func (c *Client) Code2Session(ctx context.Context, app App, code string) (Session, error) {
	const op = apierr.Op("wechat.Code2Session")
	if code == "" || len(code) > 128 {
		return Session{}, apierr.E(op, apierr.WeChatCodeInvalid, messageOf(apierr.WeChatCodeInvalid))
	}
	q := url.Values{"appid": {app.ID}, "secret": {app.Secret}, "js_code": {code}, "grant_type": {"authorization_code"}}
	var out struct {
		errorFields
		OpenID     string `json:"openid"`
		UnionID    string `json:"unionid"`
		SessionKey string `json:"session_key"`
	}
	start := c.now()
	_, err := c.roundTrip(ctx, op, APICode2Session, http.MethodGet, "/sns/jscode2session?"+q.Encode(), nil, &out)
	if err == nil && out.OpenID == "" {
		err = unavailable(op, APICode2Session, errors.New("no openid in the answer"))
	}
	c.count(APICode2Session, start, err)
	if err != nil {
		return Session{}, err
	}
	return Session{OpenID: out.OpenID, UnionID: out.UnionID, SessionKey: out.SessionKey}, nil
}

// PhoneNumber reads the number behind a phone-number button's code.
func (c *Client) PhoneNumber(ctx context.Context, app App, code string) (Phone, error) {
	const op = apierr.Op("wechat.PhoneNumber")
	if code == "" || len(code) > 128 {
		return Phone{}, apierr.E(op, apierr.WeChatCodeInvalid, messageOf(apierr.WeChatCodeInvalid))
	}
	var out struct {
		errorFields
		PhoneInfo struct {
			PhoneNumber     string `json:"phoneNumber"`
			PurePhoneNumber string `json:"purePhoneNumber"`
			CountryCode     string `json:"countryCode"`
		} `json:"phone_info"`
	}
	start := c.now()
	_, err := c.withToken(ctx, op, app, APIPhoneNumber, "/wxa/business/getuserphonenumber", map[string]string{"code": code}, &out)
	if err == nil && out.PhoneInfo.PurePhoneNumber == "" {
		err = unavailable(op, APIPhoneNumber, errors.New("no phone_info in the answer"))
	}
	c.count(APIPhoneNumber, start, err)
	if err != nil {
		return Phone{}, err
	}
	p := out.PhoneInfo
	return Phone{Number: p.PhoneNumber, PureNumber: p.PurePhoneNumber, CountryCode: p.CountryCode}, nil
}

// CodeImage draws the mini-program code of an unlimited scene.
func (c *Client) CodeImage(ctx context.Context, app App, req CodeRequest) (Image, error) {
	const op = apierr.Op("wechat.CodeImage")
	env := req.EnvVersion
	if env == "" {
		env = app.EnvVersion
	}
	if env == "" {
		env = EnvRelease
	}
	body := struct {
		Scene      string `json:"scene"`
		Page       string `json:"page,omitempty"`
		CheckPath  bool   `json:"check_path"`
		EnvVersion string `json:"env_version"`
		Width      int    `json:"width,omitempty"`
	}{req.Scene, strings.TrimPrefix(req.Page, "/"), req.CheckPath, env, req.Width}
	start := c.now()
	img, err := c.withToken(ctx, op, app, APICodeImage, "/wxa/getwxacodeunlimit", body, nil)
	if err == nil && img == nil {
		err = unavailable(op, APICodeImage, errors.New("no image in the answer"))
	}
	c.count(APICodeImage, start, err)
	if err != nil {
		return Image{}, err
	}
	return *img, nil
}

// SendSubscribeMessage sends m. A user who has not accepted the template
// answers an error for which IsNotGranted is true.
func (c *Client) SendSubscribeMessage(ctx context.Context, app App, m SubscribeMessage) error {
	const op = apierr.Op("wechat.SendSubscribeMessage")
	state := m.State
	if state == "" {
		state = map[string]string{EnvTrial: "trial", EnvDevelop: "developer"}[app.EnvVersion]
	}
	if state == "" {
		state = "formal"
	}
	type value struct {
		Value string `json:"value"`
	}
	data := make(map[string]value, len(m.Data))
	for k, v := range m.Data {
		data[k] = value{v}
	}
	body := struct {
		ToUser     string           `json:"touser"`
		TemplateID string           `json:"template_id"`
		Page       string           `json:"page,omitempty"`
		Data       map[string]value `json:"data"`
		State      string           `json:"miniprogram_state"`
		Lang       string           `json:"lang"`
	}{m.ToOpenID, m.TemplateID, strings.TrimPrefix(m.Page, "/"), data, state, "zh_CN"}
	var out errorFields
	start := c.now()
	_, err := c.withToken(ctx, op, app, APISubscribe, "/cgi-bin/message/subscribe/send", body, &out)
	c.count(APISubscribe, start, err)
	return err
}

// withToken POSTs body to path with the app's access token. When WeChat
// refuses the token, it forces a refresh and tries once more.
func (c *Client) withToken(ctx context.Context, op apierr.Op, app App, api, path string, body, out any) (*Image, error) {
	tok, err := c.token(ctx, app, "")
	if err != nil {
		return nil, err
	}
	img, err := c.roundTrip(ctx, op, api, http.MethodPost, path+"?access_token="+url.QueryEscape(tok), body, out)
	if !tokenInvalid(CodeOf(err)) {
		return img, err
	}
	c.forget(app.ID, tok)
	if tok, err = c.token(ctx, app, tok); err != nil {
		return nil, err
	}
	return c.roundTrip(ctx, op, api, http.MethodPost, path+"?access_token="+url.QueryEscape(tok), body, out)
}

// roundTrip makes one call, retrying what a moment may mend: no answer, a
// 5xx, WeChat busy (-1). An image answer is returned; a JSON answer is
// decoded into out and its errcode, if any, returned as an error.
func (c *Client) roundTrip(ctx context.Context, op apierr.Op, api, method, pathQuery string, body, out any) (*Image, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, apierr.E(op, apierr.Internal, err)
		}
	}
	var last error
	for attempt := 1; attempt <= c.attempts; attempt++ {
		if attempt > 1 {
			select {
			case <-ctx.Done():
				return nil, unavailable(op, api, ctx.Err())
			case <-time.After(c.backoff << (attempt - 2)):
			}
		}
		img, err := c.once(ctx, op, api, method, pathQuery, payload, out)
		if err == nil || !retryable(err) {
			return img, err
		}
		last = err
	}
	return nil, last
}

// retryable reports whether trying again soon may succeed. Quotas (45009
// daily, 45011 per minute) do not reset within a retry's pause.
func retryable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Code == codeBusy
	}
	return apierr.KindOf(err) == apierr.WeChatUnavailable
}

func (c *Client) once(ctx context.Context, op apierr.Op, api, method, pathQuery string, payload []byte, out any) (*Image, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+pathQuery, rd)
	if err != nil {
		return nil, unavailable(op, api, errors.New("bad request URL"))
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // without the URL: it carries the secret or the token
		}
		return nil, unavailable(op, api, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, unavailable(op, api, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, unavailable(op, api, fmt.Errorf("HTTP %d", resp.StatusCode))
	}
	ctype, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if strings.HasPrefix(ctype, "image/") {
		return &Image{ContentType: ctype, Bytes: raw}, nil
	}
	var ef errorFields
	if err := json.Unmarshal(raw, &ef); err != nil {
		return nil, unavailable(op, api, errors.New("an answer that is neither an image nor JSON"))
	}
	if ef.ErrCode != 0 {
		return nil, refused(op, api, ef.ErrCode)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, unavailable(op, api, errors.New("an answer of the wrong shape"))
		}
	}
	return nil, nil
}

// count reports a call's result to the metrics sink.
func (c *Client) count(api string, start time.Time, err error) {
	if c.metrics == nil {
		return
	}
	result := "ok"
	switch {
	case IsNotGranted(err):
		result = "NOT_GRANTED"
	case err != nil:
		result = string(apierr.KindOf(err))
	}
	c.metrics.WeChatCall(api, result, c.now().Sub(start))
}
