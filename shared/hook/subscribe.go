package hook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/wechat"
)

// SubscribeMessage sends a WeChat subscribe message (订阅消息) of
// TemplateID to the rule's recipients. Data maps the template's keys (e.g.
// thing1) to text with placeholders filled from the event.
type SubscribeMessage struct {
	TemplateID string
	Page       string
	Data       map[string]string
}

// Placeholders are what a subscribe message's data may quote, and where
// each comes from in the event.
var Placeholders = map[string]func(e event.Event) string{
	"{deal.title}":     func(e event.Event) string { return text(e.Data["dealTitle"]) },
	"{group.size}":     func(e event.Event) string { return text(e.Data["size"]) },
	"{group.joined}":   func(e event.Event) string { return text(e.Data["joined"]) },
	"{group.status}":   func(e event.Event) string { return groupStatus(text(e.Data["status"])) },
	"{coupon.title}":   func(e event.Event) string { return text(e.Data["title"]) },
	"{coupon.validTo}": func(e event.Event) string { return chinaTime(text(e.Data["validTo"]), "2006-01-02") },
	"{event.time}":     func(e event.Event) string { return e.OccurredAt.In(chinaZone).Format("2006-01-02 15:04") },
}

// chinaZone is the time patients read: China has one zone and no daylight
// saving, so a fixed offset needs no time zone database in the binary.
var chinaZone = time.FixedZone("CST", 8*3600)

// KeyLimits are the most characters WeChat takes in a value, by the type
// the template key's name starts with (thing1 is a thing).
var KeyLimits = map[string]int{
	"thing": 20, "phrase": 5, "name": 10, "character_string": 32, "number": 32,
	"letter": 32, "symbol": 5, "phone_number": 17, "car_number": 8,
	"amount": 32, "date": 32, "time": 32,
}

// Limits on what an admin writes.
const (
	maxKeys         = 20
	maxValue        = 200
	maxPage         = 512
	NotGrantedSkip  = "not_granted" // WeChat's 43101: the user has not accepted the template
	NoOpenIDSkip    = "no_openid"   // the user never signed in with WeChat
	subscribeAction = "subscribeMessage"
)

var (
	// Compiled on first use, not at every function's cold start.
	keyName     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([a-z_]+?)([0-9]{1,2})$`) })
	templateID  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`) })
	placeholder = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\{[^{}]*\}`) })
)

// KeyType is the type of a template key, e.g. "thing" for "thing1", or ""
// if the key names no type WeChat knows.
func KeyType(key string) string {
	m := keyName().FindStringSubmatch(key)
	if m == nil {
		return ""
	}
	if _, ok := KeyLimits[m[1]]; !ok {
		return ""
	}
	return m[1]
}

func (r Rule) validateSubscribe() error {
	sm := r.SubscribeMessage
	family, _, _ := strings.Cut(string(r.Event), ".")
	switch {
	case sm.TemplateID == "":
		return apierr.Missing("subscribeMessage.templateId")
	case !templateID().MatchString(sm.TemplateID):
		return apierr.Invalid("subscribeMessage.templateId", "must be WeChat's template id: 1 to 128 letters, digits, _ or -")
	case strings.HasPrefix(sm.Page, "/"):
		return apierr.Invalid("subscribeMessage.page", `must not start with "/"`)
	case len(sm.Page) > maxPage || strings.ContainsAny(sm.Page, " \t\r\n"):
		return apierr.Invalid("subscribeMessage.page", "must be a mini-program page of at most 512 characters, without spaces")
	case len(sm.Data) == 0:
		return apierr.Missing("subscribeMessage.data")
	case len(sm.Data) > maxKeys:
		return apierr.Invalid("subscribeMessage.data", "must have at most 20 keys")
	case r.To == "":
		return apierr.Missing("to")
	case !slices.Contains([]Recipient{Referrer, Referee, Leader, Members, User}, r.To):
		return apierr.Invalid("to", "must be referrer, referee, leader, members or user")
	case (r.To == Referrer || r.To == Referee) && family != "referral":
		return apierr.Invalid("to", "can be referrer or referee only for referral.* events")
	case (r.To == Leader || r.To == Members) && family != "group":
		return apierr.Invalid("to", "can be leader or members only for group.* events")
	}
	for _, k := range slices.Sorted(maps.Keys(sm.Data)) {
		v := sm.Data[k]
		field := "subscribeMessage.data." + k
		if KeyType(k) == "" {
			return apierr.Invalid(field, "must be a template key such as thing1, phrase2, name3, character_string4, number5, time6 or date7")
		}
		if v == "" || utf8.RuneCountInString(v) > maxValue || !utf8.ValidString(v) {
			return apierr.Invalid(field, "must be 1 to 200 characters")
		}
		for _, p := range placeholder().FindAllString(v, -1) {
			if _, ok := Placeholders[p]; !ok {
				return apierr.Invalid(field, fmt.Sprintf("uses %s, which is not one of %s", p, placeholderNames()))
			}
		}
	}
	return nil
}

// Fill is a subscribe message's data for e: placeholders filled, each value
// cut to its key type's limit (an empty one becomes "-": WeChat refuses
// empty values).
func Fill(data map[string]string, e event.Event) map[string]string {
	out := make(map[string]string, len(data))
	for k, v := range data {
		v = placeholder().ReplaceAllStringFunc(v, func(p string) string {
			if f, ok := Placeholders[p]; ok {
				return f(e)
			}
			return p
		})
		v = strings.TrimSpace(Cut(k, v))
		if v == "" {
			v = "-"
		}
		out[k] = v
	}
	return out
}

// Cut shortens v to the limit of key's type, in characters; values of
// unknown types are left as they are.
func Cut(key, v string) string {
	limit := KeyLimits[KeyType(key)]
	if limit == 0 || utf8.RuneCountInString(v) <= limit {
		return v
	}
	r := []rune(v)
	return string(r[:limit])
}

// OpenIDs finds a user's openid in the tenant's mini-program.
type OpenIDs interface {
	OpenID(ctx context.Context, tenant, user string) (openID string, ok bool, err error)
}

// MessageSender sends subscribe messages: the WeChat client.
type MessageSender interface {
	SendSubscribeMessage(ctx context.Context, app wechat.App, m wechat.SubscribeMessage) error
}

// EffectClaims make an effect at most once: claimed before it is done, so
// two deliveries racing, or one redelivered, never both do it.
type EffectClaims interface {
	// ClaimEffect records the effect as under way; false if it was
	// claimed, done or dead-lettered before.
	ClaimEffect(ctx context.Context, tenant, effect string) (bool, error)
	// SettleEffect records how a claimed effect ended ("sent", or a skip).
	SettleEffect(ctx context.Context, effect, outcome string) error
	// ReleaseEffect drops a claim whose effect did not happen, so a later
	// delivery of the event may do it.
	ReleaseEffect(ctx context.Context, effect string) error
}

// Messages is what subscribe-message rules need. A dispatcher without it
// dead-letters them.
type Messages struct {
	Apps    wechat.Apps
	OpenIDs OpenIDs
	Sender  MessageSender
	Claims  EffectClaims
	// Attempts is how often a send WeChat answers busy or not at all is
	// made, pausing Backoff (doubling) between; defaults 3 and 1 s.
	Attempts int
	Backoff  time.Duration
	// Skipped counts a message not sent by reason (NotGrantedSkip,
	// NoOpenIDSkip); may be nil.
	Skipped func(tenant, reason string)
}

// sendMessages sends r's message to each recipient e names, at most once
// per (event, rule, recipient).
//
// At most once, not at least once: the effect is claimed before the send.
// A crash between the send and the claim's settling leaves the claim, so
// the message is not sent again; a crash between the claim and the send
// loses that one message. A lost notification (not a coupon) costs less
// than a repeat, which would also spend one of the user's one-time
// acceptances of the template.
func (d *Dispatcher) sendMessages(ctx context.Context, e event.Event, r Rule) error {
	sm := r.SubscribeMessage
	dl := DeadLetter{RuleID: r.ID, Action: subscribeAction, TemplateID: sm.TemplateID}
	m := d.Messages
	if m == nil {
		dl.Error = "subscribe messages are not set up in this function"
		return d.deadLetter(ctx, e, dl, Effect(e.ID, r.ID, "-"))
	}
	users, err := Recipients(e, r.To)
	if err != nil {
		dl.Error = apierr.Message(err)
		return d.deadLetter(ctx, e, dl, Effect(e.ID, r.ID, "-"))
	}
	var errs []error
	for _, u := range users {
		errs = append(errs, d.sendMessage(ctx, e, r, u))
	}
	return errors.Join(errs...)
}

func (d *Dispatcher) sendMessage(ctx context.Context, e event.Event, r Rule, user string) error {
	m, sm := d.Messages, r.SubscribeMessage
	effect := Effect(e.ID, r.ID, user)
	dl := DeadLetter{RuleID: r.ID, Action: subscribeAction, TemplateID: sm.TemplateID, Recipient: user}
	done, err := d.Store.EffectDone(ctx, effect)
	if err != nil || done {
		return err
	}
	app, err := m.Apps.App(ctx, e.Tenant)
	if err != nil {
		if apierr.KindOf(err) != apierr.WeChatNotConfigured {
			return err
		}
		dl.Error = string(apierr.WeChatNotConfigured) + ": " + apierr.Message(err)
		return d.deadLetter(ctx, e, dl, effect)
	}
	openID, known, err := m.OpenIDs.OpenID(ctx, e.Tenant, user)
	if err != nil {
		return err
	}
	won, err := m.Claims.ClaimEffect(ctx, e.Tenant, effect)
	if err != nil || !won {
		return err
	}
	if !known {
		return d.skip(ctx, e, effect, NoOpenIDSkip)
	}
	msg := wechat.SubscribeMessage{ToOpenID: openID, TemplateID: sm.TemplateID, Page: sm.Page, Data: Fill(sm.Data, e)}
	attempts, pause := m.retries()
	for attempt := 1; ; attempt++ {
		if !fits(ctx, time.Second) {
			return d.giveBack(ctx, effect)
		}
		err = m.Sender.SendSubscribeMessage(ctx, app, msg)
		switch {
		case err == nil:
			return m.Claims.SettleEffect(ctx, effect, "sent")
		case wechat.IsNotGranted(err):
			return d.skip(ctx, e, effect, NotGrantedSkip)
		case ctx.Err() != nil:
			return d.giveBack(ctx, effect)
		case apierr.KindOf(err) != apierr.WeChatUnavailable || attempt >= attempts:
			d.log().WarnContext(ctx, "subscribe message not sent", "eventId", e.ID, "ruleId", r.ID,
				"code", string(apierr.KindOf(err)), "wechatCode", wechat.CodeOf(err))
			dl.Attempts = attempt
			dl.Error = fmt.Sprintf("%s: %s (WeChat errcode %d)", apierr.KindOf(err), apierr.Message(err), wechat.CodeOf(err))
			return d.deadLetter(ctx, e, dl, effect)
		}
		select {
		case <-ctx.Done():
			return d.giveBack(ctx, effect)
		case <-time.After(pause << (attempt - 1)):
		}
	}
}

// retries is how often a send is made and the first pause between, with
// their defaults.
func (m *Messages) retries() (attempts int, pause time.Duration) {
	attempts, pause = max(1, m.Attempts), m.Backoff
	if m.Attempts == 0 {
		attempts = 3
	}
	if pause == 0 {
		pause = time.Second
	}
	return attempts, pause
}

// skip settles a claimed message as not sent for reason, and counts it.
func (d *Dispatcher) skip(ctx context.Context, e event.Event, effect, reason string) error {
	if err := d.Messages.Claims.SettleEffect(ctx, effect, reason); err != nil {
		return err
	}
	if d.Messages.Skipped != nil {
		d.Messages.Skipped(e.Tenant, reason)
	}
	return nil
}

// giveBack drops the claim of a message the invocation had no time to
// send, for the stream's retry of the event.
func (d *Dispatcher) giveBack(ctx context.Context, effect string) error {
	if err := d.Messages.Claims.ReleaseEffect(context.WithoutCancel(ctx), effect); err != nil {
		return err
	}
	return ErrNoTime
}

func groupStatus(s string) string {
	switch s {
	case "OPEN":
		return "拼团中"
	case "SUCCEEDED":
		return "拼团成功"
	case "FAILED":
		return "拼团失败"
	case "CLOSING":
		return "结算中"
	}
	return s
}

// chinaTime rewrites an RFC 3339 time in China's zone and layout.
func chinaTime(s, layout string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return t.In(chinaZone).Format(layout)
}

// text is an event value as text, whichever decoding gave it.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

func placeholderNames() string {
	return strings.Join(slices.Sorted(maps.Keys(Placeholders)), ", ")
}
