// Package hook is how a clinic reacts to what happens in its programme: a
// rule says, on an event (a friend bound, a group succeeded, a coupon
// redeemed), issue a coupon to someone the event names, POST the event,
// signed, to the clinic's own system, or send those it names a WeChat
// subscribe message. Events come from the table's stream, which delivers at
// least once; each effect happens once per (event, rule, recipient) however
// often it is delivered, and webhooks that keep failing are kept as dead
// letters, never dropped. Laoyou's own reactions live here too: group
// vouchers, referral milestone bonuses, and the counting of events for the
// admin stats. It holds the rules; storage, coupons and HTTP are given to
// it.
package hook

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/event"
)

// Recipient names whom an issueCoupon rule rewards, by a role in the event.
type Recipient string

const (
	Referrer Recipient = "referrer" // data.referrerId
	Referee  Recipient = "referee"  // data.refereeId
	Leader   Recipient = "leader"   // data.leaderId, or the member marked leader
	Members  Recipient = "members"  // data.members[].userId
	User     Recipient = "user"     // data.userId
)

// Rule is one of a tenant's hooks: on Event, exactly one action.
type Rule struct {
	Tenant      string
	ID          string
	Event       event.Type
	IssueCoupon *IssueCoupon
	Webhook     *Webhook
	// SubscribeMessage sends a WeChat subscribe message to To.
	SubscribeMessage *SubscribeMessage
	To               Recipient
	UpdatedAt        time.Time
}

// IssueCoupon issues a coupon of TemplateID to the event's To.
type IssueCoupon struct {
	TemplateID string
	To         Recipient
}

// Webhook POSTs the event to URL, signed with Secret.
type Webhook struct {
	URL    string
	Secret string
}

// Secret lengths: long enough not to be guessed, short enough for a header
// tool to paste.
const (
	MinSecret = 16
	MaxSecret = 256
	MaxURL    = 2048
)

// BuiltinPrefix starts the ids of Laoyou's own reactions; tenants' rule ids
// may not use it.
const BuiltinPrefix = "builtin:"

// Validate checks a rule as an admin defines it. Loopback http URLs are
// allowed only with allowLoopback (the local runner). Errors are
// BAD_REQUEST and name the field.
func (r Rule) Validate(allowLoopback bool) error {
	switch {
	case !auth.ValidID(r.ID) || strings.HasPrefix(r.ID, BuiltinPrefix):
		return apierr.Invalid("ruleId", "must be 1 to 128 letters, digits or _.:@|- and not start with builtin:")
	case r.Event == "":
		return apierr.Missing("event")
	case !slices.Contains(event.Public, r.Event):
		return apierr.Invalid("event", "must be one of "+publicEvents())
	case r.actions() != 1:
		return apierr.Errorf(op("Validate"), apierr.BadRequest, `exactly one of field "issueCoupon", "webhook" or "subscribeMessage" is required`)
	case r.Event == event.UserErased && r.Webhook == nil:
		// An erased user gets nothing more; the clinic's systems hear of it.
		return apierr.Invalid("event", "user.erased can only be sent to a webhook")
	case r.IssueCoupon != nil:
		return r.validateIssue()
	case r.SubscribeMessage != nil:
		return r.validateSubscribe()
	}
	return r.validateWebhook(allowLoopback)
}

// actions counts the rule's actions; a valid rule has one.
func (r Rule) actions() int {
	n := 0
	for _, set := range []bool{r.IssueCoupon != nil, r.Webhook != nil, r.SubscribeMessage != nil} {
		if set {
			n++
		}
	}
	return n
}

func (r Rule) validateIssue() error {
	ic := r.IssueCoupon
	family, _, _ := strings.Cut(string(r.Event), ".")
	switch {
	case ic.TemplateID == "":
		return apierr.Missing("issueCoupon.templateId")
	case !auth.ValidID(ic.TemplateID):
		return auth.InvalidID("issueCoupon.templateId")
	case ic.To == "":
		return apierr.Missing("issueCoupon.to")
	case !slices.Contains([]Recipient{Referrer, Referee, Leader, Members, User}, ic.To):
		return apierr.Invalid("issueCoupon.to", "must be referrer, referee, leader, members or user")
	case (ic.To == Referrer || ic.To == Referee) && family != "referral":
		return apierr.Invalid("issueCoupon.to", "can be referrer or referee only for referral.* events")
	case (ic.To == Leader || ic.To == Members) && family != "group":
		return apierr.Invalid("issueCoupon.to", "can be leader or members only for group.* events")
	case r.Event == event.CouponIssued:
		// Each coupon it issued would fire it again.
		return apierr.Invalid("event", "cannot be coupon.issued for an issueCoupon rule: it would issue coupons without end")
	}
	return nil
}

func (r Rule) validateWebhook(allowLoopback bool) error {
	w := r.Webhook
	switch {
	case w.URL == "":
		return apierr.Missing("webhook.url")
	case w.Secret == "":
		return apierr.Missing("webhook.secret")
	case len(w.Secret) < MinSecret || len(w.Secret) > MaxSecret:
		return apierr.Invalid("webhook.secret", "must be 16 to 256 characters")
	}
	if err := CheckURL(w.URL, allowLoopback); err != nil {
		return apierr.Invalid("webhook.url", apierr.Message(err))
	}
	return nil
}

// CheckURL says why a webhook may not be sent to raw, or nil if it may:
// https to a public host; http only to loopback (127.0.0.0/8, ::1,
// localhost) and only with allowLoopback. What the URL alone shows is
// judged here: IP literals outside the public ranges (PublicAddr),
// localhost names, and numbers that only some resolvers read as addresses
// (127.1, 2130706433, 0x7f.0.0.1). Where a name resolves is judged again at
// every connection.
func CheckURL(raw string, allowLoopback bool) error {
	if len(raw) > MaxURL {
		return apierr.E(op("CheckURL"), apierr.BadRequest, "must be at most 2048 characters")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return apierr.E(op("CheckURL"), apierr.BadRequest, "must be an absolute https URL")
	}
	if u.User != nil {
		return apierr.E(op("CheckURL"), apierr.BadRequest, "must not carry a user or password")
	}
	host := u.Hostname()
	ip, literal, ok := hostAddr(host)
	if !ok {
		return apierr.E(op("CheckURL"), apierr.BadRequest, "must name its host by a DNS name or an IP address in its usual form")
	}
	// The local runner's listeners: a loopback IP literal (127.0.0.0/8,
	// ::1) or plain localhost, on http or https; no subdomain of localhost.
	localListener := allowLoopback && (strings.EqualFold(host, "localhost") || (literal && loopbackAddr(ip)))
	switch {
	case localListener && (u.Scheme == "http" || u.Scheme == "https"):
		return nil
	case localhostName(host) || (literal && loopbackAddr(ip)):
		return apierr.E(op("CheckURL"), apierr.BadRequest, "must not point at loopback")
	case literal && !PublicAddr(ip):
		return apierr.E(op("CheckURL"), apierr.BadRequest, "must point at a public host")
	case u.Scheme != "https":
		return apierr.E(op("CheckURL"), apierr.BadRequest, "must be https")
	}
	return nil
}

// Recipients are the user ids an event names for to. An event that names
// none (or names one that is not an id) answers ErrNoRecipient.
func Recipients(e event.Event, to Recipient) ([]string, error) {
	var ids []string
	switch to {
	case Referrer:
		ids = idField(e.Data, "referrerId")
	case Referee:
		ids = idField(e.Data, "refereeId")
	case Leader:
		ids = idField(e.Data, "leaderId")
		for _, m := range listOf(e.Data["members"]) {
			if lead, _ := m["leader"].(bool); lead && len(ids) == 0 {
				ids = idField(m, "userId") // settled rooms list the leader among the members
			}
		}
	case User:
		ids = idField(e.Data, "userId")
	case Members:
		for _, m := range listOf(e.Data["members"]) {
			ids = append(ids, idField(m, "userId")...)
		}
	}
	if len(ids) == 0 {
		return nil, apierr.Errorf(op("Recipients"), apierr.BadRequest, "a %s event names no %s", e.Type, to)
	}
	for _, id := range ids {
		if !auth.ValidID(id) {
			return nil, apierr.Errorf(op("Recipients"), apierr.BadRequest, "a %s event names a %s that is no user id", e.Type, to)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

func idField(m map[string]any, name string) []string {
	if s, ok := m[name].(string); ok && s != "" {
		return []string{s}
	}
	return nil
}

// listOf reads a list of objects as JSON and DynamoDB decoding give it.
func listOf(v any) []map[string]any {
	switch l := v.(type) {
	case []map[string]any:
		return l
	case []any:
		out := make([]map[string]any, 0, len(l))
		for _, x := range l {
			if m, ok := x.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

func publicEvents() string {
	names := make([]string, len(event.Public))
	for i, t := range event.Public {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

func op(name string) apierr.Op { return apierr.Op("hook." + name) }
