// Package account is a tenant's users as WeChat knows them: the tenant's
// mini-program (its appId and sealed appSecret), signing in with a wx.login
// code for one of Laoyou's own tokens, the roles an admin grants, and the
// phone number a user binds, kept only as an HMAC and a masked form. It
// holds the rules; storage is the Store's business, WeChat the client's and
// signing the token.Signer's.
package account

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/idempotency"
	"github.com/laoyou/laoyou/shared/privacy"
	"github.com/laoyou/laoyou/shared/secret"
	"github.com/laoyou/laoyou/shared/token"
	"github.com/laoyou/laoyou/shared/wechat"
)

// DefaultTokenTTL is how long a sign-in token lives. wx.login is silent, so
// the mini-program signs in again rather than refreshing.
const DefaultTokenTTL = 2 * time.Hour

// maxCodeLen bounds a WeChat code before it is sent anywhere.
const maxCodeLen = 256

// AppConfig is a tenant's mini-program as stored: the secret sealed.
type AppConfig struct {
	Tenant       string
	AppID        string
	EnvVersion   string
	SealedSecret string
	UpdatedAt    time.Time
}

// AppSummary is a tenant's mini-program as the admin routes answer it:
// whether a secret is set, never the secret.
type AppSummary struct {
	AppID      string
	EnvVersion string
	SecretSet  bool
}

// Phone is a bound phone number as stored: its HMAC and masked form.
type Phone struct {
	Hash   string
	Masked string
}

// Store keeps accounts. Every write is a single call.
type Store interface {
	// StoredAnswer finds the answer a keyed request's earlier attempt
	// stored, for a retry whose WeChat code that attempt spent.
	idempotency.AnswerReader
	SaveApp(ctx context.Context, c AppConfig) error
	// LoadApp returns the tenant's mini-program, or nil.
	LoadApp(ctx context.Context, tenant string) (*AppConfig, error)
	// IdentityOf reads, in one call, the generation of a WeChat identity
	// (how often a user of it was erased; 0: never) and, for its first
	// user id (identity itself), the role granted ("" if none) and whether
	// that user signed in before.
	IdentityOf(ctx context.Context, tenant, identity string) (gen int, role auth.Role, known bool, err error)
	// SignInState reads, in one call, the role granted to the user ("" if
	// none) and whether the user signed in before (known).
	SignInState(ctx context.Context, tenant, userID string) (role auth.Role, known bool, err error)
	// RecordSignIn keeps the user's openid with the identity and generation
	// the user id came from. With first, it writes only if the user never
	// signed in, and recorded is false when they had; ErrErased if the user
	// was erased meanwhile.
	RecordSignIn(ctx context.Context, tenant, userID, openID, identity string, gen int, at time.Time, first bool) (recorded bool, err error)
	// GrantRole records the user's role (patient takes a grant back).
	GrantRole(ctx context.Context, tenant, userID string, role auth.Role, at time.Time) error
	// SavePhone keeps the user's phone on their profile and on their
	// referral code, if they have one, so the referral rules see it.
	SavePhone(ctx context.Context, tenant, userID string, p Phone, at time.Time) error
}

// WeChat is the part of WeChat's server API accounts need.
type WeChat interface {
	Code2Session(ctx context.Context, app wechat.App, code string) (wechat.Session, error)
	PhoneNumber(ctx context.Context, app wechat.App, code string) (wechat.Phone, error)
}

// Service applies the account rules.
type Service struct {
	Store    Store
	Apps     *Apps
	Secrets  secret.Sealer
	WeChat   WeChat
	Tokens   token.Signer
	Issuer   string
	Audience string
	TokenTTL time.Duration
	// Pepper keys the HMACs of user ids and phone numbers. It never
	// changes: both are derived from it.
	Pepper []byte
	Now    func() time.Time
}

// SaveApp replaces the tenant's mini-program, sealing the secret first.
func (s *Service) SaveApp(ctx context.Context, tenant, appID, appSecret, envVersion string) (AppSummary, error) {
	const op = apierr.Op("account.SaveApp")
	if envVersion == "" {
		envVersion = wechat.EnvRelease
	}
	switch {
	case !validAppID(appID):
		return AppSummary{}, apierr.E(op, apierr.BadRequest, "appId must look like wx followed by 16 hexadecimal characters")
	case appSecret == "" || len(appSecret) > 128 || strings.ContainsAny(appSecret, " \t\r\n"):
		return AppSummary{}, apierr.E(op, apierr.BadRequest, "appSecret must be 1 to 128 characters without spaces")
	case !wechat.ValidEnvVersion(envVersion):
		return AppSummary{}, apierr.E(op, apierr.BadRequest, "envVersion must be release, trial or develop")
	}
	sealed, err := s.Secrets.Seal(ctx, appSecret, sealContext(tenant, appID))
	if err != nil {
		return AppSummary{}, apierr.E(op, apierr.Internal, err)
	}
	c := AppConfig{Tenant: tenant, AppID: appID, EnvVersion: envVersion, SealedSecret: sealed, UpdatedAt: s.Now().UTC()}
	saved := AppSummary{AppID: appID, EnvVersion: envVersion, SecretSet: true}
	if err := idempotency.Prepare(ctx, saved); err != nil {
		return AppSummary{}, apierr.E(op, err)
	}
	if err := s.Store.SaveApp(ctx, c); err != nil {
		return AppSummary{}, apierr.E(op, err)
	}
	s.Apps.Forget(tenant)
	return saved, nil
}

// App shows the tenant's mini-program.
func (s *Service) App(ctx context.Context, tenant string) (AppSummary, error) {
	const op = apierr.Op("account.App")
	c, err := s.Store.LoadApp(ctx, tenant)
	if err != nil {
		return AppSummary{}, apierr.E(op, err)
	}
	if c == nil {
		return AppSummary{}, apierr.E(op, apierr.WeChatNotConfigured, "this clinic has no mini-program configured")
	}
	return AppSummary{AppID: c.AppID, EnvVersion: c.EnvVersion, SecretSet: c.SealedSecret != ""}, nil
}

// validAppID: WeChat's appIds are "wx" and 16 hex digits.
func validAppID(id string) bool {
	if len(id) != 18 || !strings.HasPrefix(id, "wx") {
		return false
	}
	for _, c := range id[2:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// sealContext binds a sealed secret to its tenant and app.
func sealContext(tenant, appID string) map[string]string {
	return map[string]string{"tenant": tenant, "appId": appID}
}

// SignedIn is the answer to a sign-in.
type SignedIn struct {
	Token     string
	ExpiresAt time.Time
	UserID    string
	NewUser   bool
}

// SignIn exchanges a wx.login code for a Laoyou token: one WeChat call, one
// read (the identity's generation, the role and whether the user is known)
// and one write (the openid), besides the tenant's mini-program, cached.
// A first sign-in that another of the same user's beat to the write costs
// a second write: it is then no longer new. An identity erased before
// costs one more read (its user id is not the identity).
//
// The code is spent by WeChat's answer, so a keyed retry after a reply
// that was lost sends a code WeChat refuses: that refusal is answered with
// what the first attempt stored under the key, if it stored anything.
func (s *Service) SignIn(ctx context.Context, tenant, code string) (SignedIn, error) {
	const op = apierr.Op("account.SignIn")
	if !auth.ValidID(tenant) {
		return SignedIn{}, auth.InvalidID("tenant")
	}
	if err := checkCode(op, code); err != nil {
		return SignedIn{}, err
	}
	app, err := s.Apps.App(ctx, tenant)
	if err != nil {
		return SignedIn{}, apierr.E(op, err)
	}
	sess, err := s.WeChat.Code2Session(ctx, app, code)
	if err != nil {
		return SignedIn{}, apierr.E(op, s.spent(ctx, err))
	}
	if sess.OpenID == "" {
		return SignedIn{}, apierr.E(op, apierr.WeChatUnavailable, "WeChat answered without an openid; try again shortly")
	}
	now := s.Now().UTC()
	identity := UserID(s.Pepper, tenant, sess)
	for attempt := 0; ; attempt++ {
		out, err := s.signIn(ctx, tenant, sess, identity, now)
		if errors.Is(err, ErrErased) && attempt == 0 {
			continue // erased meanwhile: sign in as the identity's next user
		}
		if err != nil {
			return SignedIn{}, apierr.E(op, err)
		}
		return out, nil
	}
}

// signIn finds the user id of the identity's current generation, its role
// and whether it is known, makes the answer (which the write stores under
// a request's Idempotency-Key), then keeps the openid.
func (s *Service) signIn(ctx context.Context, tenant string, sess wechat.Session, identity string, now time.Time) (SignedIn, error) {
	gen, role, known, err := s.Store.IdentityOf(ctx, tenant, identity)
	if err != nil {
		return SignedIn{}, err
	}
	userID := identity
	if gen > 0 {
		userID = userIDOf(s.Pepper, tenant, sess, gen)
		if role, known, err = s.Store.SignInState(ctx, tenant, userID); err != nil {
			return SignedIn{}, err
		}
	}
	if role != auth.Staff && role != auth.Admin {
		role = auth.Patient
	}
	out, err := s.token(ctx, tenant, userID, role, now)
	if err != nil {
		return SignedIn{}, err
	}
	out.NewUser = !known
	for {
		if err := idempotency.Prepare(ctx, out); err != nil {
			return SignedIn{}, err
		}
		recorded, err := s.Store.RecordSignIn(ctx, tenant, userID, sess.OpenID, identity, gen, now, out.NewUser)
		if err != nil || recorded {
			return out, err
		}
		out.NewUser = false // another sign-in of the user's came first
	}
}

// spent answers WeChat's refusal of a code as used: for a keyed request
// whose earlier attempt spent the code, that attempt's stored answer (see
// idempotency.Spent). Other refusals are answered as they are.
func (s *Service) spent(ctx context.Context, err error) error {
	if !wechat.IsCodeUsed(err) {
		return err
	}
	return idempotency.Spent(ctx, s.Store, err)
}

// token is a signed-in user's Laoyou token.
func (s *Service) token(ctx context.Context, tenant, userID string, role auth.Role, now time.Time) (SignedIn, error) {
	ttl := s.TokenTTL
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	iat := now.Truncate(time.Second)
	exp := iat.Add(ttl)
	jwt, err := s.Tokens.Sign(ctx, token.Claims{
		Issuer: s.Issuer, Audience: s.Audience, Subject: userID, Tenant: tenant, Role: string(role),
		IssuedAt: iat, ExpiresAt: exp,
	})
	if err != nil {
		return SignedIn{}, apierr.E(apierr.Op("account.token"), apierr.Internal, err)
	}
	return SignedIn{Token: jwt, ExpiresAt: exp, UserID: userID}, nil
}

// ErrErased is RecordSignIn's answer when the user was erased between the
// read of their identity and the write.
var ErrErased = errors.New("account: the user was erased")

// checkCode refuses what cannot be a WeChat code before WeChat is asked.
func checkCode(op apierr.Op, code string) error {
	switch {
	case code == "":
		return apierr.E(op, apierr.BadRequest, "code is required")
	case len(code) > maxCodeLen || strings.ContainsAny(code, " \t\r\n/?&#%"):
		return apierr.E(op, apierr.WeChatCodeInvalid, "the WeChat code is invalid, used or expired")
	}
	return nil
}

// UserID is the user's stable id in the tenant: an HMAC of their WeChat
// identity (the unionid where WeChat gives one, else the openid), so the id
// never reveals the openid and needs no mapping to look up.
//
// It is also the identity's first user id. A person who erased their data
// and signs in again is a new user: each erasure moves the identity to its
// next generation, and generation g > 0 has the id userIDOf(..., g).
func UserID(pepper []byte, tenant string, s wechat.Session) string {
	return userIDOf(pepper, tenant, s, 0)
}

func userIDOf(pepper []byte, tenant string, s wechat.Session, gen int) string {
	who := "openid:" + s.OpenID
	if s.UnionID != "" {
		who = "unionid:" + s.UnionID
	}
	if gen > 0 {
		who += "\x00generation:" + strconv.Itoa(gen)
	}
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte("laoyou user id\x00" + tenant + "\x00" + who))
	return "wx-" + hex.EncodeToString(m.Sum(nil)[:16])
}

// Granted is the answer to a grant.
type Granted struct {
	UserID string
	Role   auth.Role
}

// Grant sets the role a user's next sign-in carries.
func (s *Service) Grant(ctx context.Context, tenant, userID string, role auth.Role) (Granted, error) {
	const op = apierr.Op("account.Grant")
	if !auth.ValidID(userID) {
		return Granted{}, auth.InvalidID("userId")
	}
	switch role {
	case auth.Patient, auth.Staff, auth.Admin:
	default:
		return Granted{}, apierr.E(op, apierr.BadRequest, "role must be patient, staff or admin")
	}
	granted := Granted{UserID: userID, Role: role}
	if err := idempotency.Prepare(ctx, granted); err != nil {
		return Granted{}, apierr.E(op, err)
	}
	if err := s.Store.GrantRole(ctx, tenant, userID, role, s.Now().UTC()); err != nil {
		return Granted{}, apierr.E(op, err)
	}
	return granted, nil
}

// PhoneBound is the answer to binding a phone: the masked number only.
type PhoneBound struct {
	Phone string
}

// BindPhone asks WeChat for the number behind a phone-number button's code
// and keeps its HMAC and masked form on the caller's profile. The code is
// spent as a sign-in's is, and a keyed retry is answered the same way.
func (s *Service) BindPhone(ctx context.Context, caller auth.Caller, code string) (PhoneBound, error) {
	const op = apierr.Op("account.BindPhone")
	if err := checkCode(op, code); err != nil {
		return PhoneBound{}, err
	}
	app, err := s.Apps.App(ctx, caller.Tenant)
	if err != nil {
		return PhoneBound{}, apierr.E(op, err)
	}
	p, err := s.WeChat.PhoneNumber(ctx, app, code)
	if err != nil {
		return PhoneBound{}, apierr.E(op, s.spent(ctx, err))
	}
	number := p.Number
	if p.PureNumber != "" && p.CountryCode != "" {
		number = "+" + strings.TrimPrefix(p.CountryCode, "+") + p.PureNumber
	}
	hash := privacy.PhoneHash(s.Pepper, number)
	if hash == "" {
		return PhoneBound{}, apierr.E(op, apierr.WeChatUnavailable, "WeChat answered without a usable phone number; try again shortly")
	}
	pure := p.PureNumber
	if pure == "" {
		pure = strings.TrimPrefix(privacy.NormalizePhone(number), "+86")
	}
	bound := PhoneBound{Phone: MaskPhone(pure)}
	if err := idempotency.Prepare(ctx, bound); err != nil {
		return PhoneBound{}, apierr.E(op, err)
	}
	if err := s.Store.SavePhone(ctx, caller.Tenant, caller.UserID, Phone{Hash: hash, Masked: bound.Phone}, s.Now().UTC()); err != nil {
		return PhoneBound{}, apierr.E(op, err)
	}
	return bound, nil
}

// MaskPhone keeps the first three and last four digits of a number
// (13812345678 → 138****5678); a shorter one shows only its last two, and
// one of two digits or fewer none.
func MaskPhone(n string) string {
	var digits []rune
	for _, r := range n {
		if '0' <= r && r <= '9' {
			digits = append(digits, r)
		}
	}
	switch {
	case len(digits) >= 11:
		return string(digits[:3]) + "****" + string(digits[len(digits)-4:])
	case len(digits) > 2:
		return strings.Repeat("*", len(digits)-2) + string(digits[len(digits)-2:])
	}
	return strings.Repeat("*", len(digits))
}
