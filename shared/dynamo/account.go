package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"github.com/laoyou/laoyou/shared/account"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/mydata"
)

var _ account.Store = (*AccountStore)(nil)

// AccountStore keeps tenants' mini-programs and their users' WeChat
// identities, roles and phones.
//
// Items:
//
//	T#<t> / WECHAT_APP          the tenant's mini-program; its secret only sealed
//	T#<t>#U#<user> / WXOPENID   the user's openid in the tenant's mini-program ("openid")
//	T#<t>#U#<user> / ROLE       the user's role record (RoleStore)
//	T#<t>#U#<user> / PROFILE    the bound phone: its HMAC ("phoneHash") and masked form
type AccountStore struct{ *Store }

const (
	skWeChatApp = "WECHAT_APP"
	skOpenID    = "WXOPENID"
	skProfile   = "PROFILE"

	kindWeChatApp = "wechatApp"
	kindOpenID    = "wechatOpenId"
	kindProfile   = "profile"
)

type weChatAppItem struct {
	key
	Kind         string    `dynamodbav:"kind"`
	AppID        string    `dynamodbav:"appId"`
	EnvVersion   string    `dynamodbav:"envVersion"`
	SecretSealed string    `dynamodbav:"secretSealed"`
	UpdatedAt    time.Time `dynamodbav:"updatedAt"`
}

// SaveApp replaces the tenant's mini-program.
func (s AccountStore) SaveApp(ctx context.Context, c account.AppConfig) error {
	put, err := s.put(weChatAppItem{
		key: key{PK: tenantPK(c.Tenant), SK: skWeChatApp}, Kind: kindWeChatApp,
		AppID: c.AppID, EnvVersion: c.EnvVersion, SecretSealed: c.SealedSecret, UpdatedAt: c.UpdatedAt,
	})
	if err != nil {
		return err
	}
	return s.putAlone(ctx, put)
}

// LoadApp reads the tenant's mini-program, strongly consistent, so an
// admin reads back what they just saved.
func (s AccountStore) LoadApp(ctx context.Context, t string) (*account.AppConfig, error) {
	var it weChatAppItem
	found, err := s.getItemConsistent(ctx, key{PK: tenantPK(t), SK: skWeChatApp}, &it)
	if !found || err != nil {
		return nil, err
	}
	return &account.AppConfig{Tenant: t, AppID: it.AppID, EnvVersion: it.EnvVersion, SealedSecret: it.SecretSealed, UpdatedAt: it.UpdatedAt}, nil
}

// SignInState reads the user's role record (see RoleStore; "" if none)
// and whether they signed in before (their openid item, not erased), in
// one strongly consistent BatchGetItem.
func (s AccountStore) SignInState(ctx context.Context, t, userID string) (auth.Role, bool, error) {
	return s.signInState(ctx, t, userID, nil, nil)
}

// signInState is SignInState, reading in the same call the item at also
// (a WeChat identity's generation) into alsoOut when also is not nil.
func (s AccountStore) signInState(ctx context.Context, t, userID string, also *key, alsoOut any) (auth.Role, bool, error) {
	var role roleItem
	var openID struct {
		ErasedAt *time.Time `dynamodbav:"erasedAt"`
	}
	rk, ok := roleKey(t, userID), openIDKey(t, userID)
	outs := map[key]any{rk: &role, ok: &openID}
	if also != nil {
		outs[*also] = alsoOut
	}
	got, err := s.getAll(ctx, outs)
	if err != nil {
		return "", false, err
	}
	return auth.Role(role.Role), got[ok] && openID.ErasedAt == nil, nil
}

func openIDKey(t, userID string) key { return key{PK: userPK(t, userID), SK: skOpenID} }

// GrantRole records an admin's grant (see RoleStore.SetRole): it replaces
// whatever was recorded.
func (s AccountStore) GrantRole(ctx context.Context, t, userID string, role auth.Role, _ time.Time) error {
	return RoleStore(s).SetRole(ctx, t, userID, role)
}

// IdentityOf reads, in one strongly consistent BatchGetItem, the WeChat
// identity's generation and, for its first user id (identity itself), the
// role record and whether that user signed in before.
func (s AccountStore) IdentityOf(ctx context.Context, t, identity string) (int, auth.Role, bool, error) {
	var id struct {
		Gen int `dynamodbav:"gen"`
	}
	idKey := identityKey(t, identity)
	role, known, err := s.signInState(ctx, t, identity, &idKey, &id)
	return id.Gen, role, known, err
}

// RecordSignIn keeps the user's openid with the identity and generation
// its user id came from, with one UpdateItem (a transaction with the
// request's idempotency record, if any), on the condition that the user
// was not erased (an erasure leaves the item without its openid, with
// erasedAt). A first sign-in's is conditional on the item not existing,
// so of concurrent first sign-ins one is new: recorded is false for the
// others. account.ErrErased if the user was erased meanwhile.
func (s AccountStore) RecordSignIn(ctx context.Context, t, userID, openID, identity string, gen int, at time.Time, first bool) (bool, error) {
	upd := expression.Set(expression.Name("openid"), expression.Value(openID)).
		Set(expression.Name("identity"), expression.Value(identity)).
		Set(expression.Name("gen"), expression.Value(gen)).
		Set(expression.Name("kind"), expression.Value(kindOpenID)).
		Set(expression.Name("lastSignInAt"), expression.Value(at)).
		Set(expression.Name("firstSignInAt"), expression.IfNotExists(expression.Name("firstSignInAt"), expression.Value(at)))
	cond := expression.AttributeNotExists(expression.Name("erasedAt"))
	if first {
		cond = notExists()
	}
	err := s.updateAlone(ctx, s.update(openIDKey(t, userID), upd, &cond))
	switch {
	case !isConditionFailed(err):
		return err == nil, err
	case first:
		return false, nil // known (or erased: the next try, not first, says)
	default:
		return false, account.ErrErased
	}
}

// OpenID reads the user's openid in the tenant's mini-program; "" if the
// user never signed in with WeChat (or was erased).
func (s AccountStore) OpenID(ctx context.Context, t, userID string) (string, error) {
	var it struct {
		OpenID string `dynamodbav:"openid"`
	}
	found, err := s.getItem(ctx, key{PK: userPK(t, userID), SK: skOpenID}, &it)
	if !found || err != nil {
		return "", err
	}
	return it.OpenID, nil
}

// SavePhone writes the phone onto the user's profile and, where the user
// has a referral code (one read finds it), onto both copies of the code in
// the same transaction: a friend binding to that code is checked against
// it.
func (s AccountStore) SavePhone(ctx context.Context, t, userID string, p account.Phone, at time.Time) error {
	var code codeItem
	hasCode, err := s.getItem(ctx, key{PK: userPK(t, userID), SK: skCode}, &code)
	if err != nil {
		return err
	}
	profile := expression.Set(expression.Name("phoneHash"), expression.Value(p.Hash)).
		Set(expression.Name("phoneMasked"), expression.Value(p.Masked)).
		Set(expression.Name("phoneBoundAt"), expression.Value(at)).
		Set(expression.Name("kind"), expression.Value(kindProfile))
	onProfile := s.update(key{PK: userPK(t, userID), SK: skProfile}, profile, nil)
	save := tx{parts: []part{{"profile", onProfile}, {"notErased", s.notErased(t, userID)}}}
	if hasCode && code.ErasedAt == nil {
		onCode := expression.Set(expression.Name("phoneHash"), expression.Value(p.Hash))
		stillTheirs := expression.Name("userId").Equal(expression.Value(userID))
		save.add("code", s.update(key{PK: userPK(t, userID), SK: skCode}, onCode, &stillTheirs))
		save.add("code", s.update(key{PK: codePK(code.Code), SK: skSelf}, onCode, &stillTheirs))
	}
	save, own, err := s.withKeyRecord(ctx, save)
	if err != nil {
		return err
	}
	cancelled, err := s.transactItems(ctx, save, own)
	if err != nil || cancelled == nil {
		return err
	}
	if cancelled.by("notErased").ConditionFailed() {
		return mydata.ErrErased
	}
	// The code went away meanwhile (an erasure): the profile alone, still
	// only while the user is not erased, with the request's idempotency
	// record, which was not written either.
	var rest tx
	for _, p := range save.parts {
		if p.name != "code" {
			rest.add(p.name, p.item)
		}
	}
	if cancelled, err = s.transactItems(ctx, rest, own); err == nil && cancelled != nil {
		return mydata.ErrErased
	}
	return err
}

// PhoneHashOf reads the hash of the user's bound phone; "" if none.
func (s AccountStore) PhoneHashOf(ctx context.Context, t, userID string) (string, error) {
	var it profileItem
	found, err := s.getItem(ctx, profileKey(t, userID), &it)
	if !found || err != nil {
		return "", err
	}
	return it.PhoneHash, nil
}

type profileItem struct {
	key
	PhoneHash   string `dynamodbav:"phoneHash,omitempty"`
	PhoneMasked string `dynamodbav:"phoneMasked,omitempty"`
}

func profileKey(t, userID string) key { return key{PK: userPK(t, userID), SK: skProfile} }
