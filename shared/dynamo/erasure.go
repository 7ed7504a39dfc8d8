package dynamo

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/laoyou/laoyou/shared/coupon"
	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/mydata"
)

var _ mydata.Store = (*ErasureStore)(nil)

// ErasureStore reads everything held about a user and erases it.
//
// Items:
//
//	T#<t>#U#<user> / ERASED      the user was erased ("erasedAt"): every write that adds
//	                             to a user's data (a bind, on both sides; a code; a phone;
//	                             a room opened or joined; a coupon issued) checks, in its
//	                             own transaction, that this item is absent
//	T#<t>#WXID#<identity> / _    how often a WeChat identity's user was erased ("gen");
//	                             identity is the HMAC that is the identity's first user
//	                             id, never the openid (see account.UserID)
//
// What a user holds is found from the user alone, with Queries:
//
//	T#<t>#U#<user> / *             code, binding, friends, visit flag, caps, claims,
//	                               deal uses, openid, role, profile, the marker
//	ByOwner ownerKey=T#<t>#U#<user>, ownerSort:
//	  COUPON#<issuedAt>#<code>     coupons
//	  GROUP#<joinedAt>#<groupId>   room memberships (GROUP#<id> / M#<user>)
//	  VISIT#<at>#<visitId>         clinic visits (VISIT#<t>#<visitId> / _)
//
// and from those: the code's own item (CODE#<code>), the referrer's friend
// entry (from the binding), the referees' bindings (from the friends), the
// rooms' rosters (from the memberships) and the stats ranking's name.
type ErasureStore struct{ *Store }

const (
	kindErased   = "erased"
	kindIdentity = "wechatIdentity"
	skErased     = "ERASED"

	ownerRoom  = "GROUP#"
	ownerVisit = "VISIT#"
	ownerCoup  = "COUPON#"
)

func erasedKey(tenant, user string) key { return key{PK: userPK(tenant, user), SK: skErased} }

func identityKey(tenant, identity string) key {
	return key{PK: tenantPK(tenant) + "#WXID#" + identity, SK: skSelf}
}

// ownerSortAt is a ByOwner sort key: kind, time, id.
func ownerSortAt(prefix string, at time.Time, id string) string {
	return prefix + at.UTC().Format(sortableTime) + "#" + id
}

// notErased is the transaction item that refuses a write adding to the
// data of a user erased meanwhile: a write racing an erasure lands before
// the marker (and is then scrubbed) or is cancelled after it.
func (s *Store) notErased(tenant, user string) types.TransactWriteItem {
	return s.check(erasedKey(tenant, user), notExists())
}

type erasedItem struct {
	key
	Kind     string    `dynamodbav:"kind"`
	Tenant   string    `dynamodbav:"tenant"`
	UserID   string    `dynamodbav:"userId"`
	ErasedAt time.Time `dynamodbav:"erasedAt"`
}

// MarkErased writes, in one transaction, the marker, the openid item
// without its openid (sign-in conditions on that: an identity being erased
// signs in as a new user), the identity's next generation where the user
// signed in with WeChat, and the user.erased event. One read first finds
// the identity. A repeat finds the marker and answers its erasedAt.
func (s ErasureStore) MarkErased(ctx context.Context, tenant, userID string, at time.Time, e event.Event) (time.Time, error) {
	var wx openIDItem
	if _, err := s.getItem(ctx, key{PK: userPK(tenant, userID), SK: skOpenID}, &wx); err != nil {
		return time.Time{}, err
	}
	marker, err := s.putIf(erasedItem{
		key: erasedKey(tenant, userID), Kind: kindErased, Tenant: tenant, UserID: userID, ErasedAt: at,
	}, notExists())
	if err != nil {
		return time.Time{}, err
	}
	ev, err := s.eventPut(e)
	if err != nil {
		return time.Time{}, err
	}
	rest := tx{parts: []part{{"marker", marker}, {"event", ev}, {"openid", s.update(key{PK: userPK(tenant, userID), SK: skOpenID},
		expression.Remove(expression.Name("openid")).
			Set(expression.Name("kind"), expression.Value(kindOpenID)).
			Set(expression.Name("erasedAt"), expression.Value(at)), nil)}}}
	t := rest
	identity := wx.Identity
	if identity == "" && wx.OpenID != "" {
		identity = userID // signed in before generations were kept: generation 0
	}
	if identity != "" {
		next := wx.Gen + 1
		behind := expression.AttributeNotExists(expression.Name("gen")).Or(expression.Name("gen").LessThan(expression.Value(next)))
		t = rest.with("identity", s.update(identityKey(tenant, identity),
			expression.Set(expression.Name("gen"), expression.Value(next)).
				Set(expression.Name("kind"), expression.Value(kindIdentity)), &behind))
	}
	cancelled, err := s.transact(ctx, t)
	switch {
	case err != nil:
		return time.Time{}, err
	case cancelled == nil:
		return at, nil
	case cancelled.by("marker").ConditionFailed():
		var it erasedItem
		if err := attributevalue.UnmarshalMap(cancelled.by("marker").Item, &it); err != nil {
			return time.Time{}, err
		}
		return it.ErasedAt, nil
	}
	// The identity moved past this user already (an erasure of it that
	// failed half-way cannot leave that: it is one transaction); write the
	// rest without it.
	cancelled, err = s.transact(ctx, rest)
	if err != nil {
		return time.Time{}, err
	}
	if cancelled != nil {
		return s.MarkErased(ctx, tenant, userID, at, e)
	}
	return at, nil
}

// ownItems pages through the user's own partition.
func (s *Store) ownItems(ctx context.Context, tenant, userID string, each func(sk string, item map[string]types.AttributeValue) error) error {
	q := query{key: expression.Key("pk").Equal(expression.Value(userPK(tenant, userID)))}
	return s.eachItem(ctx, q, "sk", each)
}

// ownedItems pages through what the ByOwner index lists for the user.
func (s *Store) ownedItems(ctx context.Context, tenant, userID string, each func(sort string, item map[string]types.AttributeValue) error) error {
	q := query{index: indexByOwner, key: expression.Key("ownerKey").Equal(expression.Value(userPK(tenant, userID)))}
	return s.eachItem(ctx, q, "ownerSort", each)
}

// eachItem calls each with every item q selects that has sortAttr, and
// that attribute's value, page by page.
func (s *Store) eachItem(ctx context.Context, q query, sortAttr string, each func(string, map[string]types.AttributeValue) error) error {
	for page, err := range s.queryPages(ctx, q) {
		if err != nil {
			return err
		}
		for _, item := range page {
			sort, _ := item[sortAttr].(*types.AttributeValueMemberS)
			if sort == nil {
				continue
			}
			if err := each(sort.Value, item); err != nil {
				return err
			}
		}
	}
	return nil
}

type roleRecord struct {
	Role string `dynamodbav:"role"`
}

type profileRecord struct {
	PhoneMasked  string     `dynamodbav:"phoneMasked"`
	PhoneBoundAt *time.Time `dynamodbav:"phoneBoundAt"`
}

type openIDRecord struct {
	OpenID        string     `dynamodbav:"openid"`
	FirstSignInAt *time.Time `dynamodbav:"firstSignInAt"`
}

// Export reads the user's own partition and what ByOwner lists for them,
// each with paged Queries.
func (s ErasureStore) Export(ctx context.Context, tenant, userID string) (mydata.Export, bool, error) {
	d := exportDraft{x: mydata.Export{
		UserID: userID, Tenant: tenant, Profile: mydata.Profile{Role: "patient"},
	}, names: map[string]string{}}
	err := s.ownItems(ctx, tenant, userID, d.own)
	if err != nil || d.x.ErasedAt != nil {
		return d.x, d.found, err
	}
	err = s.ownedItems(ctx, tenant, userID, d.owned)
	for _, where := range []string{"code", "binding", "room"} {
		if n := d.names[where]; n != "" && d.x.Profile.DisplayName == "" {
			d.x.Profile.DisplayName = n
		}
	}
	return d.x, d.found, err
}

// exportDraft is an export being filled in, item by item.
type exportDraft struct {
	x     mydata.Export
	found bool
	names map[string]string // the user's own masked name, by where it was seen
}

// decodeItem unmarshals item as a T and hands it to use.
func decodeItem[T any](item map[string]types.AttributeValue, use func(T)) error {
	var it T
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return err
	}
	use(it)
	return nil
}

// own adds one item of the user's own partition.
func (d *exportDraft) own(sk string, item map[string]types.AttributeValue) error {
	d.found = true
	switch {
	case sk == skErased:
		return decodeItem(item, d.erased)
	case sk == skCode:
		return decodeItem(item, d.code)
	case sk == skBoundTo:
		return decodeItem(item, d.binding)
	case strings.HasPrefix(sk, skFriend):
		return decodeItem(item, d.friend)
	case sk == skRole:
		return decodeItem(item, d.role)
	case sk == skProfile:
		return decodeItem(item, d.profile)
	case sk == skOpenID:
		return decodeItem(item, d.openID)
	}
	return nil
}

// owned adds one item ByOwner lists for the user.
func (d *exportDraft) owned(sort string, item map[string]types.AttributeValue) error {
	d.found = true
	switch {
	case strings.HasPrefix(sort, ownerCoup):
		return decodeItem(item, d.coupon)
	case strings.HasPrefix(sort, ownerRoom):
		return decodeItem(item, d.room)
	case strings.HasPrefix(sort, ownerVisit):
		return decodeItem(item, d.visit)
	}
	return nil
}

func (d *exportDraft) erased(it erasedItem) { d.x.ErasedAt = &it.ErasedAt }

func (d *exportDraft) code(it codeItem) {
	d.x.ReferralCode = &mydata.Code{Code: it.Code, CreatedAt: it.CreatedAt}
	d.names["code"] = it.DisplayName
}

func (d *exportDraft) binding(it bindingItem) {
	d.x.ReferredBy = &mydata.Referral{DisplayName: it.ReferrerName, Stage: it.Stage, BoundAt: it.BoundAt}
	d.names["binding"] = it.RefereeName
}

func (d *exportDraft) friend(it friendItem) {
	d.x.Referrals = append(d.x.Referrals, mydata.Referral{DisplayName: it.DisplayName, Stage: it.Stage, BoundAt: it.BoundAt})
}

func (d *exportDraft) role(it roleRecord) {
	if it.Role != "" {
		d.x.Profile.Role = it.Role
	}
}

func (d *exportDraft) profile(it profileRecord) {
	d.x.Profile.Phone, d.x.Profile.PhoneBoundAt = it.PhoneMasked, it.PhoneBoundAt
}

func (d *exportDraft) openID(it openIDRecord) {
	d.x.Profile.WeChatLinked, d.x.Profile.FirstSignIn = it.OpenID != "", it.FirstSignInAt
}

func (d *exportDraft) coupon(it couponItem) {
	c := mydata.Coupon{
		CouponCode: it.Code, TemplateID: it.TemplateID, Title: it.Title, Kind: it.CouponKind,
		Status: it.Status, Source: it.Source, IssuedAt: it.IssuedAt, ValidTo: it.ValidTo,
		RedeemedAt: it.RedeemedAt, VisitID: it.VisitID,
	}
	d.x.Coupons = append(d.x.Coupons, c)
	if c.Source != string(coupon.FromClaim) {
		d.x.Rewards = append(d.x.Rewards, c)
	}
}

func (d *exportDraft) room(it memberItem) {
	d.x.Rooms = append(d.x.Rooms, mydata.Room{
		GroupID: it.GroupID, DealID: it.DealID, Leader: it.Leader, PriceFen: it.PriceFen, JoinedAt: it.JoinedAt,
	})
	d.names["room"] = it.Name
}

func (d *exportDraft) visit(it visitItem) {
	d.x.Visits = append(d.x.Visits, mydata.Visit{
		VisitID: it.VisitID, Kind: it.VisitKind, AmountFen: it.AmountFen, At: it.At,
		ReferralStage: it.ReferralStage, Refunded: it.RefundedAt != nil,
	})
}

// Scrub removes what identifies the user, page by page, each change one
// conditional write: the profile and role go; the openid went with the
// marker; the user's name becomes mydata.ErasedName wherever it was stored
// (their code, their binding and the referrer's friend entry, room rosters,
// the stats ranking) and their phone HMAC goes from each; the code keeps
// its key (so it is never issued again) but resolves no more; referees'
// bindings show the referrer as erased; unused coupons become VOID, giving
// their stock back. Counts, stages, visits and used coupons stay.
func (s ErasureStore) Scrub(ctx context.Context, tenant, userID string, at time.Time) error {
	sc := scrubber{Store: s.Store, ctx: ctx, tenant: tenant, userID: userID, at: at}
	if err := s.ownItems(ctx, tenant, userID, sc.own); err != nil {
		return err
	}
	if err := s.ownedItems(ctx, tenant, userID, sc.owned); err != nil {
		return err
	}
	ranked := attrName(rankingName, userID)
	named := expression.AttributeExists(expression.Name(ranked))
	return s.scrubOne(ctx, s.update(rankingKey(tenant), expression.Set(expression.Name(ranked), scrubbedName), &named))
}

// scrubbedName is what an erased user's name becomes wherever it was stored.
var scrubbedName = expression.Value(mydata.ErasedName)

// scrubber is one user's scrub, item by item.
type scrubber struct {
	*Store
	ctx            context.Context
	tenant, userID string
	at             time.Time
}

// own rewrites one item of the user's own partition.
func (sc scrubber) own(sk string, item map[string]types.AttributeValue) error {
	switch {
	case sk == skCode:
		var it codeItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return err
		}
		return sc.code(it)
	case sk == skBoundTo:
		var it bindingItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return err
		}
		return sc.binding(it)
	case strings.HasPrefix(sk, skFriend):
		return sc.friend(strings.TrimPrefix(sk, skFriend))
	case sk == skProfile || sk == skRole:
		_, err := sc.DB.DeleteItem(sc.ctx, &dynamodb.DeleteItemInput{
			TableName: aws.String(sc.Table), Key: key{PK: userPK(sc.tenant, sc.userID), SK: sk}.av(),
		})
		return err
	case sk == skOpenID:
		if _, ok := item["openid"]; ok { // a sign-in that landed before the marker
			return sc.scrubOne(sc.ctx, sc.update(key{PK: userPK(sc.tenant, sc.userID), SK: sk}, expression.Remove(expression.Name("openid")), nil))
		}
	}
	return nil
}

// code renames the user on their code, on the user's side and the code's.
func (sc scrubber) code(it codeItem) error {
	theirs := expression.Name("userId").Equal(expression.Value(sc.userID))
	scrub := expression.Set(expression.Name("displayName"), scrubbedName).
		Set(expression.Name("erasedAt"), expression.Value(sc.at)).
		Remove(expression.Name("phoneHash"))
	for _, k := range []key{{PK: userPK(sc.tenant, sc.userID), SK: skCode}, {PK: codePK(it.Code), SK: skSelf}} {
		if err := sc.scrubOne(sc.ctx, sc.update(k, scrub, &theirs)); err != nil {
			return err
		}
	}
	return nil
}

// binding renames the user on their binding and the referrer's friend entry.
func (sc scrubber) binding(it bindingItem) error {
	exists := expression.AttributeExists(expression.Name("pk"))
	if err := sc.scrubOne(sc.ctx, sc.update(bindingKey(sc.tenant, sc.userID),
		expression.Set(expression.Name("refereeName"), scrubbedName), &exists)); err != nil {
		return err
	}
	return sc.scrubOne(sc.ctx, sc.update(friendKey(sc.tenant, it.ReferrerID, sc.userID),
		expression.Set(expression.Name("displayName"), scrubbedName), &exists))
}

// friend shows the user as erased on a referee's binding.
func (sc scrubber) friend(referee string) error {
	mine := expression.Name("referrerId").Equal(expression.Value(sc.userID))
	return sc.scrubOne(sc.ctx, sc.update(bindingKey(sc.tenant, referee),
		expression.Set(expression.Name("referrerName"), scrubbedName), &mine))
}

// owned rewrites one item ByOwner lists for the user.
func (sc scrubber) owned(sort string, item map[string]types.AttributeValue) error {
	switch {
	case strings.HasPrefix(sort, ownerCoup):
		var it couponItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return err
		}
		return sc.voidUnused(sc.ctx, it, sc.at)
	case strings.HasPrefix(sort, ownerRoom):
		var it memberItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return err
		}
		return sc.scrubMember(sc.ctx, it, sc.userID)
	}
	return nil
}

// scrubOne writes one change of a scrub; a failed condition means there is
// nothing (more) to change there.
func (s *Store) scrubOne(ctx context.Context, upd types.TransactWriteItem) error {
	if err := s.updateAlone(ctx, upd); err != nil && !isConditionFailed(err) {
		return err
	}
	return nil
}

// scrubMember renames the user in a room's roster and on their membership,
// dropping the phone HMAC from both. The roster entry is addressed by its
// index, on the condition that it is still the user's.
func (s *Store) scrubMember(ctx context.Context, m memberItem, userID string) error {
	var room roomItem
	found, err := s.getItem(ctx, key{PK: roomPK(m.GroupID), SK: skSelf}, &room)
	if err != nil {
		return err
	}
	erasedName := expression.Value(mydata.ErasedName)
	for i, e := range room.Members {
		if !found || e.UserID != userID {
			continue
		}
		at := "members[" + strconv.Itoa(i) + "]"
		theirs := expression.Name(at + ".userId").Equal(expression.Value(userID))
		if err := s.scrubOne(ctx, s.update(key{PK: roomPK(m.GroupID), SK: skSelf},
			expression.Set(expression.Name(at+".name"), erasedName).Remove(expression.Name(at+".phoneHash")), &theirs)); err != nil {
			return err
		}
	}
	exists := expression.AttributeExists(expression.Name("pk"))
	return s.scrubOne(ctx, s.update(m.key,
		expression.Set(expression.Name("name"), erasedName).Remove(expression.Name("phoneHash")), &exists))
}

// voidUnused turns an unused coupon VOID, as a refund does a held reward:
// a held reward also leaves its visit's held list (so the visit's refund
// finds nothing of it to void), and a unit of a limited template's stock
// goes back to its shard, in the same transaction.
func (s *Store) voidUnused(ctx context.Context, c couponItem, at time.Time) error {
	if c.Status != string(coupon.Pending) && c.Status != string(coupon.Issued) {
		return nil
	}
	asRead := expression.Name("status").Equal(expression.Value(c.Status))
	t := tx{parts: []part{{"coupon", s.update(couponKey(c.Code),
		expression.Set(expression.Name("status"), expression.Value(string(coupon.Void))).
			Set(expression.Name("voidedAt"), expression.Value(at)).
			Remove(expression.Name("expShard")).
			Remove(expression.Name("expAt")), &asRead)}}}
	shard := c.StockShard
	if c.Status == string(coupon.Pending) && c.VisitID != "" {
		var v visitItem
		found, err := s.getItem(ctx, visitKey(c.Tenant, c.VisitID), &v)
		if err != nil {
			return err
		}
		rec := v.visit()
		if unit, ok := rec.HeldStock[c.Code]; found && ok {
			shard = &unit.Shard
		}
		upd := expression.Delete(expression.Name("held"), expression.Value(types.AttributeValueMemberSS{Value: []string{c.Code}})).
			Add(expression.Name("rev"), expression.Value(1))
		for _, entry := range v.HeldStock {
			if strings.HasPrefix(entry, c.Code+"#") {
				upd = upd.Delete(expression.Name("heldStock"), expression.Value(types.AttributeValueMemberSS{Value: []string{entry}}))
			}
		}
		if found {
			t.add("visit", s.update(visitKey(c.Tenant, c.VisitID), upd, nil))
		}
	}
	if shard != nil {
		t.add("stock", s.update(shardKey(c.Tenant, c.TemplateID, *shard),
			expression.Add(expression.Name("left"), expression.Value(1)), nil))
	}
	cancelled, err := s.transact(ctx, t)
	if err != nil || cancelled == nil {
		return err
	}
	// It changed meanwhile (released, redeemed): decide again on what it is.
	var now couponItem
	found, err := s.getItem(ctx, couponKey(c.Code), &now)
	if err != nil || !found || now.Status == c.Status {
		return err
	}
	return s.voidUnused(ctx, now, at)
}
