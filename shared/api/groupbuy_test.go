package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddbtest"
	"github.com/laoyou/laoyou/shared/clock"
	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/groupbuy"
	"github.com/laoyou/laoyou/shared/share"
	"github.com/laoyou/laoyou/shared/stream"
	"github.com/laoyou/laoyou/shared/tenant"
)

// withClock makes the stack's functions read a clock the test controls.
func (s *stack) withClock() *clock.Settable {
	c := clock.At(time.Now().UTC().Truncate(time.Second))
	s.deps.Now = c.Now
	return c
}

func admin(tenant string) who { return who{"sub": "admin-1", "tenant": tenant, "role": "admin"} }

// dealBody is a valid deal with fields overridden by kv.
func dealBody(kv map[string]any) string {
	d := map[string]any{
		"title": "闺蜜卡 Thermage", "sku": "THERMAGE-600", "priceFen": 1999900, "groupPriceFen": 1299900,
		"groupSize": 2, "ttlSeconds": 3600, "stock": 100, "perUserLimit": 1, "newcomersOnly": false,
	}
	for k, v := range kv {
		if v == nil {
			delete(d, k)
		} else {
			d[k] = v
		}
	}
	b, _ := json.Marshal(d)
	return string(b)
}

func (s *stack) putDeal(tenant, dealID string, kv map[string]any) reply {
	s.t.Helper()
	return s.do(call{fn: "admin", route: "PUT /v1/admin/deals/{dealId}", params: map[string]string{"dealId": dealID},
		as: admin(tenant), body: dealBody(kv)})
}

func (s *stack) deal(tenant, dealID string, kv map[string]any) {
	s.t.Helper()
	r := s.putDeal(tenant, dealID, kv)
	require.Equal(s.t, 200, r.Status, r.Body)
}

func (s *stack) open(as who, dealID string) reply {
	return s.do(call{fn: "groupbuy", route: "POST /v1/groups", as: as, body: fmt.Sprintf(`{"dealId":%q}`, dealID)})
}

// opened opens a room and returns its id.
func (s *stack) opened(as who, dealID string) string {
	s.t.Helper()
	r := s.open(as, dealID)
	require.Equal(s.t, 201, r.Status, r.Body)
	return r.JSON(s.t)["groupId"].(string)
}

func (s *stack) join(as who, groupID string) reply {
	return s.do(call{fn: "groupbuy", route: "POST /v1/groups/{groupId}/join", as: as, params: map[string]string{"groupId": groupID}})
}

func (s *stack) status(groupID string) map[string]any {
	s.t.Helper()
	r := s.do(call{fn: "groupbuy", route: "GET /v1/groups/{groupId}", params: map[string]string{"groupId": groupID}})
	require.Equal(s.t, 200, r.Status, r.Body)
	return r.JSON(s.t)
}

// scan reads every item of the table; tests only, to check what the API
// wrote.
func (s *stack) scan() []map[string]types.AttributeValue {
	s.t.Helper()
	var items []map[string]types.AttributeValue
	p := dynamodb.NewScanPaginator(s.db.Client, &dynamodb.ScanInput{TableName: aws.String(s.db.Table)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(s.t, err)
		items = append(items, page.Items...)
	}
	return items
}

// events returns the event items of the given types, oldest first.
func (s *stack) events(types ...event.Type) []event.Event {
	s.t.Helper()
	want := map[event.Type]bool{}
	for _, t := range types {
		want[t] = true
	}
	var out []event.Event
	for _, item := range s.scan() {
		if k, ok := item["kind"].(*typesS); !ok || k.Value != "event" {
			continue
		}
		var e event.Event
		require.NoError(s.t, attributevalue.UnmarshalMap(item, &e))
		if want[e.Type] {
			out = append(out, e)
		}
	}
	sortEvents(out)
	return out
}

type typesS = types.AttributeValueMemberS

func sortEvents(es []event.Event) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].ID < es[j-1].ID; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

// seatShards returns each shard's cap and taken of a deal.
func (s *stack) seatShards(tenant, dealID string) (caps, taken []int) {
	s.t.Helper()
	for n := 0; n < groupbuy.MaxSeatShards; n++ {
		out, err := s.db.Client.GetItem(context.Background(), &dynamodb.GetItemInput{
			TableName: aws.String(s.db.Table),
			Key: map[string]types.AttributeValue{
				"pk": &typesS{Value: fmt.Sprintf("SEAT#%s#%s#%d", tenant, dealID, n)},
				"sk": &typesS{Value: "_"},
			},
			ConsistentRead: aws.Bool(true),
		})
		require.NoError(s.t, err)
		if out.Item == nil {
			break
		}
		var sh struct {
			Cap   int `dynamodbav:"cap"`
			Taken int `dynamodbav:"taken"`
		}
		require.NoError(s.t, attributevalue.UnmarshalMap(out.Item, &sh))
		caps, taken = append(caps, sh.Cap), append(taken, sh.Taken)
	}
	return caps, taken
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// react handles events as the hooks function does with a batch, times
// times (the stream delivers at least once): remaining rolled up, then the
// group-buy's built-in reactions to each event.
func (s *stack) react(times int, es ...event.Event) {
	s.t.Helper()
	reactions := stream.GroupReactions(s.deps)
	for i := 0; i < times; i++ {
		require.NoError(s.t, s.deps.Groups().RefreshRemaining(context.Background(), time.Now(), es...))
		for _, e := range es {
			if f := reactions[e.Type]; f != nil {
				require.NoError(s.t, f(context.Background(), e))
			}
		}
	}
}

func TestDealValidation(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.putTemplate("clinic-a", "tpl-1", map[string]any{"kind": "VOUCHER", "claimable": false})
	tests := []struct {
		name  string
		kv    map[string]any
		field string // named in the message; "" for a valid deal, "-" for a 400 naming none
	}{
		{"valid", nil, ""},
		{"valid with every optional field", map[string]any{"leaderPriceFen": 999900, "minSize": 2, "startsAt": "2026-01-01T00:00:00Z",
			"endsAt": "2027-01-01T00:00:00Z", "voucherTemplateId": "tpl-1", "stock": 0}, ""},
		{"no title", map[string]any{"title": nil}, "title"},
		{"empty title", map[string]any{"title": ""}, "title"},
		{"long title", map[string]any{"title": strings.Repeat("长", 101)}, "title"},
		{"no sku", map[string]any{"sku": nil}, "sku"},
		{"no price", map[string]any{"priceFen": nil}, "priceFen"},
		{"negative price", map[string]any{"priceFen": -1}, "priceFen"},
		{"price as text", map[string]any{"priceFen": "199"}, "priceFen"},
		{"no group price", map[string]any{"groupPriceFen": nil}, "groupPriceFen"},
		{"group price above price", map[string]any{"groupPriceFen": 2000000}, "groupPriceFen"},
		{"leader price above price", map[string]any{"leaderPriceFen": 2000000}, "leaderPriceFen"},
		{"negative leader price", map[string]any{"leaderPriceFen": -5}, "leaderPriceFen"},
		{"no group size", map[string]any{"groupSize": nil}, "groupSize"},
		{"group of one", map[string]any{"groupSize": 1}, "groupSize"},
		{"crowd", map[string]any{"groupSize": 21}, "groupSize"},
		{"fractional size", map[string]any{"groupSize": 2.5}, "groupSize"},
		{"min size above size", map[string]any{"groupSize": 3, "minSize": 4}, "minSize"},
		{"min size of one", map[string]any{"groupSize": 3, "minSize": 1}, "minSize"},
		{"no ttl", map[string]any{"ttlSeconds": nil}, "ttlSeconds"},
		{"ttl too short", map[string]any{"ttlSeconds": 59}, "ttlSeconds"},
		{"ttl too long", map[string]any{"ttlSeconds": 604801}, "ttlSeconds"},
		{"no stock", map[string]any{"stock": nil}, "stock"},
		{"negative stock", map[string]any{"stock": -1}, "stock"},
		{"huge stock", map[string]any{"stock": 1000001}, "stock"},
		{"no per-user limit", map[string]any{"perUserLimit": nil}, "perUserLimit"},
		{"zero per-user limit", map[string]any{"perUserLimit": 0}, "perUserLimit"},
		{"no newcomersOnly", map[string]any{"newcomersOnly": nil}, "newcomersOnly"},
		{"newcomersOnly as text", map[string]any{"newcomersOnly": "yes"}, "newcomersOnly"},
		{"ends before it starts", map[string]any{"startsAt": "2026-02-01T00:00:00Z", "endsAt": "2026-01-01T00:00:00Z"}, "endsAt"},
		{"bad start", map[string]any{"startsAt": "tomorrow"}, "-"},
		{"bad voucher template", map[string]any{"voucherTemplateId": "no spaces allowed"}, "voucherTemplateId"},
		{"unknown field", map[string]any{"colour": "red"}, "colour"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.putDeal("clinic-a", "deal-1", tt.kv)
			if tt.field == "" {
				require.Equal(t, 200, r.Status, r.Body)
				return
			}
			require.Equal(t, 400, r.Status, r.Body)
			require.Equal(t, "BAD_REQUEST", r.Code(t))
			if tt.field == "-" {
				return
			}
			require.Contains(t, r.JSON(t)["error"].(map[string]any)["message"], tt.field)
		})
	}

	t.Run("bad deal id", func(t *testing.T) {
		r := s.putDeal("clinic-a", "has space", nil)
		require.Equal(t, 400, r.Status, r.Body)
	})
	t.Run("admins only", func(t *testing.T) {
		for _, as := range []who{patient("clinic-a", "p"), staff("clinic-a", "s")} {
			r := s.do(call{fn: "admin", route: "PUT /v1/admin/deals/{dealId}", params: map[string]string{"dealId": "deal-1"}, as: as, body: dealBody(nil)})
			require.Equal(t, 403, r.Status, r.Body)
		}
	})
}

// A deal's voucher template must be one of the clinic's templates when the
// deal is saved, not only when a room succeeds: an unknown one is 404
// TEMPLATE_NOT_FOUND, and nothing is written.
func TestDealVoucherTemplateMustExist(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.putTemplate("clinic-a", "tpl-ours", map[string]any{"kind": "VOUCHER", "claimable": false})
	s.putTemplate("clinic-b", "tpl-theirs", map[string]any{"kind": "VOUCHER", "claimable": false})
	tests := []struct {
		name     string
		template string
		status   int
		errc     string
	}{
		{"unknown template", "tpl-nope", 404, "TEMPLATE_NOT_FOUND"},
		{"another clinic's template", "tpl-theirs", 404, "TEMPLATE_NOT_FOUND"},
		{"the clinic's own template", "tpl-ours", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dealID := "deal-" + tt.template
			r := s.putDeal("clinic-a", dealID, map[string]any{"voucherTemplateId": tt.template})
			require.Equal(t, tt.status, r.Status, r.Body)
			require.LessOrEqual(t, r.Calls.Reads(), 1, "the template is read with the deal: %v", r.Calls.Ops())
			got := s.do(call{fn: "groupbuy", route: "GET /v1/deals/{dealId}", params: map[string]string{"dealId": dealID}, query: map[string]string{"tenant": "clinic-a"}})
			if tt.errc == "" {
				require.Equal(t, 1, r.Calls.Writes(), "%v", r.Calls.Ops())
				require.Equal(t, 200, got.Status, got.Body)
				require.Equal(t, tt.template, got.JSON(t)["voucherTemplateId"])
				return
			}
			require.Equal(t, tt.errc, r.Code(t))
			require.Contains(t, r.JSON(t)["error"].(map[string]any)["message"], "voucherTemplateId")
			require.Zero(t, r.Calls.Writes(), "nothing written: %v", r.Calls.Ops())
			require.Equal(t, 404, got.Status, "no deal saved: %s", got.Body)
		})
	}

	t.Run("a replace keeps the rule", func(t *testing.T) {
		r := s.putDeal("clinic-a", "deal-tpl-ours", map[string]any{"voucherTemplateId": "tpl-nope", "title": "changed"})
		require.Equal(t, 404, r.Status, r.Body)
		got := s.do(call{fn: "groupbuy", route: "GET /v1/deals/{dealId}", params: map[string]string{"dealId": "deal-tpl-ours"}, query: map[string]string{"tenant": "clinic-a"}})
		require.Equal(t, 200, got.Status, got.Body)
		require.Equal(t, "tpl-ours", got.JSON(t)["voucherTemplateId"], "the saved deal is unchanged")
	})
}

func TestDealRoutes(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	clock := s.withClock()
	now := clock.Now()
	s.putTemplate("clinic-a", "tpl-v", map[string]any{"kind": "VOUCHER", "claimable": false})
	s.deal("clinic-a", "thermage", map[string]any{"leaderPriceFen": 999900, "minSize": 2, "groupSize": 3, "voucherTemplateId": "tpl-v"})
	s.deal("clinic-a", "later", map[string]any{"startsAt": now.Add(time.Hour).Format(time.RFC3339)})
	s.deal("clinic-a", "over", map[string]any{"endsAt": now.Add(-time.Hour).Format(time.RFC3339), "startsAt": now.Add(-2 * time.Hour).Format(time.RFC3339)})
	s.deal("clinic-b", "b-deal", nil)

	list := s.do(call{fn: "groupbuy", route: "GET /v1/deals", query: map[string]string{"tenant": "clinic-a"}})
	require.Equal(t, 200, list.Status, list.Body)
	deals := list.JSON(t)["deals"].([]any)
	require.Len(t, deals, 1, "only the deal open now")
	d := deals[0].(map[string]any)
	require.Equal(t, "thermage", d["dealId"])
	require.Equal(t, 100.0, d["remaining"])
	require.Equal(t, 999900.0, d["leaderPriceFen"])
	require.Equal(t, 2.0, d["minSize"])
	require.Equal(t, true, d["active"])

	one := s.do(call{fn: "groupbuy", route: "GET /v1/deals/{dealId}", params: map[string]string{"dealId": "thermage"}, query: map[string]string{"tenant": "clinic-a"}})
	require.Equal(t, 200, one.Status, one.Body)
	require.Equal(t, "tpl-v", one.JSON(t)["voucherTemplateId"])

	over := s.do(call{fn: "groupbuy", route: "GET /v1/deals/{dealId}", params: map[string]string{"dealId": "over"}, query: map[string]string{"tenant": "clinic-a"}})
	require.Equal(t, 200, over.Status, "an ended deal still opens from an old link")
	require.Equal(t, false, over.JSON(t)["active"])

	tests := []struct {
		name   string
		dealID string
		query  map[string]string
		status int
		code   string
	}{
		{"another tenant's deal", "b-deal", map[string]string{"tenant": "clinic-a"}, 404, "DEAL_NOT_FOUND"},
		{"unknown deal", "nope", map[string]string{"tenant": "clinic-a"}, 404, "DEAL_NOT_FOUND"},
		{"no tenant", "thermage", nil, 400, "BAD_REQUEST"},
		{"bad tenant", "thermage", map[string]string{"tenant": "a b"}, 400, "BAD_REQUEST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(call{fn: "groupbuy", route: "GET /v1/deals/{dealId}", params: map[string]string{"dealId": tt.dealID}, query: tt.query})
			require.Equal(t, tt.status, r.Status, r.Body)
			require.Equal(t, tt.code, r.Code(t))
		})
	}
	t.Run("list needs a tenant", func(t *testing.T) {
		r := s.do(call{fn: "groupbuy", route: "GET /v1/deals"})
		require.Equal(t, 400, r.Status, r.Body)
	})
}

func TestOpenRoom(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	clock := s.withClock()
	s.deal("clinic-a", "duo", map[string]any{"groupSize": 2, "ttlSeconds": 600})
	alice := patient("clinic-a", "alice")

	r := s.open(alice, "duo")
	require.Equal(t, 201, r.Status, r.Body)
	body := r.JSON(t)
	id := body["groupId"].(string)
	require.Regexp(t, `^[2-9A-HJKMNP-Z]{12}$`, id)
	require.Equal(t, "duo", body["dealId"])
	require.Equal(t, "OPEN", body["status"])
	require.Equal(t, 2.0, body["size"])
	require.Equal(t, 1.0, body["joined"])
	require.Equal(t, clock.Now().Add(600*time.Second).Format(time.RFC3339), body["expiresAt"])
	require.Equal(t, "g="+id, body["scene"])
	require.Regexp(t, wechatScene, body["scene"])
	require.Equal(t, "/pages/landing/index?g="+id, body["miniProgramPath"])
	require.Equal(t, "https://h5.example.com/s?g="+id+"&t=clinic-a", body["shareUrl"])

	opened := s.events(event.GroupOpened)
	require.Len(t, opened, 1)
	require.Equal(t, "clinic-a", opened[0].Tenant)
	require.Equal(t, map[string]any{
		"groupId": id, "dealId": "duo", "leaderId": "alice",
		"dealTitle": opened[0].Data["dealTitle"], "size": 2.0, "joined": 1.0, "status": "OPEN",
	}, opened[0].Data)
	require.NotEmpty(t, opened[0].Data["dealTitle"])
}

func TestOpenAndJoinErrors(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	clock := s.withClock()
	now := clock.Now()
	s.deal("clinic-a", "trio", map[string]any{"groupSize": 3, "perUserLimit": 1})
	s.deal("clinic-a", "newcomers", map[string]any{"groupSize": 3, "newcomersOnly": true})
	s.deal("clinic-a", "twice", map[string]any{"groupSize": 3, "perUserLimit": 2})
	s.deal("clinic-a", "later", map[string]any{"startsAt": now.Add(time.Hour).Format(time.RFC3339)})
	s.deal("clinic-a", "empty", map[string]any{"stock": 0})
	s.deal("clinic-b", "b-deal", nil)

	leader := patient("clinic-a", "leader")
	trio := s.opened(leader, "trio")
	s.markPatient("clinic-a", "returning")
	returning := patient("clinic-a", "returning")
	// The leader of a newcomers-only room may be anyone.
	newcomersRoom := s.opened(returning, "newcomers")
	bRoom := s.opened(patient("clinic-b", "bob"), "b-deal")
	member := patient("clinic-a", "member")
	require.Equal(t, 200, s.join(member, trio).Status)
	twiceA := s.opened(patient("clinic-a", "x1"), "twice")
	twiceB := s.opened(patient("clinic-a", "x2"), "twice")
	twiceC := s.opened(patient("clinic-a", "x3"), "twice")
	hopper := patient("clinic-a", "hopper")
	require.Equal(t, 200, s.join(hopper, twiceA).Status)
	require.Equal(t, 200, s.join(hopper, twiceB).Status)

	opens := []struct {
		name   string
		as     who
		dealID string
		status int
		code   string
	}{
		{"unknown deal", leader, "nope", 404, "DEAL_NOT_FOUND"},
		{"another tenant's deal", leader, "b-deal", 404, "DEAL_NOT_FOUND"},
		{"not started", leader, "later", 409, "DEAL_NOT_ACTIVE"},
		{"no stock", leader, "empty", 409, "SOLD_OUT"},
		{"a second open room", leader, "trio", 409, "LIMIT_REACHED"},
		{"limit reached by joining", member, "trio", 409, "LIMIT_REACHED"},
		{"missing deal id", leader, "", 400, "BAD_REQUEST"},
	}
	for _, tt := range opens {
		t.Run("open/"+tt.name, func(t *testing.T) {
			r := s.open(tt.as, tt.dealID)
			require.Equal(t, tt.status, r.Status, r.Body)
			require.Equal(t, tt.code, r.Code(t))
		})
	}

	joins := []struct {
		name    string
		as      who
		groupID string
		status  int
		code    string
	}{
		{"unknown room", member, "ZZZZZZZZZZZZ", 404, "GROUP_NOT_FOUND"},
		{"malformed room id", member, "not-a-room!", 404, "GROUP_NOT_FOUND"},
		{"another tenant's room", member, bRoom, 404, "GROUP_NOT_FOUND"},
		{"again", member, trio, 409, "ALREADY_MEMBER"},
		{"own room", leader, trio, 409, "ALREADY_MEMBER"},
		{"lower case id", member, strings.ToLower(trio), 409, "ALREADY_MEMBER"},
		{"returning patient, newcomers only", patient("clinic-a", "returning-2"), newcomersRoom, 422, "NOT_A_NEW_PATIENT"},
		{"per-user limit", hopper, twiceC, 409, "LIMIT_REACHED"},
		{"newcomer", patient("clinic-a", "fresh"), newcomersRoom, 200, ""},
	}
	s.markPatient("clinic-a", "returning-2")
	for _, tt := range joins {
		t.Run("join/"+tt.name, func(t *testing.T) {
			r := s.join(tt.as, tt.groupID)
			require.Equal(t, tt.status, r.Status, r.Body)
			if tt.code != "" {
				require.Equal(t, tt.code, r.Code(t))
			}
		})
	}

	t.Run("join/full", func(t *testing.T) {
		require.Equal(t, 200, s.join(patient("clinic-a", "third"), trio).Status)
		r := s.join(patient("clinic-a", "fourth"), trio)
		require.Equal(t, 409, r.Status, r.Body)
		require.Equal(t, "GROUP_FULL", r.Code(t))
	})
	t.Run("open again once the room succeeded", func(t *testing.T) {
		s.deal("clinic-a", "trio", map[string]any{"groupSize": 3, "perUserLimit": 2})
		require.Equal(t, 201, s.open(leader, "trio").Status)
	})
	t.Run("join/expired before the closer ran", func(t *testing.T) {
		room := s.opened(patient("clinic-a", "late-leader"), "twice")
		clock.Advance(3601 * time.Second)
		r := s.join(patient("clinic-a", "late"), room)
		require.Equal(t, 409, r.Status, r.Body)
		require.Equal(t, "GROUP_CLOSED", r.Code(t))
		require.Equal(t, "CLOSING", s.status(room)["status"])
	})
}

func TestGroupStatus(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	clock := s.withClock()
	s.deal("clinic-a", "trio", map[string]any{"groupSize": 3, "ttlSeconds": 600, "leaderPriceFen": 999900})
	leader := patient("clinic-a", "u-leader")
	leader["name"] = "王小美"
	leader["phone_number"] = "+8613800138000"
	id := s.opened(leader, "trio")
	joiner := patient("clinic-a", "u-joiner")
	joiner["name"] = "Lily"
	require.Equal(t, 200, s.join(joiner, id).Status)
	clock.Advance(100*time.Second + 500*time.Millisecond)

	r := s.do(call{fn: "groupbuy", route: "GET /v1/groups/{groupId}", params: map[string]string{"groupId": id}})
	require.Equal(t, 200, r.Status, r.Body)
	body := r.JSON(t)
	require.Equal(t, "OPEN", body["status"])
	require.Equal(t, 3.0, body["size"])
	require.Equal(t, 2.0, body["joined"])
	require.Equal(t, 500.0, body["secondsLeft"])
	require.Equal(t, []any{
		map[string]any{"displayName": "王**", "leader": true},
		map[string]any{"displayName": "L***", "leader": false},
	}, body["members"])
	for _, secret := range []string{"u-leader", "u-joiner", "999900", "1299900", "138", "王小美", "Lily", "phone", "price"} {
		require.NotContains(t, r.Body, secret, "nothing of a member but a masked name")
	}

	clock.Advance(500 * time.Second)
	body = s.status(id)
	require.Equal(t, "CLOSING", body["status"], "expired, not yet settled: never shown OPEN")
	require.Equal(t, 0.0, body["secondsLeft"])

	missing := s.do(call{fn: "groupbuy", route: "GET /v1/groups/{groupId}", params: map[string]string{"groupId": "ZZZZZZZZZZZZ"}})
	require.Equal(t, 404, missing.Status)
	require.Equal(t, "GROUP_NOT_FOUND", missing.Code(t))
}

// The group answers' bytes are the contract: clients read these names,
// and a keyed retry replays a stored answer. A room's members are shown by
// masked name only; a room with none shows [], and no clinic profile null.
func TestGroupViewsJSON(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	room := groupbuy.Room{
		GroupID: "G", Tenant: "t", DealID: "d", DealTitle: "闺蜜卡", Status: groupbuy.Open,
		Size: 3, MinSize: 2, Joined: 2, ExpiresAt: at.Add(90 * time.Second), GroupPriceFen: 8000,
		Members: []groupbuy.Member{
			{UserID: "a", Name: "张*", Leader: true, PriceFen: 5000, PhoneHash: "h", Req: "k"},
			{UserID: "b", Name: "L***", PriceFen: 8000},
		},
	}
	link := share.Link{Scene: "g=G", MiniProgramPath: "/pages/landing/index?scene=g%3DG", ShareURL: "https://h5.example/s/g/G"}
	tests := []viewCase{
		{"opened", viewOpened(groupbuy.Opened{GroupID: "G", DealID: "d", Status: groupbuy.Open, Size: 3, Joined: 1, ExpiresAt: room.ExpiresAt, Link: link}),
			`{"groupId":"G","dealId":"d","status":"OPEN","size":3,"joined":1,"expiresAt":"2026-03-01T10:01:30Z",` +
				`"scene":"g=G","miniProgramPath":"/pages/landing/index?scene=g%3DG","shareUrl":"https://h5.example/s/g/G"}`},
		{"joined", viewJoined(groupbuy.Joined{GroupID: "G", Status: groupbuy.Succeeded, Joined: 3, Size: 3}),
			`{"groupId":"G","status":"SUCCEEDED","joined":3,"size":3}`},
		{"room", viewRoom(groupbuy.RoomPage{Room: room}, at),
			`{"groupId":"G","tenant":"t","dealId":"d","dealTitle":"闺蜜卡","status":"OPEN","size":3,"joined":2,` +
				`"expiresAt":"2026-03-01T10:01:30Z","secondsLeft":90,` +
				`"members":[{"displayName":"张*","leader":true},{"displayName":"L***","leader":false}],"clinic":null}`},
		{"room expired, no members, with its clinic", viewRoom(groupbuy.RoomPage{
			Room:   groupbuy.Room{GroupID: "G", Status: groupbuy.Open, ExpiresAt: at},
			Clinic: &tenant.Clinic{Name: "美好口腔"},
		}, at),
			`{"groupId":"G","tenant":"","dealId":"","dealTitle":"","status":"CLOSING","size":0,"joined":0,` +
				`"expiresAt":"2026-03-01T10:00:00Z","secondsLeft":0,"members":[],"clinic":{"name":"美好口腔"}}`},
	}
	requireViewBytes(t, tests)
	require.Equal(t, []memberView{{DisplayName: "张*", Leader: true}, {DisplayName: "L***"}},
		viewRoom(groupbuy.RoomPage{Room: room}, at).Members)
}

// 60 distinct users join one 3-seat room at once: the room takes exactly
// two and succeeds once; every other joiner is told it is full.
func TestSixtyJoinOneRoom(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.putTemplate("clinic-a", "tpl-voucher", map[string]any{"kind": "VOUCHER", "valueFen": 1999900, "claimable": false, "stock": 0})
	s.deal("clinic-a", "trio", map[string]any{"groupSize": 3, "stock": 1000, "voucherTemplateId": "tpl-voucher", "leaderPriceFen": 999900})
	id := s.opened(patient("clinic-a", "leader"), "trio")

	replies := s.concurrently(60, func(i int) call {
		return call{fn: "groupbuy", route: "POST /v1/groups/{groupId}/join", as: patient("clinic-a", fmt.Sprintf("friend-%02d", i)),
			params: map[string]string{"groupId": id}}
	})
	require.Equal(t, map[int]int{200: 2, 409: 58}, statuses(replies))
	var in []string
	for i, r := range replies {
		if r.Status == 409 {
			require.Equal(t, "GROUP_FULL", r.Code(t))
			continue
		}
		in = append(in, fmt.Sprintf("friend-%02d", i))
	}
	room := s.status(id)
	require.Equal(t, "SUCCEEDED", room["status"])
	require.Equal(t, 3.0, room["joined"])
	require.Len(t, room["members"], 3)

	succeeded := s.events(event.GroupSucceeded)
	require.Len(t, succeeded, 1, "the room succeeded once")
	require.Len(t, s.events(event.GroupJoined), 2)
	data := succeeded[0].Data
	require.Equal(t, id, data["groupId"])
	require.Equal(t, "trio", data["dealId"])
	require.Equal(t, "tpl-voucher", data["voucherTemplateId"])
	members := map[string]float64{}
	for _, m := range data["members"].([]any) {
		m := m.(map[string]any)
		members[m["userId"].(string)] = toFloat(m["priceFen"])
		require.Equal(t, m["userId"] == "leader", m["leader"])
	}
	require.Equal(t, map[string]float64{"leader": 999900, in[0]: 1299900, in[1]: 1299900}, members)

	_, taken := s.seatShards("clinic-a", "trio")
	require.Equal(t, 3, sum(taken), "three seats held")

	// Every member gets one voucher at their price, through the hooks,
	// however often the stream delivers; nobody else gets one.
	drainHooks(t, s)
	redelivered, err := stream.Hooks(s.deps)(context.Background(), lambdaEvents(s.streamedEvents(event.GroupSucceeded)))
	require.NoError(t, err)
	require.Empty(t, redelivered.BatchItemFailures)
	for user, price := range members {
		mine := s.myCoupons(patient("clinic-a", user))
		require.Len(t, mine, 1, user)
		require.Equal(t, "tpl-voucher", mine[0]["templateId"])
		require.Equal(t, "group", mine[0]["source"])
		require.Equal(t, price, mine[0]["priceFen"], "the member's price")
	}
	require.Len(t, s.couponItems("tpl-voucher"), 3, "3 vouchers in total")
	require.Empty(t, s.myCoupons(patient("clinic-a", "friend-99")))

	// The two friends, newcomers with no referrer, are now the leader's
	// referrals.
	me := s.do(call{fn: "referral", route: "GET /v1/referral/me", as: patient("clinic-a", "leader")})
	require.Equal(t, 200, me.Status, me.Body)
	require.Equal(t, map[string]any{"bound": 2.0, "qualified": 0.0, "rewarded": 0.0}, me.JSON(t)["counts"])

	// And remaining has caught up with the three seats.
	s.deps.Groups().Deals.Forget("clinic-a/trio")
	d := s.do(call{fn: "groupbuy", route: "GET /v1/deals/{dealId}", params: map[string]string{"dealId": "trio"}, query: map[string]string{"tenant": "clinic-a"}})
	require.Equal(t, 997.0, d.JSON(t)["remaining"])
}

func toFloat(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case int64:
		return float64(n)
	case int:
		return float64(n)
	case json.Number:
		f, _ := n.Float64()
		return f
	}
	return -1
}

func lambdaEvents(records []events.DynamoDBEventRecord) events.DynamoDBEvent {
	return events.DynamoDBEvent{Records: records}
}

// One user sending 20 joins at once gets in once.
func TestOneUserTwentyJoins(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.deal("clinic-a", "big", map[string]any{"groupSize": 5, "perUserLimit": 5})
	id := s.opened(patient("clinic-a", "leader"), "big")
	eager := patient("clinic-a", "eager")
	replies := s.concurrently(20, func(int) call {
		return call{fn: "groupbuy", route: "POST /v1/groups/{groupId}/join", as: eager, params: map[string]string{"groupId": id}}
	})
	require.Equal(t, map[int]int{200: 1, 409: 19}, statuses(replies))
	for _, r := range replies {
		if r.Status == 409 {
			require.Equal(t, "ALREADY_MEMBER", r.Code(t))
		}
	}
	require.Equal(t, 2.0, s.status(id)["joined"])
	_, taken := s.seatShards("clinic-a", "big")
	require.Equal(t, 2, sum(taken), "one seat for the one join")
}

// 10 opens at once on a deal with 4 seats: 4 rooms, 6 sold out, no shard
// below zero.
func TestTenOpensFourSeats(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.deal("clinic-a", "scarce", map[string]any{"stock": 4})
	replies := s.concurrently(10, func(i int) call {
		return call{fn: "groupbuy", route: "POST /v1/groups", as: patient("clinic-a", fmt.Sprintf("p%d", i)), body: `{"dealId":"scarce"}`}
	})
	require.Equal(t, map[int]int{201: 4, 409: 6}, statuses(replies))
	for _, r := range replies {
		if r.Status == 409 {
			require.Equal(t, "SOLD_OUT", r.Code(t))
		}
	}
	caps, taken := s.seatShards("clinic-a", "scarce")
	require.Equal(t, []int{4}, caps)
	require.Equal(t, []int{4}, taken)
	require.Len(t, s.events(event.GroupOpened), 4)
}

// Seats spread over shards: many opens at once on a sharded deal never take
// more than the stock, and sell it all.
func TestShardedStockSellsOutExactly(t *testing.T) {
	t.Parallel()
	// No stream read, many items written.
	s := newStack(t, ddbtest.WithoutStream())
	s.deal("clinic-a", "sharded", map[string]any{"stock": 70}) // 2 shards
	caps, _ := s.seatShards("clinic-a", "sharded")
	require.Equal(t, []int{35, 35}, caps)
	replies := s.concurrently(90, func(i int) call {
		return call{fn: "groupbuy", route: "POST /v1/groups", as: patient("clinic-a", fmt.Sprintf("p%03d", i)), body: `{"dealId":"sharded"}`}
	})
	require.Equal(t, map[int]int{201: 70, 409: 20}, statuses(replies))
	caps, taken := s.seatShards("clinic-a", "sharded")
	require.Equal(t, caps, taken, "every shard sold out, none past its cap")
}

// Cutting a deal's stock never lets out more seats than the new stock.
func TestStockChange(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.deal("clinic-a", "d", map[string]any{"stock": 3})
	for i := 0; i < 2; i++ {
		s.opened(patient("clinic-a", fmt.Sprintf("p%d", i)), "d")
	}
	s.deal("clinic-a", "d", map[string]any{"stock": 2})
	r := s.open(patient("clinic-a", "p9"), "d")
	require.Equal(t, 409, r.Status, r.Body)
	require.Equal(t, "SOLD_OUT", r.Code(t))

	s.deal("clinic-a", "d", map[string]any{"stock": 200}) // 4 shards now
	caps, taken := s.seatShards("clinic-a", "d")
	require.Len(t, caps, 4)
	require.Equal(t, 200, sum(caps))
	require.Equal(t, 2, sum(taken))
	require.Equal(t, 201, s.open(patient("clinic-a", "p9"), "d").Status)
}

// remaining is rolled up from the seat shards as the stream delivers the
// events, and counts each seat once however often they are delivered.
func TestRemainingSeats(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.deal("clinic-a", "trio", map[string]any{"groupSize": 3, "stock": 10})
	id := s.opened(patient("clinic-a", "leader"), "trio")
	require.Equal(t, 200, s.join(patient("clinic-a", "friend"), id).Status)
	s.opened(patient("clinic-a", "other"), "trio")

	remaining := func() float64 {
		s.deps.Groups().Deals.Forget("clinic-a/trio")
		r := s.do(call{fn: "groupbuy", route: "GET /v1/deals/{dealId}", params: map[string]string{"dealId": "trio"}, query: map[string]string{"tenant": "clinic-a"}})
		require.Equal(t, 200, r.Status, r.Body)
		return r.JSON(t)["remaining"].(float64)
	}
	require.Equal(t, 10.0, remaining(), "not counted until the stream delivers")
	s.react(3, s.events(event.GroupOpened, event.GroupJoined)...)
	require.Equal(t, 7.0, remaining())
}

// A joiner with no referrer is bound to the room's leader, as through the
// leader's code; a redelivered event changes nothing; the rules of a code
// bind hold.
func TestJoinBindsReferral(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.deal("clinic-a", "big", map[string]any{"groupSize": 6})
	leader := patient("clinic-a", "leader")
	id := s.opened(leader, "big")

	s.markPatient("clinic-a", "returning")
	boundElsewhere := patient("clinic-a", "bound-elsewhere")
	require.Equal(t, 200, s.bind(boundElsewhere, s.codeOf(patient("clinic-a", "someone"))).Status)
	for _, as := range []who{patient("clinic-a", "newbie"), patient("clinic-a", "returning"), boundElsewhere, staff("clinic-a", "desk")} {
		require.Equal(t, 200, s.join(as, id).Status)
	}
	s.react(2, s.events(event.GroupJoined)...)

	bound := s.events(event.ReferralBound)
	var viaGroup []event.Event
	for _, e := range bound {
		if e.Data["channel"] == "group" {
			viaGroup = append(viaGroup, e)
		}
	}
	require.Len(t, viaGroup, 1, "only the newcomer, once")
	require.Equal(t, "newbie", viaGroup[0].Data["refereeId"])
	require.Equal(t, "leader", viaGroup[0].Data["referrerId"])
	require.Equal(t, id, viaGroup[0].Data["groupId"])

	me := s.do(call{fn: "referral", route: "GET /v1/referral/me", as: leader})
	require.Equal(t, 200, me.Status)
	refs := me.JSON(t)["referrals"].([]any)
	require.Len(t, refs, 1)
	require.Equal(t, "张***", refs[0].(map[string]any)["displayName"])

	// The newcomer is now bound: their own code bind elsewhere is refused.
	r := s.bind(patient("clinic-a", "newbie"), s.codeOf(patient("clinic-a", "someone-else")))
	require.Equal(t, 409, r.Status)
	require.Equal(t, "ALREADY_BOUND", r.Code(t))
}

// Each user-facing write is one write call and at most one read; each read
// route one read (docs/DESIGN.md, data rules).
func TestGroupBuyCallBudget(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.deal("clinic-a", "trio", map[string]any{"groupSize": 3, "stock": 1000})
	s.deal("clinic-a", "solo", map[string]any{"groupSize": 2})
	s.deps.Groups().Deals.Forget("clinic-a/trio")
	var room string
	roomOf := func() map[string]string { return map[string]string{"groupId": room} }
	tests := []struct {
		name          string
		c             func() call
		reads, writes int
	}{
		{"open (cold deal)", func() call {
			return call{fn: "groupbuy", route: "POST /v1/groups", as: patient("clinic-a", "leader"), body: `{"dealId":"trio"}`}
		}, 1, 1},
		{"open (warm deal)", func() call {
			return call{fn: "groupbuy", route: "POST /v1/groups", as: patient("clinic-a", "leader-2"), body: `{"dealId":"trio"}`}
		}, 0, 1},
		{"join", func() call {
			return call{fn: "groupbuy", route: "POST /v1/groups/{groupId}/join", as: patient("clinic-a", "j1"), params: roomOf()}
		}, 1, 1},
		{"filling join", func() call {
			return call{fn: "groupbuy", route: "POST /v1/groups/{groupId}/join", as: patient("clinic-a", "j2"), params: roomOf()}
		}, 1, 1},
		{"join a full room", func() call {
			return call{fn: "groupbuy", route: "POST /v1/groups/{groupId}/join", as: patient("clinic-a", "j3"), params: roomOf()}
		}, 1, 0},
		{"status", func() call {
			s.deps.Settings.Get(context.Background(), "clinic-a") // the clinic's profile is cached config
			return call{fn: "groupbuy", route: "GET /v1/groups/{groupId}", params: roomOf()}
		}, 1, 0},
		{"deal", func() call {
			s.deps.Groups().Deals.Forget("clinic-a/trio")
			return call{fn: "groupbuy", route: "GET /v1/deals/{dealId}", params: map[string]string{"dealId": "trio"}, query: map[string]string{"tenant": "clinic-a"}}
		}, 1, 0},
		{"deals", func() call {
			return call{fn: "groupbuy", route: "GET /v1/deals", query: map[string]string{"tenant": "clinic-a"}}
		}, 1, 0},
		{"put deal", func() call {
			return call{fn: "admin", route: "PUT /v1/admin/deals/{dealId}", params: map[string]string{"dealId": "solo"}, as: admin("clinic-a"), body: dealBody(nil)}
		}, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(tt.c())
			require.Less(t, r.Status, 500, r.Body)
			if room == "" {
				room, _ = r.JSON(t)["groupId"].(string)
			}
			require.Equal(t, tt.reads, r.Calls.Reads(), "reads: %v", r.Calls.Ops())
			require.Equal(t, tt.writes, r.Calls.Writes(), "writes: %v", r.Calls.Ops())
		})
	}
}

// A retried open or join with the same Idempotency-Key answers the first
// response and does the work once.
func TestGroupBuyIdempotency(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.deal("clinic-a", "trio", map[string]any{"groupSize": 3})
	alice := patient("clinic-a", "alice")
	key := map[string]string{"Idempotency-Key": "open-1"}
	first := s.do(call{fn: "groupbuy", route: "POST /v1/groups", as: alice, headers: key, body: `{"dealId":"trio"}`})
	require.Equal(t, 201, first.Status, first.Body)
	again := s.do(call{fn: "groupbuy", route: "POST /v1/groups", as: alice, headers: key, body: `{"dealId":"trio"}`})
	require.Equal(t, first.Status, again.Status)
	require.Equal(t, first.Body, again.Body)
	require.Len(t, s.events(event.GroupOpened), 1)

	id := first.JSON(t)["groupId"].(string)
	bob := patient("clinic-a", "bob")
	jkey := map[string]string{"Idempotency-Key": "join-1"}
	params := map[string]string{"groupId": id}
	j1 := s.do(call{fn: "groupbuy", route: "POST /v1/groups/{groupId}/join", as: bob, headers: jkey, params: params})
	require.Equal(t, 200, j1.Status, j1.Body)
	j2 := s.do(call{fn: "groupbuy", route: "POST /v1/groups/{groupId}/join", as: bob, headers: jkey, params: params})
	require.Equal(t, 200, j2.Status, "the first answer, not ALREADY_MEMBER")
	require.Equal(t, j1.Body, j2.Body)
	require.Len(t, s.events(event.GroupJoined), 1)
}
