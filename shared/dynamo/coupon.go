package dynamo

import (
	"context"
	"errors"
	"slices"
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
)

var _ coupon.Store = (*CouponStore)(nil)

// CouponStore keeps coupon templates, their stock and the coupons.
//
// Items:
//
//	T#<t> / CTPL#<templateId>              the template; "issued" and "countedAt" are its stock
//	                                       shards as last rolled up (RefreshIssued)
//	STOCK#<t>#<templateId>#<n> / _         stock shard n: "left" units, a partition of its own
//	T#<t>#U#<user> / CLAIMS#<templateId>   how often the user claimed the template ("n")
//	COUPON#<code> / _                      the coupon, unique across tenants; ownerKey and
//	                                       ownerSort put it in the ByOwner index for its holder;
//	                                       a held referral reward also carries expShard
//	                                       (HOLD#n) and expAt (its release) for the Expiring index
//	FX#<effect> / _                        an effect that happened (see HookStore)
type CouponStore struct{ *Store }

const (
	kindTemplate   = "couponTemplate"
	kindStockShard = "stockShard"
	kindClaims     = "couponClaims"
	kindCoupon     = "coupon"

	skTemplate = "CTPL#"
	skClaims   = "CLAIMS#"

	indexByOwner = "ByOwner"
	// myCouponsLimit bounds GET /v1/coupons/me to one page of the newest.
	myCouponsLimit = 200
)

func templateKey(tenant, id string) key { return key{PK: tenantPK(tenant), SK: skTemplate + id} }
func claimsKey(tenant, user, id string) key {
	return key{PK: userPK(tenant, user), SK: skClaims + id}
}
func couponKey(code string) key { return key{PK: "COUPON#" + code, SK: skSelf} }

// shardKey: each shard is its own partition key, so a spike on one template
// spreads over up to coupon.MaxShards keys.
func shardKey(tenant, id string, n int) key {
	return key{PK: "STOCK#" + tenant + "#" + id + "#" + strconv.Itoa(n), SK: skSelf}
}

type templateItem struct {
	key
	Kind         string     `dynamodbav:"kind"`
	Tenant       string     `dynamodbav:"tenant"`
	TemplateID   string     `dynamodbav:"templateId"`
	Title        string     `dynamodbav:"title"`
	CouponKind   string     `dynamodbav:"couponKind"`
	ValueFen     int64      `dynamodbav:"valueFen"`
	PercentOff   int        `dynamodbav:"percentOff"`
	MaxOffFen    int64      `dynamodbav:"maxOffFen"`
	MinSpendFen  int64      `dynamodbav:"minSpendFen"`
	ValidFrom    *time.Time `dynamodbav:"validFrom,omitempty"`
	ValidTo      *time.Time `dynamodbav:"validTo,omitempty"`
	ValidDays    int        `dynamodbav:"validDays"`
	Stock        int64      `dynamodbav:"stock"`
	Shards       int        `dynamodbav:"shards"`
	PerUserLimit int        `dynamodbav:"perUserLimit"`
	Claimable    bool       `dynamodbav:"claimable"`
	Issued       int64      `dynamodbav:"issued"`              // written only by RefreshIssued
	CountedAt    int64      `dynamodbav:"countedAt,omitempty"` // when issued was read, unix ms
	UpdatedAt    time.Time  `dynamodbav:"updatedAt"`
}

func newTemplateItem(t coupon.Template) templateItem {
	it := templateItem{
		key: templateKey(t.Tenant, t.ID), Kind: kindTemplate, Tenant: t.Tenant, TemplateID: t.ID, Title: t.Title,
		CouponKind: string(t.Kind), ValueFen: t.ValueFen, PercentOff: t.PercentOff, MaxOffFen: t.MaxOffFen,
		MinSpendFen: t.MinSpendFen, ValidDays: t.ValidDays, Stock: t.Stock, Shards: t.Shards,
		PerUserLimit: t.PerUserLimit, Claimable: t.Claimable, Issued: t.Issued, UpdatedAt: t.UpdatedAt,
	}
	if !t.ValidFrom.IsZero() {
		it.ValidFrom = &t.ValidFrom
	}
	if !t.ValidTo.IsZero() {
		it.ValidTo = &t.ValidTo
	}
	return it
}

func (i templateItem) template() *coupon.Template {
	t := &coupon.Template{
		Tenant: i.Tenant, ID: i.TemplateID, Title: i.Title, Kind: coupon.Kind(i.CouponKind), ValueFen: i.ValueFen,
		PercentOff: i.PercentOff, MaxOffFen: i.MaxOffFen, MinSpendFen: i.MinSpendFen, ValidDays: i.ValidDays,
		Stock: i.Stock, Shards: i.Shards, PerUserLimit: i.PerUserLimit, Claimable: i.Claimable,
		Issued: i.Issued, UpdatedAt: i.UpdatedAt,
	}
	if i.ValidFrom != nil {
		t.ValidFrom = *i.ValidFrom
	}
	if i.ValidTo != nil {
		t.ValidTo = *i.ValidTo
	}
	return t
}

type shardItem struct {
	key
	Kind       string `dynamodbav:"kind"`
	Tenant     string `dynamodbav:"tenant"`
	TemplateID string `dynamodbav:"templateId"`
	Left       int64  `dynamodbav:"left"`
}

type couponItem struct {
	key
	Kind        string     `dynamodbav:"kind"`
	Code        string     `dynamodbav:"code"`
	Tenant      string     `dynamodbav:"tenant"`
	UserID      string     `dynamodbav:"userId"`
	TemplateID  string     `dynamodbav:"templateId"`
	Title       string     `dynamodbav:"title"`
	CouponKind  string     `dynamodbav:"couponKind"`
	ValueFen    int64      `dynamodbav:"valueFen,omitempty"`
	PercentOff  int        `dynamodbav:"percentOff,omitempty"`
	MaxOffFen   int64      `dynamodbav:"maxOffFen,omitempty"`
	MinSpendFen int64      `dynamodbav:"minSpendFen,omitempty"`
	PriceFen    int64      `dynamodbav:"priceFen,omitempty"`
	Status      string     `dynamodbav:"status"`
	ValidFrom   time.Time  `dynamodbav:"validFrom"`
	ValidTo     time.Time  `dynamodbav:"validTo"`
	ValidFromMs int64      `dynamodbav:"validFromMs"` // numbers, for the redemption's condition
	ValidToMs   int64      `dynamodbav:"validToMs"`
	Source      string     `dynamodbav:"source"`
	IssuedAt    time.Time  `dynamodbav:"issuedAt"`
	RedeemedAt  *time.Time `dynamodbav:"redeemedAt,omitempty"`
	RedeemedBy  string     `dynamodbav:"redeemedBy,omitempty"`
	RedeemedReq string     `dynamodbav:"redeemedReq,omitempty"`
	OwnerKey    string     `dynamodbav:"ownerKey"`
	OwnerSort   string     `dynamodbav:"ownerSort"`
	DealID      string     `dynamodbav:"dealId,omitempty"`
	// StockShard is the stock shard a limited template's coupon took its
	// unit from, so voiding it unused gives the unit back.
	StockShard *int `dynamodbav:"stockShard,omitempty"`
	// A held reward: what earned it, when it is released, and its entry in
	// the Expiring index, removed when it is released or voided.
	VisitID    string     `dynamodbav:"visitId,omitempty"`
	RefereeID  string     `dynamodbav:"refereeId,omitempty"`
	ReferrerID string     `dynamodbav:"referrerId,omitempty"`
	ReleaseAt  *time.Time `dynamodbav:"releaseAt,omitempty"`
	ExpShard   string     `dynamodbav:"expShard,omitempty"`
	ExpAt      string     `dynamodbav:"expAt,omitempty"`
}

func newCouponItem(c coupon.Coupon) couponItem {
	it := couponItem{
		key: couponKey(c.Code), Kind: kindCoupon, Code: c.Code, Tenant: c.Tenant, UserID: c.UserID,
		TemplateID: c.TemplateID, Title: c.Title, CouponKind: string(c.Kind), ValueFen: c.ValueFen,
		PercentOff: c.PercentOff, MaxOffFen: c.MaxOffFen, MinSpendFen: c.MinSpendFen, PriceFen: c.PriceFen,
		Status: string(c.Status), ValidFrom: c.ValidFrom, ValidTo: c.ValidTo,
		ValidFromMs: c.ValidFrom.UnixMilli(), ValidToMs: c.ValidTo.UnixMilli(),
		Source: string(c.Source), IssuedAt: c.IssuedAt, RedeemedBy: c.RedeemedBy, RedeemedReq: c.RedeemedReq,
		OwnerKey:  userPK(c.Tenant, c.UserID),
		OwnerSort: "COUPON#" + c.IssuedAt.UTC().Format(sortableTime) + "#" + c.Code,
		DealID:    c.DealID,
	}
	if !c.RedeemedAt.IsZero() {
		it.RedeemedAt = &c.RedeemedAt
	}
	if h := c.Hold; h != nil {
		until := h.Until.UTC()
		it.VisitID, it.RefereeID, it.ReferrerID, it.ReleaseAt = h.VisitID, h.RefereeID, h.ReferrerID, &until
		if c.Status == coupon.Pending {
			it.ExpShard, it.ExpAt = holdShardOf(c.Code), second(until)
		}
	}
	return it
}

func (i couponItem) coupon() *coupon.Coupon {
	c := &coupon.Coupon{
		Code: i.Code, Tenant: i.Tenant, UserID: i.UserID, TemplateID: i.TemplateID, Title: i.Title,
		Kind: coupon.Kind(i.CouponKind), ValueFen: i.ValueFen, PercentOff: i.PercentOff, MaxOffFen: i.MaxOffFen,
		MinSpendFen: i.MinSpendFen, PriceFen: i.PriceFen, Status: coupon.Status(i.Status),
		ValidFrom: i.ValidFrom, ValidTo: i.ValidTo, Source: coupon.Source(i.Source), IssuedAt: i.IssuedAt,
		RedeemedBy: i.RedeemedBy, RedeemedReq: i.RedeemedReq, DealID: i.DealID,
	}
	if i.RedeemedAt != nil {
		c.RedeemedAt = *i.RedeemedAt
	}
	if i.ReleaseAt != nil {
		c.Hold = &coupon.Hold{Until: *i.ReleaseAt, VisitID: i.VisitID, RefereeID: i.RefereeID, ReferrerID: i.ReferrerID}
	}
	return c
}

// Template reads a template, or nil.
func (s CouponStore) Template(ctx context.Context, tenant, id string) (*coupon.Template, error) {
	var it templateItem
	found, err := s.getItem(ctx, templateKey(tenant, id), &it)
	if !found || err != nil {
		return nil, err
	}
	return it.template(), nil
}

// MissingTemplates returns those of ids that name no template of the
// tenant, reading them all with one BatchGetItem (up to a hundred ids).
func (s CouponStore) MissingTemplates(ctx context.Context, tenant string, ids []string) ([]string, error) {
	var missing []string
	for chunk := range slices.Chunk(ids, 100) {
		keys := make([]map[string]types.AttributeValue, 0, len(chunk))
		for _, id := range chunk {
			keys = append(keys, templateKey(tenant, id).av())
		}
		items, err := s.batchGet(ctx, keys)
		if err != nil {
			return nil, err
		}
		found := map[string]bool{}
		for _, item := range items {
			if sk, ok := item["sk"].(*types.AttributeValueMemberS); ok {
				found[strings.TrimPrefix(sk.Value, skTemplate)] = true
			}
		}
		for _, id := range chunk {
			if !found[id] {
				missing = append(missing, id)
			}
		}
	}
	return missing, nil
}

// ClaimableTemplates reads the tenant's claimable templates with one Query
// of the tenant's partition.
func (s CouponStore) ClaimableTemplates(ctx context.Context, tenant string) ([]coupon.Template, error) {
	q := prefixQuery(tenantPK(tenant), skTemplate)
	claimable := expression.Name("claimable").Equal(expression.Value(true))
	q.filter = &claimable
	return queryAll(ctx, s.Store, q, decodeVia(func(it templateItem) coupon.Template { return *it.template() }))
}

// SaveTemplate writes the template and its stock in one transaction. A new
// template is created only if absent, with its shards; a replacement only
// if the stored stock is still prev's, with the raise added to the shards.
// The issued count is left as the last roll-up made it.
func (s CouponStore) SaveTemplate(ctx context.Context, t coupon.Template, prev *coupon.Template, adds []int64) (bool, error) {
	av, err := attributevalue.MarshalMap(newTemplateItem(t))
	if err != nil {
		return false, err
	}
	var upd expression.UpdateBuilder
	for name, v := range av {
		switch name {
		case "pk", "sk", "issued", "countedAt":
		default:
			upd = upd.Set(expression.Name(name), expression.Value(v))
		}
	}
	for _, optional := range []string{"validFrom", "validTo"} {
		if _, ok := av[optional]; !ok {
			upd = upd.Remove(expression.Name(optional))
		}
	}
	cond := notExists()
	if prev != nil {
		cond = expression.Name("stock").Equal(expression.Value(prev.Stock))
	}
	save := tx{parts: []part{{"template", s.update(templateKey(t.Tenant, t.ID), upd, &cond)}}}
	if prev == nil {
		for n, left := range coupon.SplitStock(t.Stock, t.Shards) {
			put, err := s.putIf(shardItem{
				key: shardKey(t.Tenant, t.ID, n), Kind: kindStockShard, Tenant: t.Tenant, TemplateID: t.ID, Left: left,
			}, notExists())
			if err != nil {
				return false, err
			}
			save.add("stock", put)
		}
	}
	for n, add := range adds {
		if add > 0 {
			exists := expression.AttributeExists(expression.Name("pk"))
			save.add("stock", s.update(shardKey(t.Tenant, t.ID, n),
				expression.Add(expression.Name("left"), expression.Value(add)), &exists))
		}
	}
	cancelled, err := s.transact(ctx, save)
	return cancelled == nil && err == nil, err // a failed condition: another save came first
}

// Issue writes the coupon, takes a unit from its stock shard, counts the
// claim against the user's limit, records the effect and the coupon.issued
// event: one transaction, all or nothing. A held reward is also listed on
// the visit that earned it, on the condition that the visit stands
// unrefunded: a refund voids the rewards its visit lists, and a reward
// arriving after the refund is not issued at all.
func (s CouponStore) Issue(ctx context.Context, in coupon.Issue) (*coupon.IssueConflict, error) {
	c := in.Coupon
	item := newCouponItem(c)
	if in.Shard >= 0 {
		item.StockShard = &in.Shard
	}
	put, err := s.putIf(item, notExists())
	if err != nil {
		return nil, err
	}
	t := tx{parts: []part{{"coupon", put}}}
	if in.Shard >= 0 {
		hasUnit := expression.Name("left").GreaterThanEqual(expression.Value(1))
		t.add("stock", s.update(shardKey(c.Tenant, c.TemplateID, in.Shard),
			expression.Set(expression.Name("left"), expression.Name("left").Minus(expression.Value(1))), &hasUnit))
	}
	if in.PerUserLimit > 0 {
		t.add("limit", s.countUnder(claimsKey(c.Tenant, c.UserID, c.TemplateID), in.PerUserLimit,
			expression.Set(expression.Name("kind"), expression.Value(kindClaims)).
				Set(expression.Name("tenant"), expression.Value(c.Tenant))))
	}
	if h := c.Hold; h != nil && h.VisitID != "" {
		t.add("visit", s.holdOnVisit(c.Tenant, h.VisitID, c.Code, c.TemplateID, in.Shard))
	}
	if in.Effect != "" {
		fx, err := s.effectOf(c.Tenant, in.Effect, c.Code)
		if err != nil {
			return nil, err
		}
		t.add("effect", fx)
	}
	ev, err := s.eventPut(in.Event)
	if err != nil {
		return nil, err
	}
	t.add("event", ev)
	t.add("notErased", s.notErased(c.Tenant, c.UserID))

	cancelled, err := s.transact(ctx, t)
	if err != nil || cancelled == nil {
		return nil, err
	}
	return issueConflict(cancelled)
}

// issueConflict says which of an issue's conditions failed; a done effect
// names the coupon it issued.
func issueConflict(cancelled *cancellation) (*coupon.IssueConflict, error) {
	failedAt := func(name string) bool { return cancelled.by(name).ConditionFailed() }
	conflict := &coupon.IssueConflict{
		CodeTaken:    failedAt("coupon"),
		OutOfStock:   failedAt("stock"),
		LimitReached: failedAt("limit"),
		Done:         failedAt("effect"),
		Withdrawn:    failedAt("visit"),
		Erased:       failedAt("notErased"),
	}
	if done := cancelled.by("effect"); conflict.Done && len(done.Item) > 0 {
		var fx effectItem
		if err := attributevalue.UnmarshalMap(done.Item, &fx); err != nil {
			return nil, err
		}
		conflict.DoneCoupon = fx.CouponCode
	}
	return conflict, nil
}

// Coupon reads a coupon by code, or nil.
func (s CouponStore) Coupon(ctx context.Context, code string) (*coupon.Coupon, error) {
	var it couponItem
	found, err := s.getItem(ctx, couponKey(code), &it)
	if !found || err != nil {
		return nil, err
	}
	return it.coupon(), nil
}

// CouponsOf reads the user's newest coupons with one Query of the ByOwner
// index.
func (s CouponStore) CouponsOf(ctx context.Context, tenant, userID string) ([]coupon.Coupon, error) {
	return queryFirst(ctx, s.Store, query{
		index: indexByOwner,
		key: expression.Key("ownerKey").Equal(expression.Value(userPK(tenant, userID))).
			And(expression.Key("ownerSort").BeginsWith("COUPON#")),
		descending: true,
		page:       myCouponsLimit,
	}, decodeVia(func(it couponItem) coupon.Coupon { return *it.coupon() }))
}

// Redeem marks the coupon REDEEMED and records coupon.redeemed in one
// transaction, conditional on the coupon being ISSUED, of tenant and valid
// at at: a coupon is redeemed at most once, however many desks try at once.
func (s CouponStore) Redeem(ctx context.Context, code, tenant, by, req string, at time.Time, e event.Event) (*coupon.RedeemConflict, error) {
	nowMs := at.UnixMilli()
	cond := expression.Name("status").Equal(expression.Value(string(coupon.Issued))).
		And(expression.Name("tenant").Equal(expression.Value(tenant))).
		And(expression.Name("validToMs").GreaterThan(expression.Value(nowMs))).
		And(expression.Name("validFromMs").LessThanEqual(expression.Value(nowMs)))
	upd := expression.Set(expression.Name("status"), expression.Value(string(coupon.Redeemed))).
		Set(expression.Name("redeemedAt"), expression.Value(at)).
		Set(expression.Name("redeemedBy"), expression.Value(by))
	if req != "" {
		upd = upd.Set(expression.Name("redeemedReq"), expression.Value(req))
	}
	ev, err := s.eventPut(e)
	if err != nil {
		return nil, err
	}
	cancelled, err := s.transact(ctx, tx{parts: []part{{"coupon", s.update(couponKey(code), upd, &cond)}, {"event", ev}}})
	if err != nil || cancelled == nil {
		return nil, err
	}
	held := cancelled.by("coupon")
	if !held.ConditionFailed() {
		return nil, errors.New("dynamo: redemption cancelled without a failed condition on the coupon")
	}
	conflict := &coupon.RedeemConflict{}
	if len(held.Item) > 0 {
		var it couponItem
		if err := attributevalue.UnmarshalMap(held.Item, &it); err != nil {
			return nil, err
		}
		conflict.Current = it.coupon()
	}
	return conflict, nil
}

// RefreshIssued rolls the template's stock shards up into its issued count,
// which `remaining` is read from, as GroupStore.RefreshSeats does for a
// deal: one snapshot of the template and its shards, then one UpdateItem
// unless a reading taken at or after since, or a later one, is stored.
// issued is stock less what the shards hold: a raise adds to both.
func (s CouponStore) RefreshIssued(ctx context.Context, tenant, templateID string, shards int, since time.Time) error {
	readAt := s.Now().UnixMilli()
	k := templateKey(tenant, templateID)
	gets := []types.TransactGetItem{{Get: &types.Get{TableName: aws.String(s.Table), Key: k.av()}}}
	for n := range min(shards, coupon.MaxShards) {
		gets = append(gets, types.TransactGetItem{Get: &types.Get{TableName: aws.String(s.Table), Key: shardKey(tenant, templateID, n).av()}})
	}
	out, err := s.DB.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: gets})
	if err != nil || len(out.Responses) == 0 || len(out.Responses[0].Item) == 0 {
		return err
	}
	var t templateItem
	if err := attributevalue.UnmarshalMap(out.Responses[0].Item, &t); err != nil {
		return err
	}
	if t.Stock == 0 || t.CountedAt >= since.UnixMilli() {
		return nil // unlimited: nothing to count; or a reading after since is there
	}
	issued := t.Stock
	for _, r := range out.Responses[1:] {
		var sh shardItem
		if err := attributevalue.UnmarshalMap(r.Item, &sh); err != nil {
			return err
		}
		issued -= sh.Left
	}
	if issued == t.Issued && t.CountedAt > 0 {
		return nil
	}
	return s.rollUp(ctx, k, expression.Set(expression.Name("issued"), expression.Value(issued)), readAt)
}
