package chaos

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/laoyou/laoyou/shared/event"
)

// Table is a snapshot of Laoyou's table, its items sorted by what they
// are, as the invariants speak of them. It is read with Scan, which only
// tests and tools may do.
//
// Its layout follows the store's (shared/dynamo): where an item is
// described there, it is read here.
type Table struct {
	Codes     map[string]Code     // CODE#<code>, by code
	UserCodes map[UserKey]string  // the owners' copies: user → code
	Bindings  map[UserKey]Binding // by referee
	Friends   []Friend            // the referrers' friend entries
	Patients  map[UserKey]bool    // users with a recorded visit

	Events map[string]event.Event // the outbox, by event id

	Deals      map[DealKey]Deal
	SeatShards []SeatShard
	Rooms      map[string]Room // by group id
	Members    []Member        // the member items (GROUP#<id> / M#<user>)
	DealUses   map[DealUse]int // the users' count of rooms that did not fail

	Templates   map[DealKey]Template // by tenant and template id
	StockShards []StockShard
	Claims      map[ClaimKey]int  // claims counted against the per-user limit
	Coupons     map[string]Coupon // by code

	Effects     map[string]bool // FX#<effect>
	Rules       []Rule
	DeadLetters []DeadLetter

	Items int // how many items were read
}

// UserKey is a user of a tenant.
type UserKey struct{ Tenant, User string }

// DealKey names a per-tenant id: a deal or a coupon template.
type DealKey struct{ Tenant, ID string }

// DealUse is a user's standing in one deal.
type DealUse struct{ Tenant, User, Deal string }

// ClaimKey is a user's claims of one template.
type ClaimKey struct{ Tenant, User, Template string }

// Code is a referral code.
type Code struct {
	Code   string `dynamodbav:"code"`
	Tenant string `dynamodbav:"tenant"`
	UserID string `dynamodbav:"userId"`
}

// Binding is a referee's binding to their referrer.
type Binding struct {
	Tenant     string `dynamodbav:"tenant"`
	RefereeID  string `dynamodbav:"refereeId"`
	ReferrerID string `dynamodbav:"referrerId"`
	Stage      string `dynamodbav:"stage"`
}

// Friend is a referee as listed under their referrer.
type Friend struct {
	Tenant     string `dynamodbav:"tenant"`
	ReferrerID string `dynamodbav:"-"`
	RefereeID  string `dynamodbav:"refereeId"`
}

// Deal is a group-buy deal's terms and rolled-up seat count.
type Deal struct {
	Tenant       string `dynamodbav:"tenant"`
	DealID       string `dynamodbav:"dealId"`
	GroupSize    int    `dynamodbav:"groupSize"`
	MinSize      int    `dynamodbav:"minSize"`
	Stock        int    `dynamodbav:"stock"`
	PerUserLimit int    `dynamodbav:"perUserLimit"`
	Shards       int    `dynamodbav:"shards"`
	SeatsTaken   int    `dynamodbav:"seatsTaken"`
}

// SeatShard is one shard of a deal's seat stock.
type SeatShard struct {
	Tenant string `dynamodbav:"tenant"`
	DealID string `dynamodbav:"dealId"`
	Shard  int    `dynamodbav:"shard"`
	Cap    int    `dynamodbav:"cap"`
	Taken  int    `dynamodbav:"taken"`
}

// Room is a group-buy room with its roster.
type Room struct {
	GroupID   string       `dynamodbav:"groupId"`
	Tenant    string       `dynamodbav:"tenant"`
	DealID    string       `dynamodbav:"dealId"`
	LeaderID  string       `dynamodbav:"leaderId"`
	Size      int          `dynamodbav:"size"`
	MinSize   int          `dynamodbav:"minSize"`
	Joined    int          `dynamodbav:"joined"`
	Status    string       `dynamodbav:"status"`
	ExpiresAt string       `dynamodbav:"expiresAt"`
	Members   []RoomMember `dynamodbav:"members"`
	ExpShard  string       `dynamodbav:"expShard"`
	ExpAt     string       `dynamodbav:"expAt"`
}

// RoomMember is one entry of a room's roster.
type RoomMember struct {
	UserID string `dynamodbav:"userId"`
	Leader bool   `dynamodbav:"leader"`
	Shard  int    `dynamodbav:"shard"`
}

// Member is a member item, the key that keeps a user from joining twice.
type Member struct {
	GroupID string `dynamodbav:"groupId"`
	UserID  string `dynamodbav:"userId"`
	Shard   int    `dynamodbav:"shard"`
}

// Template is a coupon template's stock terms and rolled-up issued count.
type Template struct {
	Tenant       string `dynamodbav:"tenant"`
	TemplateID   string `dynamodbav:"templateId"`
	Stock        int64  `dynamodbav:"stock"`
	Shards       int    `dynamodbav:"shards"`
	PerUserLimit int    `dynamodbav:"perUserLimit"`
	Issued       int64  `dynamodbav:"issued"`
}

// StockShard is one shard of a template's stock.
type StockShard struct {
	Tenant     string `dynamodbav:"tenant"`
	TemplateID string `dynamodbav:"templateId"`
	Shard      int    `dynamodbav:"-"`
	Left       int64  `dynamodbav:"left"`
}

// Coupon is an issued coupon.
type Coupon struct {
	Code       string `dynamodbav:"code"`
	Tenant     string `dynamodbav:"tenant"`
	UserID     string `dynamodbav:"userId"`
	TemplateID string `dynamodbav:"templateId"`
	Status     string `dynamodbav:"status"`
	Source     string `dynamodbav:"source"`
}

// Rule is a tenant's hook rule that issues coupons.
type Rule struct {
	Tenant      string `dynamodbav:"tenant"`
	RuleID      string `dynamodbav:"ruleId"`
	Event       string `dynamodbav:"event"`
	IssueCoupon *struct {
		TemplateID string `dynamodbav:"templateId"`
		To         string `dynamodbav:"to"`
	} `dynamodbav:"issueCoupon"`
}

// DeadLetter is an effect that failed for good and was kept.
type DeadLetter struct {
	Tenant    string `dynamodbav:"tenant"`
	EventID   string `dynamodbav:"eventId"`
	RuleID    string `dynamodbav:"ruleId"`
	Recipient string `dynamodbav:"recipient"`
	Error     string `dynamodbav:"error"`
}

// Scan reads the whole table, strongly consistent, and sorts it.
func Scan(ctx context.Context, db *dynamodb.Client, table string) (*Table, error) {
	items, err := ScanItems(ctx, db, table)
	if err != nil {
		return nil, err
	}
	return Read(items)
}

// ScanItems reads the whole table's items, strongly consistent.
func ScanItems(ctx context.Context, db *dynamodb.Client, table string) ([]map[string]types.AttributeValue, error) {
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	var items []map[string]types.AttributeValue
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("chaos: scan %s: %w", table, err)
		}
		items = append(items, page.Items...)
	}
	return items, nil
}

// Read sorts items into a Table. Items it does not know are skipped.
func Read(items []map[string]types.AttributeValue) (*Table, error) {
	t := &Table{
		Codes: map[string]Code{}, UserCodes: map[UserKey]string{}, Bindings: map[UserKey]Binding{},
		Patients: map[UserKey]bool{}, Events: map[string]event.Event{},
		Deals: map[DealKey]Deal{}, Rooms: map[string]Room{}, DealUses: map[DealUse]int{},
		Templates: map[DealKey]Template{}, Claims: map[ClaimKey]int{}, Coupons: map[string]Coupon{},
		Effects: map[string]bool{}, Items: len(items),
	}
	for _, item := range items {
		if err := t.add(item); err != nil {
			return nil, fmt.Errorf("chaos: item %s / %s: %w", str(item, "pk"), str(item, "sk"), err)
		}
	}
	return t, nil
}

func str(item map[string]types.AttributeValue, name string) string {
	if s, ok := item[name].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func (t *Table) add(item map[string]types.AttributeValue) error {
	pk, sk := str(item, "pk"), str(item, "sk")
	into := func(v any) error { return attributevalue.UnmarshalMap(item, v) }
	switch str(item, "kind") {
	case "referralCode":
		var c Code
		if err := into(&c); err != nil {
			return err
		}
		if strings.HasPrefix(pk, "CODE#") {
			t.Codes[c.Code] = c
		} else {
			t.UserCodes[UserKey{c.Tenant, c.UserID}] = c.Code
		}
	case "binding":
		var b Binding
		if err := into(&b); err != nil {
			return err
		}
		t.Bindings[UserKey{b.Tenant, b.RefereeID}] = b
	case "friend":
		var f Friend
		if err := into(&f); err != nil {
			return err
		}
		f.ReferrerID = userOf(pk)
		t.Friends = append(t.Friends, f)
	case "event":
		var e event.Event
		if err := into(&e); err != nil {
			return err
		}
		t.Events[e.ID] = e
	case "deal":
		var d Deal
		if err := into(&d); err != nil {
			return err
		}
		t.Deals[DealKey{d.Tenant, d.DealID}] = d
	case "seatShard":
		var s SeatShard
		if err := into(&s); err != nil {
			return err
		}
		t.SeatShards = append(t.SeatShards, s)
	case "groupRoom":
		var r Room
		if err := into(&r); err != nil {
			return err
		}
		t.Rooms[r.GroupID] = r
	case "groupMember":
		var m Member
		if err := into(&m); err != nil {
			return err
		}
		t.Members = append(t.Members, m)
	case "dealUse":
		var u struct {
			Tenant string `dynamodbav:"tenant"`
			UserID string `dynamodbav:"userId"`
			DealID string `dynamodbav:"dealId"`
			Count  int    `dynamodbav:"count"`
		}
		if err := into(&u); err != nil {
			return err
		}
		t.DealUses[DealUse{u.Tenant, u.UserID, u.DealID}] = u.Count
	case "couponTemplate":
		var tp Template
		if err := into(&tp); err != nil {
			return err
		}
		t.Templates[DealKey{tp.Tenant, tp.TemplateID}] = tp
	case "stockShard":
		var s StockShard
		if err := into(&s); err != nil {
			return err
		}
		_, _ = fmt.Sscanf(pk[strings.LastIndex(pk, "#")+1:], "%d", &s.Shard)
		t.StockShards = append(t.StockShards, s)
	case "couponClaims":
		var c struct {
			Tenant string `dynamodbav:"tenant"`
			N      int    `dynamodbav:"n"`
		}
		if err := into(&c); err != nil {
			return err
		}
		t.Claims[ClaimKey{c.Tenant, userOf(pk), strings.TrimPrefix(sk, "CLAIMS#")}] = c.N
	case "coupon":
		var c Coupon
		if err := into(&c); err != nil {
			return err
		}
		t.Coupons[c.Code] = c
	case "effect":
		t.Effects[strings.TrimPrefix(pk, "FX#")] = true
	case "hookRule":
		var r Rule
		if err := into(&r); err != nil {
			return err
		}
		t.Rules = append(t.Rules, r)
	case "deadLetter":
		var d DeadLetter
		if err := into(&d); err != nil {
			return err
		}
		t.DeadLetters = append(t.DeadLetters, d)
	default:
		if sk == "PATIENT" {
			if tenant, user, ok := tenantUserOf(pk); ok {
				t.Patients[UserKey{tenant, user}] = true
			}
		}
	}
	return nil
}

// tenantUserOf reads T#<tenant>#U#<user>.
func tenantUserOf(pk string) (tenant, user string, ok bool) {
	rest, ok := strings.CutPrefix(pk, "T#")
	if !ok {
		return "", "", false
	}
	tenant, user, ok = strings.Cut(rest, "#U#")
	return tenant, user, ok
}

func userOf(pk string) string {
	_, user, _ := tenantUserOf(pk)
	return user
}
