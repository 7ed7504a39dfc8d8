package dynamo

import (
	"context"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"github.com/laoyou/laoyou/shared/groupbuy"
	"github.com/laoyou/laoyou/shared/referral"
	"github.com/laoyou/laoyou/shared/wechat"
	"github.com/laoyou/laoyou/shared/wxacode"
)

var (
	_ wechat.TokenStore = WeChatStore{}
	_ wxacode.Store     = WeChatStore{}
)

// WeChatStore keeps what Laoyou shares about WeChat across execution
// environments.
//
// Items:
//
//	WXAPP#<appId> / TOKEN                          the app's access token and its expiry (unix ms),
//	                                               the refresh lease (holder, until) and the time of
//	                                               the last forced refresh
//	WXCODE#<appId> / <env>#<width>#<page>#<scene>  a mini-program code (image bytes and type), or the
//	                                               claim of the environment drawing it
//	T#<t>#U#<user> / WXOPENID                      the user's openid in the tenant's mini-program
//	                                               (written at sign-in)
type WeChatStore struct{ *Store }

const (
	kindWeChatToken = "wechatToken"
	kindWeChatCode  = "wechatCode"

	skWeChatToken  = "TOKEN"
	skWeChatOpenID = "WXOPENID"
)

func weChatTokenKey(appID string) key { return key{PK: "WXAPP#" + appID, SK: skWeChatToken} }

func weChatCodeKey(k wxacode.Key) key {
	// The scene goes last: it may hold "#", the version, page and width may
	// not. An owner's image is "@tenant#user" there instead: no scene
	// starts with "@", and ids hold no "#".
	last := k.Scene
	if k.Owner != "" {
		last = "@" + k.Owner
	}
	return key{PK: "WXCODE#" + k.AppID, SK: k.EnvVersion + "#" + strconv.Itoa(k.Width) + "#" + k.Page + "#" + last}
}

// OpenIDKey is the key of the item that holds a user's openid in the
// tenant's mini-program, in attribute "openid".
func OpenIDKey(tenant, user string) (pk, sk string) { return userPK(tenant, user), skWeChatOpenID }

type tokenItem struct {
	key
	Kind        string `dynamodbav:"kind"`
	Token       string `dynamodbav:"token,omitempty"`
	ExpiresAt   int64  `dynamodbav:"expiresAt,omitempty"` // unix ms
	LeaseHolder string `dynamodbav:"leaseHolder,omitempty"`
	LeaseUntil  int64  `dynamodbav:"leaseUntil,omitempty"` // unix ms
	ForcedAt    int64  `dynamodbav:"forcedAt,omitempty"`   // unix ms
}

// LoadToken reads the app's token record with one GetItem.
func (s WeChatStore) LoadToken(ctx context.Context, appID string) (wechat.TokenRecord, error) {
	var it tokenItem
	if _, err := s.getItem(ctx, weChatTokenKey(appID), &it); err != nil {
		return wechat.TokenRecord{}, err
	}
	return wechat.TokenRecord{
		Token:       wechat.Token{Value: it.Token, ExpiresAt: fromMillis(it.ExpiresAt)},
		LeaseHolder: it.LeaseHolder, LeaseUntil: fromMillis(it.LeaseUntil), ForcedAt: fromMillis(it.ForcedAt),
	}, nil
}

// LeaseToken takes the refresh lease with one conditional UpdateItem whose
// condition is wechat.Lease.Granted's.
func (s WeChatStore) LeaseToken(ctx context.Context, appID string, l wechat.Lease) (bool, error) {
	name, val := expression.Name, expression.Value
	free := name("leaseUntil").AttributeNotExists().
		Or(name("leaseUntil").LessThanEqual(val(l.Now.UnixMilli()))).
		Or(name("leaseHolder").Equal(val(l.Holder)))
	var due expression.ConditionBuilder
	upd := expression.Set(name("kind"), val(kindWeChatToken)).
		Set(name("leaseHolder"), val(l.Holder)).
		Set(name("leaseUntil"), val(l.Until.UnixMilli()))
	if l.Stale == "" {
		due = name("token").AttributeNotExists().Or(name("expiresAt").LessThan(val(l.NeedBy.UnixMilli())))
	} else {
		due = name("token").Equal(val(l.Stale)).And(
			name("forcedAt").AttributeNotExists().Or(name("forcedAt").LessThanEqual(val(l.ForcedBefore.UnixMilli()))))
		upd = upd.Set(name("forcedAt"), val(l.Now.UnixMilli()))
	}
	cond := free.And(due)
	err := s.updateAlone(ctx, s.update(weChatTokenKey(appID), upd, &cond))
	if isConditionFailed(err) {
		return false, nil
	}
	return err == nil, err
}

// SaveToken stores t and ends holder's lease, if holder still holds it.
func (s WeChatStore) SaveToken(ctx context.Context, appID, holder string, t wechat.Token) error {
	name, val := expression.Name, expression.Value
	upd := expression.Set(name("token"), val(t.Value)).
		Set(name("expiresAt"), val(t.ExpiresAt.UnixMilli())).
		Remove(name("leaseHolder")).Remove(name("leaseUntil"))
	cond := name("leaseHolder").Equal(val(holder))
	err := s.updateAlone(ctx, s.update(weChatTokenKey(appID), upd, &cond))
	if isConditionFailed(err) {
		return nil
	}
	return err
}

// ReleaseToken ends holder's lease.
func (s WeChatStore) ReleaseToken(ctx context.Context, appID, holder string) error {
	name, val := expression.Name, expression.Value
	upd := expression.Remove(name("leaseHolder")).Remove(name("leaseUntil"))
	cond := name("leaseHolder").Equal(val(holder))
	err := s.updateAlone(ctx, s.update(weChatTokenKey(appID), upd, &cond))
	if isConditionFailed(err) {
		return nil
	}
	return err
}

type codeImageItem struct {
	key
	Kind        string `dynamodbav:"kind"`
	ContentType string `dynamodbav:"contentType,omitempty"`
	Image       []byte `dynamodbav:"image,omitempty"`
	Scene       string `dynamodbav:"scene,omitempty"` // of an owner's image, whose key does not say it
	ClaimHolder string `dynamodbav:"claimHolder,omitempty"`
	ClaimUntil  int64  `dynamodbav:"claimUntil,omitempty"` // unix ms
}

// LoadImage reads a stored code with one GetItem.
func (s WeChatStore) LoadImage(ctx context.Context, k wxacode.Key) (wechat.Image, bool, error) {
	var it codeImageItem
	found, err := s.getItem(ctx, weChatCodeKey(k), &it)
	if err != nil || !found {
		return wechat.Image{}, false, err
	}
	img, ok := it.image(k)
	return img, ok, nil
}

// image is the stored image of k, if the item holds it.
func (it codeImageItem) image(k wxacode.Key) (wechat.Image, bool) {
	if len(it.Image) == 0 || (k.Owner != "" && it.Scene != k.Scene) {
		return wechat.Image{}, false
	}
	return wechat.Image{ContentType: it.ContentType, Bytes: it.Image}, true
}

// RoomWithImage reads a room and the stored image of k, the room's code, in
// one BatchGetItem; ok says the image is stored.
func (s WeChatStore) RoomWithImage(ctx context.Context, groupID string, k wxacode.Key) (*groupbuy.Room, wechat.Image, bool, error) {
	var room roomItem
	var img codeImageItem
	found, err := s.getWith(ctx, key{PK: roomPK(groupID), SK: skSelf}, &room, weChatCodeKey(k), &img)
	if err != nil || !found {
		return nil, wechat.Image{}, false, err
	}
	stored, ok := img.image(k)
	return room.room(), stored, ok, nil
}

// CodeWithImage reads the user's referral code and the stored image of k,
// an image of that user's (k.Owner; k.Scene is not known yet), in one
// BatchGetItem. ok says the image is stored and is of the code's scene,
// scene(code).
func (s WeChatStore) CodeWithImage(ctx context.Context, tenant, userID string, k wxacode.Key, scene func(code string) string) (*referral.Code, wechat.Image, bool, error) {
	var c codeItem
	var img codeImageItem
	found, err := s.getWith(ctx, key{PK: userPK(tenant, userID), SK: skCode}, &c, weChatCodeKey(k), &img)
	if err != nil || !found {
		return nil, wechat.Image{}, false, err
	}
	code := c.code()
	k.Scene = scene(code.Code)
	stored, ok := img.image(k)
	return code, stored, ok, nil
}

// ClaimImage claims the drawing with one conditional UpdateItem: no image
// stored and no other claim running.
func (s WeChatStore) ClaimImage(ctx context.Context, k wxacode.Key, holder string, now, until time.Time) (bool, error) {
	name, val := expression.Name, expression.Value
	upd := expression.Set(name("kind"), val(kindWeChatCode)).
		Set(name("claimHolder"), val(holder)).
		Set(name("claimUntil"), val(until.UnixMilli()))
	cond := name("image").AttributeNotExists().And(
		name("claimUntil").AttributeNotExists().Or(name("claimUntil").LessThanEqual(val(now.UnixMilli()))))
	err := s.updateAlone(ctx, s.update(weChatCodeKey(k), upd, &cond))
	if isConditionFailed(err) {
		return false, nil
	}
	return err == nil, err
}

// SaveImage stores the image and ends the claim, with one PutItem.
func (s WeChatStore) SaveImage(ctx context.Context, k wxacode.Key, img wechat.Image) error {
	it := codeImageItem{key: weChatCodeKey(k), Kind: kindWeChatCode, ContentType: img.ContentType, Image: img.Bytes}
	if k.Owner != "" {
		it.Scene = k.Scene
	}
	put, err := s.put(it)
	if err != nil {
		return err
	}
	return s.putAlone(ctx, put)
}

// ReleaseImage ends holder's claim.
func (s WeChatStore) ReleaseImage(ctx context.Context, k wxacode.Key, holder string) error {
	name, val := expression.Name, expression.Value
	upd := expression.Remove(name("claimHolder")).Remove(name("claimUntil"))
	cond := name("claimHolder").Equal(val(holder)).And(name("image").AttributeNotExists())
	err := s.updateAlone(ctx, s.update(weChatCodeKey(k), upd, &cond))
	if isConditionFailed(err) {
		return nil
	}
	return err
}

type openIDItem struct {
	key
	Kind   string `dynamodbav:"kind"`
	Tenant string `dynamodbav:"tenant"`
	OpenID string `dynamodbav:"openid"`
	// Identity and Gen are the WeChat identity the user id was derived
	// from and its generation (see account.UserID): an erasure moves the
	// identity to the next generation.
	Identity string `dynamodbav:"identity,omitempty"`
	Gen      int    `dynamodbav:"gen,omitempty"`
}

const kindWeChatOpenID = "wechatOpenId"

// OpenID reads the user's openid in the tenant's mini-program with one
// GetItem; ok is false when the user never signed in with WeChat.
func (s WeChatStore) OpenID(ctx context.Context, tenant, user string) (openID string, ok bool, err error) {
	pk, sk := OpenIDKey(tenant, user)
	var it openIDItem
	found, err := s.getItem(ctx, key{PK: pk, SK: sk}, &it)
	if err != nil || !found || it.OpenID == "" {
		return "", false, err
	}
	return it.OpenID, true, nil
}

// SaveOpenID records the user's openid (sign-in keeps it current).
func (s WeChatStore) SaveOpenID(ctx context.Context, tenant, user, openID string) error {
	pk, sk := OpenIDKey(tenant, user)
	put, err := s.put(openIDItem{key: key{PK: pk, SK: sk}, Kind: kindWeChatOpenID, Tenant: tenant, OpenID: openID})
	if err != nil {
		return err
	}
	return s.putAlone(ctx, put)
}
