package api

import (
	"context"
	"time"

	"github.com/laoyou/laoyou/shared/account"
	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/httpapi"
	"github.com/laoyou/laoyou/shared/token"
)

// Auth is the auth function: WeChat sign-in, the issuer's discovery
// document and keys, binding a phone, and the caller's data rights (export
// and erasure). It is the one function that may sign tokens (kms:Sign)
// and, with the functions that call WeChat, open app secrets
// (kms:Decrypt).
func Auth(d *app.Deps) *httpapi.API {
	svc := d.Accounts()
	return httpapi.New(d.Log,
		httpapi.Route{Key: "POST /v1/auth/wechat", Access: auth.Public, Handle: signIn(svc)},
		httpapi.Route{Key: "GET /.well-known/openid-configuration", Access: auth.Public, Handle: discovery(d.Config.IssuerURL)},
		httpapi.Route{Key: "GET /.well-known/jwks.json", Access: auth.Public, Handle: jwks(d.Tokens)},
		httpapi.Route{Key: "POST /v1/me/phone", Access: auth.AnyUser, Handle: bindPhone(svc)},
		httpapi.Route{Key: "GET /v1/me/data", Access: auth.AnyUser, Handle: exportMyData(d.MyData())},
		httpapi.Route{Key: "DELETE /v1/me", Access: auth.AnyUser, Handle: eraseMe(d.MyData())},
	)
}

// adminAccountRoutes are the tenant's mini-program and the roles an admin
// grants.
func adminAccountRoutes(d *app.Deps) []httpapi.Route {
	svc := d.Accounts()
	return []httpapi.Route{
		{Key: "PUT /v1/admin/wechat", Access: auth.AdminOnly, Handle: putWeChatApp(svc)},
		{Key: "GET /v1/admin/wechat", Access: auth.AdminOnly, Handle: getWeChatApp(svc)},
		{Key: "PUT /v1/admin/roles/{userId}", Access: auth.AdminOnly, Handle: grantRole(svc)},
		{Key: "DELETE /v1/admin/users/{userId}", Access: auth.AdminOnly, Handle: eraseUser(d.MyData())},
	}
}

// jwksMaxAge lets API Gateway and clients cache the keys; a rotation keeps
// the previous key listed for longer than this.
const jwksMaxAge = "public, max-age=3600"

// signedInView is the answer to a sign-in.
type signedInView struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
	UserID    string    `json:"userId"`
	NewUser   bool      `json:"newUser"`
}

func viewSignedIn(s account.SignedIn) signedInView {
	return signedInView{Token: s.Token, ExpiresAt: s.ExpiresAt, UserID: s.UserID, NewUser: s.NewUser}
}

// appView is the tenant's mini-program as an admin sees it.
type appView struct {
	AppID      string `json:"appId"`
	EnvVersion string `json:"envVersion"`
	SecretSet  bool   `json:"secretSet"`
}

func viewApp(a account.AppSummary) appView {
	return appView{AppID: a.AppID, EnvVersion: a.EnvVersion, SecretSet: a.SecretSet}
}

// phoneView is the answer to binding a phone: the masked number.
type phoneView struct {
	Phone string `json:"phone"`
}

func viewPhone(p account.PhoneBound) phoneView { return phoneView{Phone: p.Phone} }

// grantedView is the answer to a grant.
type grantedView struct {
	UserID string    `json:"userId"`
	Role   auth.Role `json:"role"`
}

func viewGranted(g account.Granted) grantedView { return grantedView{UserID: g.UserID, Role: g.Role} }

type signInRequest struct {
	Tenant string `json:"tenant"`
	Code   string `json:"code"`
}

func (s *signInRequest) Valid() error {
	switch {
	case s.Tenant == "":
		return apierr.Missing("tenant")
	case s.Code == "":
		return apierr.Missing("code")
	}
	return nil
}

func signIn(svc *account.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		var in signInRequest
		if err := httpapi.Decode(r, &in); err != nil {
			return httpapi.Response{}, err
		}
		respond := func(out account.SignedIn) httpapi.Response { return httpapi.OK(viewSignedIn(out)) }
		out, err := svc.SignIn(httpapi.Answering(ctx, respond), in.Tenant, in.Code)
		return respond(out), err
	}
}

func discovery(issuer string) httpapi.HandlerFunc {
	return func(context.Context, *httpapi.Request) (httpapi.Response, error) {
		return httpapi.Response{Status: 200, Body: token.DiscoveryOf(issuer), Headers: map[string]string{"cache-control": jwksMaxAge}}, nil
	}
}

// jwks lists the keys tokens are signed with; a function built without
// keys answers INTERNAL rather than an empty set.
func jwks(keys token.Signer) httpapi.HandlerFunc {
	return func(ctx context.Context, _ *httpapi.Request) (httpapi.Response, error) {
		if keys == nil {
			return httpapi.Response{}, apierr.E(apierr.Op("api.jwks"), apierr.Internal, "no token keys configured")
		}
		set, err := keys.Keys(ctx)
		if err != nil {
			return httpapi.Response{}, apierr.E(apierr.Op("api.jwks"), apierr.Unavailable, err)
		}
		return httpapi.Response{Status: 200, Body: set, Headers: map[string]string{"cache-control": jwksMaxAge}}, nil
	}
}

type codeRequest struct {
	Code string `json:"code"`
}

func (c *codeRequest) Valid() error {
	if c.Code == "" {
		return apierr.Missing("code")
	}
	return nil
}

func bindPhone(svc *account.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		var in codeRequest
		if err := httpapi.Decode(r, &in); err != nil {
			return httpapi.Response{}, err
		}
		respond := func(out account.PhoneBound) httpapi.Response { return httpapi.OK(viewPhone(out)) }
		out, err := svc.BindPhone(httpapi.Answering(ctx, respond), r.Caller, in.Code)
		return respond(out), err
	}
}

type weChatAppRequest struct {
	AppID      string `json:"appId"`
	AppSecret  string `json:"appSecret"`
	EnvVersion string `json:"envVersion"`
}

func (w *weChatAppRequest) Valid() error {
	switch {
	case w.AppID == "":
		return apierr.Missing("appId")
	case w.AppSecret == "":
		return apierr.Missing("appSecret")
	}
	return nil
}

func putWeChatApp(svc *account.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		var in weChatAppRequest
		if err := httpapi.Decode(r, &in); err != nil {
			return httpapi.Response{}, err
		}
		respond := func(out account.AppSummary) httpapi.Response { return httpapi.OK(viewApp(out)) }
		out, err := svc.SaveApp(httpapi.Answering(ctx, respond), r.Caller.Tenant, in.AppID, in.AppSecret, in.EnvVersion)
		return respond(out), err
	}
}

func getWeChatApp(svc *account.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		out, err := svc.App(ctx, r.Caller.Tenant)
		return httpapi.OK(viewApp(out)), err
	}
}

type roleRequest struct {
	Role auth.Role `json:"role"`
}

func (g *roleRequest) Valid() error {
	switch g.Role {
	case auth.Patient, auth.Staff, auth.Admin:
		return nil
	}
	return apierr.Invalid("role", "must be patient, staff or admin")
}

func grantRole(svc *account.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		var in roleRequest
		if err := httpapi.Decode(r, &in); err != nil {
			return httpapi.Response{}, err
		}
		respond := func(g account.Granted) httpapi.Response {
			return httpapi.OK(viewGranted(g))
		}
		g, err := svc.Grant(httpapi.Answering(ctx, respond), r.Caller.Tenant, r.PathParam("userId"), in.Role)
		return respond(g), err
	}
}
