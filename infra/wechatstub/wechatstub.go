// Package wechatstub is a stand-in for WeChat's server API, written from
// WeChat's documentation and as strict as WeChat, for tests and the local
// runner. Laoyou's client talks to it through WECHAT_API_BASE and knows
// nothing of it.
//
// What it serves, as WeChat does (errors are HTTP 200 with errcode):
//
//	GET  /sns/jscode2session?appid&secret&js_code&grant_type=authorization_code
//	     one-time login codes that expire after 5 minutes: 40013 unknown
//	     appid, 40125 wrong secret, 40029 bad or expired code, 40163 used
//	     code, 40226 blocked user
//	POST /cgi-bin/stable_token {grant_type, appid, secret, force_refresh}
//	     tokens live 7200 s; the normal mode returns the current token while
//	     more than 5 minutes are left, force_refresh issues a new one and
//	     leaves the old one 5 more minutes
//	POST /wxa/getwxacodeunlimit?access_token=  a PNG drawn from the scene
//	POST /wxa/business/getuserphonenumber?access_token=  one-time phone codes
//	POST /cgi-bin/message/subscribe/send?access_token=  43101 unless the
//	     user accepted the template (each acceptance allows one message)
//
// Every call with an access token answers 41001 without one, 40001 for a
// token it never issued or revoked, 42001 for an expired one.
//
// Developer endpoints (never WeChat's), all POST with JSON:
//
//	/_stub/app        {appId, secret}              registers a mini-program
//	/_stub/login-code {appId, openId, unionId?}    → {code} for jscode2session
//	/_stub/phone-code {appId?, phone}              → {code} for getuserphonenumber
//	/_stub/accept     {appId?, openId, templateId} one subscribe acceptance
//	/_stub/block      {appId?, openId}             jscode2session answers 40226
//	/_stub/fault      {api, fault, count}          the next count calls of api
//	                                               fail: busy, ratelimit, slow, 5xx
//	/_stub/revoke     {appId}                      the app's current token stops working
//
// and GET /_stub/messages?openId= lists the subscribe messages delivered
// (to that user), as the phone would show them.
//
// Tests use the same through methods (LoginCode, Accept, Fail, Revoke, ...)
// and read per-API call counts with Calls.
package wechatstub

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// The APIs, as Calls and Fail name them.
const (
	Code2Session = "jscode2session"
	StableToken  = "stable_token"
	CodeImage    = "getwxacodeunlimit"
	PhoneNumber  = "getuserphonenumber"
	Subscribe    = "subscribe_send"
)

// Faults Fail can inject.
const (
	Busy      = "busy"      // errcode -1, system busy
	RateLimit = "ratelimit" // errcode 45009, quota reached
	Slow      = "slow"      // the answer comes after SlowFor
	HTTP5xx   = "5xx"       // HTTP 502
)

// Lifetimes, as WeChat documents them.
const (
	CodeTTL         = 5 * time.Minute
	TokenTTL        = 7200 * time.Second
	TokenRenewal    = 5 * time.Minute // normal mode renews in the token's last 5 minutes
	ForcedOverlap   = 5 * time.Minute // the old token's life after a forced refresh
	DefaultSlowness = 10 * time.Second
)

// Stub is the stand-in. Its zero value is not usable; call New.
type Stub struct {
	// Now is the stub's clock; tests move it to expire codes and tokens.
	Now func() time.Time
	// SlowFor is how long a Slow fault holds the answer.
	SlowFor time.Duration
	// Pages are the pages getwxacodeunlimit accepts with check_path; empty
	// means any.
	Pages []string

	mu         sync.Mutex
	apps       map[string]string // appId → secret
	current    map[string]string // appId → current token
	tokens     map[string]*token
	loginCodes map[string]*loginCode
	phoneCodes map[string]*phoneCode
	users      map[string]string // appId|openId → appId: users minted codes for
	blocked    map[string]bool   // appId|openId
	accepted   map[string]int    // appId|openId|templateId → messages allowed
	templates  map[string]bool   // appId|templateId
	faults     map[string][]string
	calls      map[string]int
	sent       []Sent
	drawn      []Drawn
}

// Drawn is a mini-program code the stub drew, as it was asked for.
type Drawn struct {
	AppID, Scene, Page, EnvVersion string
	CheckPath                      bool
	Width                          int
}

// Sent is a subscribe message the stub accepted.
type Sent struct {
	AppID, ToOpenID, TemplateID, Page, State string
	Data                                     map[string]string
}

type token struct {
	appID     string
	expiresAt time.Time
	revoked   bool
}

type loginCode struct {
	appID, openID, unionID string
	issued                 time.Time
	used                   bool
}

type phoneCode struct {
	appID, phone string
	issued       time.Time
	used         bool
}

// New returns an empty stub on the real clock.
func New() *Stub {
	return &Stub{
		Now: time.Now, SlowFor: DefaultSlowness,
		apps: map[string]string{}, current: map[string]string{}, tokens: map[string]*token{},
		loginCodes: map[string]*loginCode{}, phoneCodes: map[string]*phoneCode{}, users: map[string]string{},
		blocked: map[string]bool{}, accepted: map[string]int{}, templates: map[string]bool{},
		faults: map[string][]string{}, calls: map[string]int{},
	}
}

// AddApp registers a mini-program.
func (s *Stub) AddApp(appID, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[appID] = secret
}

// LoginCode mints a wx.login code of openID (and unionID, if any).
func (s *Stub) LoginCode(appID, openID, unionID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := randomID("0")
	s.loginCodes[c] = &loginCode{appID: appID, openID: openID, unionID: unionID, issued: s.Now()}
	s.users[appID+"|"+openID] = appID
	return c
}

// PhoneCode mints a phone-number button's code for phone (digits, with
// "+<country>" in front where not China).
func (s *Stub) PhoneCode(appID, phone string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := randomID("p")
	s.phoneCodes[c] = &phoneCode{appID: appID, phone: phone, issued: s.Now()}
	return c
}

// Accept records that openID accepted templateID once: one message may be
// sent. It also makes the template known to the app.
func (s *Stub) Accept(appID, openID, templateID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accepted[appID+"|"+openID+"|"+templateID]++
	s.templates[appID+"|"+templateID] = true
	s.users[appID+"|"+openID] = appID
}

// AddTemplate makes templateID known to the app without any acceptance.
func (s *Stub) AddTemplate(appID, templateID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.templates[appID+"|"+templateID] = true
}

// Block makes jscode2session answer 40226 for openID.
func (s *Stub) Block(appID, openID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked[appID+"|"+openID] = true
}

// Fail makes the next count calls of api fail with fault.
func (s *Stub) Fail(api, fault string, count int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range count {
		s.faults[api] = append(s.faults[api], fault)
	}
}

// ClearFaults drops the faults not yet used.
func (s *Stub) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// Revoke makes the app's current token invalid at once (40001), as when
// someone fetched a token with cgi-bin/token; stable_token's normal mode
// keeps handing it out until a forced refresh.
func (s *Stub) Revoke(appID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tokens[s.current[appID]]; t != nil {
		t.revoked = true
	}
}

// Calls is how many calls of api the stub answered (faults included).
func (s *Stub) Calls(api string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[api]
}

// SentMessages lists the subscribe messages accepted so far.
func (s *Stub) SentMessages() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sent(nil), s.sent...)
}

// DrawnCodes lists the mini-program codes drawn so far.
func (s *Stub) DrawnCodes() []Drawn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Drawn(nil), s.drawn...)
}

// ServeHTTP answers WeChat's routes and the developer ones.
func (s *Stub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/sns/jscode2session" && r.Method == http.MethodGet:
		s.api(w, r, Code2Session, s.code2Session)
	case r.URL.Path == "/cgi-bin/stable_token" && r.Method == http.MethodPost:
		s.api(w, r, StableToken, s.stableToken)
	case r.URL.Path == "/wxa/getwxacodeunlimit" && r.Method == http.MethodPost:
		s.api(w, r, CodeImage, s.withToken(s.codeImage))
	case r.URL.Path == "/wxa/business/getuserphonenumber" && r.Method == http.MethodPost:
		s.api(w, r, PhoneNumber, s.withToken(s.phoneNumber))
	case r.URL.Path == "/cgi-bin/message/subscribe/send" && r.Method == http.MethodPost:
		s.api(w, r, Subscribe, s.withToken(s.subscribe))
	case r.URL.Path == "/_stub/messages" && r.Method == http.MethodGet:
		s.inbox(w, r)
	case strings.HasPrefix(r.URL.Path, "/_stub/") && r.Method == http.MethodPost:
		s.developer(w, r)
	default:
		http.NotFound(w, r)
	}
}

// answer is what a handler returns: JSON, or an image.
type answer struct {
	json  any
	image []byte
}

func errAnswer(code int, msg string) answer {
	return answer{json: map[string]any{"errcode": code, "errmsg": msg}}
}

// api counts the call, applies an injected fault, then answers.
func (s *Stub) api(w http.ResponseWriter, r *http.Request, name string, h func(*http.Request) answer) {
	s.mu.Lock()
	s.calls[name]++
	var fault string
	if f := s.faults[name]; len(f) > 0 {
		fault, s.faults[name] = f[0], f[1:]
	}
	slow := s.SlowFor
	s.mu.Unlock()
	var a answer
	switch fault {
	case Busy:
		a = errAnswer(-1, "system error")
	case RateLimit:
		a = errAnswer(45009, "reach max api daily quota limit")
	case HTTP5xx:
		http.Error(w, "bad gateway", http.StatusBadGateway)
		return
	case Slow:
		select {
		case <-r.Context().Done():
			return
		case <-time.After(slow):
		}
		a = h(r)
	default:
		a = h(r)
	}
	if a.image != nil {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(a.image)
		return
	}
	w.Header().Set("Content-Type", "application/json; encoding=utf-8")
	_ = json.NewEncoder(w).Encode(a.json)
}

func (s *Stub) code2Session(r *http.Request) answer {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	secret, known := s.apps[q.Get("appid")]
	switch {
	case !known:
		return errAnswer(40013, "invalid appid")
	case q.Get("secret") != secret:
		return errAnswer(40125, "invalid appsecret")
	case q.Get("grant_type") != "authorization_code":
		return errAnswer(40002, "invalid grant_type")
	case q.Get("js_code") == "":
		return errAnswer(41008, "missing code")
	}
	c := s.loginCodes[q.Get("js_code")]
	switch {
	case c == nil || c.appID != q.Get("appid") || s.Now().Sub(c.issued) > CodeTTL:
		return errAnswer(40029, "invalid code")
	case c.used:
		return errAnswer(40163, "code been used")
	}
	c.used = true
	if s.blocked[c.appID+"|"+c.openID] {
		return errAnswer(40226, "high risk user")
	}
	out := map[string]any{"openid": c.openID, "session_key": randomID("k")}
	if c.unionID != "" {
		out["unionid"] = c.unionID
	}
	return answer{json: out}
}

func (s *Stub) stableToken(r *http.Request) answer {
	var in struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh bool   `json:"force_refresh"`
	}
	if err := strictJSON(r, &in); err != nil {
		return errAnswer(47001, "data format error")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	secret, known := s.apps[in.AppID]
	switch {
	case in.GrantType != "client_credential":
		return errAnswer(40002, "invalid grant_type")
	case !known:
		return errAnswer(40013, "invalid appid")
	case in.Secret != secret:
		return errAnswer(40125, "invalid appsecret")
	}
	now := s.Now()
	cur := s.tokens[s.current[in.AppID]]
	if !in.ForceRefresh && cur != nil && cur.expiresAt.Sub(now) > TokenRenewal {
		return answer{json: map[string]any{"access_token": s.current[in.AppID], "expires_in": int(cur.expiresAt.Sub(now).Seconds())}}
	}
	if in.ForceRefresh && cur != nil && cur.expiresAt.After(now.Add(ForcedOverlap)) {
		cur.expiresAt = now.Add(ForcedOverlap)
	}
	v := randomID("t") + randomID("")
	s.tokens[v] = &token{appID: in.AppID, expiresAt: now.Add(TokenTTL)}
	s.current[in.AppID] = v
	return answer{json: map[string]any{"access_token": v, "expires_in": int(TokenTTL.Seconds())}}
}

// withToken checks the access token, then runs h with the token's app.
func (s *Stub) withToken(h func(r *http.Request, appID string) answer) func(*http.Request) answer {
	return func(r *http.Request) answer {
		v := r.URL.Query().Get("access_token")
		s.mu.Lock()
		t := s.tokens[v]
		now := s.Now()
		s.mu.Unlock()
		switch {
		case v == "":
			return errAnswer(41001, "access_token missing")
		case t == nil || t.revoked:
			return errAnswer(40001, "invalid credential, access_token is invalid or not latest")
		case !now.Before(t.expiresAt):
			return errAnswer(42001, "access_token expired")
		}
		return h(r, t.appID)
	}
}

// sceneChars are the characters WeChat allows in a scene.
var sceneChars = regexp.MustCompile(`^[0-9A-Za-z!#$&'()*+,/:;=?@._~-]{1,32}$`)

func (s *Stub) codeImage(r *http.Request, appID string) answer {
	var in struct {
		Scene      string          `json:"scene"`
		Page       string          `json:"page"`
		CheckPath  *bool           `json:"check_path"`
		EnvVersion string          `json:"env_version"`
		Width      int             `json:"width"`
		AutoColor  bool            `json:"auto_color"`
		LineColor  json.RawMessage `json:"line_color"`
		IsHyaline  bool            `json:"is_hyaline"`
	}
	if err := strictJSON(r, &in); err != nil {
		return errAnswer(47001, "data format error")
	}
	checkPath := in.CheckPath == nil || *in.CheckPath // WeChat's default is true
	if in.EnvVersion == "" {
		in.EnvVersion = "release"
	}
	if in.Width == 0 {
		in.Width = 430
	}
	switch {
	case !sceneChars.MatchString(in.Scene):
		return errAnswer(40169, "invalid length for scene, or the data is not json string")
	case strings.HasPrefix(in.Page, "/") || strings.ContainsAny(in.Page, "?#"):
		return errAnswer(41030, "invalid page rid")
	case checkPath && in.Page != "" && len(s.Pages) > 0 && !contains(s.Pages, in.Page):
		return errAnswer(41030, "invalid page rid")
	case in.EnvVersion != "release" && in.EnvVersion != "trial" && in.EnvVersion != "develop":
		return errAnswer(40097, "invalid args: env_version")
	case in.Width < 280 || in.Width > 1280:
		return errAnswer(40097, "invalid args: width")
	}
	s.mu.Lock()
	s.drawn = append(s.drawn, Drawn{AppID: appID, Scene: in.Scene, Page: in.Page, EnvVersion: in.EnvVersion, CheckPath: checkPath, Width: in.Width})
	s.mu.Unlock()
	return answer{image: drawCode(appID+"|"+in.Page+"|"+in.Scene, in.Width)}
}

func (s *Stub) phoneNumber(r *http.Request, appID string) answer {
	var in struct {
		Code string `json:"code"`
	}
	if err := strictJSON(r, &in); err != nil {
		return errAnswer(47001, "data format error")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.phoneCodes[in.Code]
	switch {
	case in.Code == "" || c == nil || (c.appID != "" && c.appID != appID) || s.Now().Sub(c.issued) > CodeTTL:
		return errAnswer(40029, "invalid code")
	case c.used:
		return errAnswer(40163, "code been used")
	}
	c.used = true
	pure, country := c.phone, "86"
	if strings.HasPrefix(pure, "+") {
		country, pure, _ = strings.Cut(pure[1:], " ")
	}
	number := pure
	if country != "86" {
		number = "+" + country + " " + pure
	}
	return answer{json: map[string]any{
		"errcode": 0, "errmsg": "ok",
		"phone_info": map[string]any{
			"phoneNumber": number, "purePhoneNumber": pure, "countryCode": country,
			"watermark": map[string]any{"timestamp": s.Now().Unix(), "appid": appID},
		},
	}}
}

// keyLimits are the longest value of a subscribe message's key, by the
// type its name starts with, in characters; 0 means not checked here.
var keyLimits = map[string]int{
	"thing": 20, "phrase": 5, "name": 10, "character_string": 32, "number": 32,
	"letter": 32, "symbol": 5, "amount": 0, "date": 0, "time": 0, "phone_number": 17, "car_number": 8,
}

var keyName = regexp.MustCompile(`^([a-z_]+?)([0-9]{1,2})$`)

func (s *Stub) subscribe(r *http.Request, appID string) answer {
	var in struct {
		ToUser     string `json:"touser"`
		TemplateID string `json:"template_id"`
		Page       string `json:"page"`
		Data       map[string]struct {
			Value string `json:"value"`
		} `json:"data"`
		State string `json:"miniprogram_state"`
		Lang  string `json:"lang"`
	}
	if err := strictJSON(r, &in); err != nil {
		return errAnswer(47001, "data format error")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case in.ToUser == "" || s.users[appID+"|"+in.ToUser] == "":
		return errAnswer(40003, "invalid openid")
	case !s.templates[appID+"|"+in.TemplateID]:
		return errAnswer(40037, "invalid template id")
	case strings.HasPrefix(in.Page, "/"):
		return errAnswer(41030, "invalid page")
	case in.State != "" && in.State != "developer" && in.State != "trial" && in.State != "formal":
		return errAnswer(40097, "invalid args: miniprogram_state")
	case in.Lang != "" && in.Lang != "zh_CN" && in.Lang != "en_US" && in.Lang != "zh_HK" && in.Lang != "zh_TW":
		return errAnswer(40097, "invalid args: lang")
	case len(in.Data) == 0:
		return errAnswer(47003, "argument invalid! data is empty")
	}
	data := map[string]string{}
	for k, v := range in.Data {
		m := keyName.FindStringSubmatch(k)
		if m == nil {
			return errAnswer(47003, "argument invalid! data."+k+" is unknown")
		}
		limit, ok := keyLimits[m[1]]
		if !ok {
			return errAnswer(47003, "argument invalid! data."+k+" is unknown")
		}
		if v.Value == "" || (limit > 0 && utf8.RuneCountInString(v.Value) > limit) {
			return errAnswer(47003, "argument invalid! data."+k+".value invalid")
		}
		data[k] = v.Value
	}
	grant := appID + "|" + in.ToUser + "|" + in.TemplateID
	if s.accepted[grant] == 0 {
		return errAnswer(43101, "user refuse to accept the msg")
	}
	s.accepted[grant]--
	s.sent = append(s.sent, Sent{AppID: appID, ToOpenID: in.ToUser, TemplateID: in.TemplateID, Page: in.Page, State: in.State, Data: data})
	return answer{json: map[string]any{"errcode": 0, "errmsg": "ok"}}
}

// inbox answers the subscribe messages delivered to ?openId= (all when
// none is named), as the phone would show them, oldest first.
func (s *Stub) inbox(w http.ResponseWriter, r *http.Request) {
	openID := r.URL.Query().Get("openId")
	type message struct {
		ToOpenID   string            `json:"toOpenId"`
		TemplateID string            `json:"templateId"`
		Page       string            `json:"page"`
		Data       map[string]string `json:"data"`
	}
	out := []message{}
	for _, m := range s.SentMessages() {
		if openID == "" || m.ToOpenID == openID {
			out = append(out, message{ToOpenID: m.ToOpenID, TemplateID: m.TemplateID, Page: m.Page, Data: m.Data})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"messages": out})
}

// developer serves the /_stub/ endpoints.
func (s *Stub) developer(w http.ResponseWriter, r *http.Request) {
	var in struct {
		AppID      string `json:"appId"`
		Secret     string `json:"secret"`
		OpenID     string `json:"openId"`
		UnionID    string `json:"unionId"`
		Phone      string `json:"phone"`
		TemplateID string `json:"templateId"`
		API        string `json:"api"`
		Fault      string `json:"fault"`
		Count      int    `json:"count"`
	}
	if err := strictJSON(r, &in); err != nil {
		http.Error(w, "bad JSON: "+err.Error(), http.StatusBadRequest)
		return
	}
	var out any = map[string]any{}
	switch r.URL.Path {
	case "/_stub/app":
		s.AddApp(in.AppID, in.Secret)
	case "/_stub/login-code":
		out = map[string]string{"code": s.LoginCode(in.AppID, in.OpenID, in.UnionID)}
	case "/_stub/phone-code":
		out = map[string]string{"code": s.PhoneCode(in.AppID, in.Phone)}
	case "/_stub/accept":
		s.Accept(s.appOr(in.AppID), in.OpenID, in.TemplateID)
	case "/_stub/block":
		s.Block(s.appOr(in.AppID), in.OpenID)
	case "/_stub/fault":
		s.Fail(in.API, in.Fault, max(1, in.Count))
	case "/_stub/revoke":
		s.Revoke(in.AppID)
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// appOr is appID, or the only app when there is one and none is named.
func (s *Stub) appOr(appID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if appID == "" && len(s.apps) == 1 {
		for id := range s.apps {
			return id
		}
	}
	return appID
}

// strictJSON decodes a JSON body, refusing unknown fields as WeChat does
// not (it ignores them) but as a stand-in should: a misspelt field is a
// bug in the client.
func strictJSON(r *http.Request, out any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}

// drawCode draws a deterministic pattern of seed: a 21×21 grid of modules
// from its hash, scaled to width, as a paletted PNG of a few KB.
func drawCode(seed string, width int) []byte {
	const grid = 21
	h := sha256.Sum256([]byte(seed))
	img := image.NewPaletted(image.Rect(0, 0, width, width), color.Palette{color.White, color.Black})
	cell := max(1, width/(grid+2))
	for y := range grid {
		for x := range grid {
			bit := (y*grid + x) % 256
			if h[bit/8]>>(bit%8)&1 == 0 {
				continue
			}
			for py := (y + 1) * cell; py < (y+2)*cell && py < width; py++ {
				for px := (x + 1) * cell; px < (x+2)*cell && px < width; px++ {
					img.SetColorIndex(px, py, 1)
				}
			}
		}
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func randomID(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Server is a stub listening on a loopback port.
type Server struct {
	*Stub
	URL string // e.g. http://127.0.0.1:41234, for WECHAT_API_BASE
	srv *http.Server
}

// Start serves s on a free 127.0.0.1 port until Close.
func Start(s *Stub) (*Server, error) { return Listen(s, "127.0.0.1:0") }

// Listen serves s on addr (e.g. the local runner's 127.0.0.1:3001) until
// Close.
func Listen(s *Stub, addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &Server{Stub: s, URL: "http://" + ln.Addr().String(), srv: srv}, nil
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }
