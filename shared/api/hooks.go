package api

import (
	"context"
	"encoding/json"
	"time"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/hook"
	"github.com/laoyou/laoyou/shared/httpapi"
)

func adminHookRoutes(d *app.Deps) []httpapi.Route {
	rules := d.HookRules()
	return []httpapi.Route{
		{Key: "PUT /v1/admin/hooks/{ruleId}", Access: auth.AdminOnly, Handle: putHookRule(rules)},
		{Key: "GET /v1/admin/hooks", Access: auth.AdminOnly, Handle: listHookRules(rules)},
		{Key: "GET /v1/admin/hooks/dead-letters", Access: auth.AdminOnly, Handle: listDeadLetters(rules)},
	}
}

// A rule's actions are written alike in a request and in a view; a view
// masks the webhook's secret.
type (
	issueCouponAction struct {
		TemplateID string         `json:"templateId"`
		To         hook.Recipient `json:"to"`
	}
	webhookAction struct {
		URL    string `json:"url"`
		Secret string `json:"secret"`
	}
	subscribeMessageAction struct {
		TemplateID string            `json:"templateId"`
		Page       string            `json:"page,omitempty"`
		Data       map[string]string `json:"data"`
	}
)

// hookRequest is the body of PUT /v1/admin/hooks/{ruleId}.
type hookRequest struct {
	Event            string                  `json:"event"`
	IssueCoupon      *issueCouponAction      `json:"issueCoupon"`
	Webhook          *webhookAction          `json:"webhook"`
	SubscribeMessage *subscribeMessageAction `json:"subscribeMessage"`
	To               string                  `json:"to"`
}

// Valid checks the body's shape; the hook rules check the values.
func (h *hookRequest) Valid() error {
	if h.Event == "" {
		return apierr.Missing("event")
	}
	n := 0
	for _, set := range []bool{h.IssueCoupon != nil, h.Webhook != nil, h.SubscribeMessage != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return apierr.Invalid("issueCoupon", `, "webhook" or "subscribeMessage" is required, exactly one of them`)
	}
	if h.To != "" && h.SubscribeMessage == nil {
		return apierr.Invalid("to", `goes with "subscribeMessage"; an issueCoupon rule names its recipient in "issueCoupon.to"`)
	}
	return nil
}

// rule is the request as the hook rules take it.
func (h *hookRequest) rule(tenant, ruleID string) hook.Rule {
	r := hook.Rule{Tenant: tenant, ID: ruleID, Event: event.Type(h.Event), To: hook.Recipient(h.To)}
	if ic := h.IssueCoupon; ic != nil {
		r.IssueCoupon = &hook.IssueCoupon{TemplateID: ic.TemplateID, To: ic.To}
	}
	if w := h.Webhook; w != nil {
		r.Webhook = &hook.Webhook{URL: w.URL, Secret: w.Secret}
	}
	if sm := h.SubscribeMessage; sm != nil {
		r.SubscribeMessage = &hook.SubscribeMessage{TemplateID: sm.TemplateID, Page: sm.Page, Data: sm.Data}
	}
	return r
}

// ruleView is a rule as the API shows it: the webhook's secret masked.
type ruleView struct {
	RuleID      string             `json:"ruleId"`
	Event       string             `json:"event"`
	IssueCoupon *issueCouponAction `json:"issueCoupon,omitempty"`
	Webhook     *webhookAction     `json:"webhook,omitempty"`
	// SubscribeMessage and To: a subscribe-message rule.
	SubscribeMessage *subscribeMessageAction `json:"subscribeMessage,omitempty"`
	To               hook.Recipient          `json:"to,omitempty"`
	UpdatedAt        time.Time               `json:"updatedAt"`
}

func viewRule(r hook.Rule) ruleView {
	v := ruleView{RuleID: r.ID, Event: string(r.Event), UpdatedAt: r.UpdatedAt}
	if ic := r.IssueCoupon; ic != nil {
		v.IssueCoupon = &issueCouponAction{TemplateID: ic.TemplateID, To: ic.To}
	}
	if w := r.Webhook; w != nil {
		v.Webhook = &webhookAction{URL: w.URL, Secret: hook.MaskSecret(w.Secret)}
	}
	if sm := r.SubscribeMessage; sm != nil {
		v.SubscribeMessage = &subscribeMessageAction{TemplateID: sm.TemplateID, Page: sm.Page, Data: sm.Data}
		v.To = r.To
	}
	return v
}

func putHookRule(rules *hook.Rules) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		var in hookRequest
		if err := httpapi.Decode(r, &in); err != nil {
			return httpapi.Response{}, err
		}
		respond := func(saved hook.Rule) httpapi.Response { return httpapi.OK(viewRule(saved)) }
		saved, err := rules.Save(httpapi.Answering(ctx, respond), in.rule(r.Caller.Tenant, r.PathParam("ruleId")))
		return respond(saved), err
	}
}

type ruleList struct {
	Rules []ruleView `json:"rules"`
}

func listHookRules(rules *hook.Rules) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		rs, err := rules.List(ctx, r.Caller.Tenant)
		return httpapi.OK(ruleList{Rules: viewAll(rs, viewRule)}), err
	}
}

// deadLetterView is a dead letter as the admin lists it: never the secret,
// and the payload as the webhook was sent it, byte for byte.
type deadLetterView struct {
	EventID    string          `json:"eventId"`
	EventType  event.Type      `json:"eventType"`
	RuleID     string          `json:"ruleId"`
	Action     string          `json:"action"`
	URL        string          `json:"url,omitempty"`
	TemplateID string          `json:"templateId,omitempty"`
	Recipient  string          `json:"recipient,omitempty"`
	Attempts   int             `json:"attempts"`
	Status     int             `json:"status,omitempty"`
	Error      string          `json:"error"`
	Payload    json.RawMessage `json:"payload"`
	At         time.Time       `json:"at"`
}

func viewDeadLetter(dl hook.DeadLetter) deadLetterView {
	return deadLetterView{
		EventID: dl.EventID, EventType: dl.EventType, RuleID: dl.RuleID, Action: dl.Action,
		URL: dl.URL, TemplateID: dl.TemplateID, Recipient: dl.Recipient,
		Attempts: dl.Attempts, Status: dl.Status, Error: dl.Error, Payload: dl.Payload, At: dl.At,
	}
}

type deadLetterList struct {
	DeadLetters []deadLetterView `json:"deadLetters"`
}

func listDeadLetters(rules *hook.Rules) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		dls, err := rules.DeadLetters(ctx, r.Caller.Tenant)
		return httpapi.OK(deadLetterList{DeadLetters: viewAll(dls, viewDeadLetter)}), err
	}
}
