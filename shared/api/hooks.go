package api

import (
	"context"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/hook"
	"github.com/laoyou/laoyou/shared/httpapi"
)

func adminHookRoutes(d *app.Deps) []httpapi.Route {
	return []httpapi.Route{
		{Key: "PUT /v1/admin/hooks/{ruleId}", Access: auth.AdminOnly, Handle: putHookRule(d)},
		{Key: "GET /v1/admin/hooks", Access: auth.AdminOnly, Handle: listHookRules(d)},
		{Key: "GET /v1/admin/hooks/dead-letters", Access: auth.AdminOnly, Handle: listDeadLetters(d)},
	}
}

// hookRequest is the body of PUT /v1/admin/hooks/{ruleId}.
type hookRequest struct {
	Event            string                 `json:"event"`
	IssueCoupon      *hook.IssueCoupon      `json:"issueCoupon"`
	Webhook          *hook.Webhook          `json:"webhook"`
	SubscribeMessage *hook.SubscribeMessage `json:"subscribeMessage"`
	To               string                 `json:"to"`
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

func putHookRule(d *app.Deps) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		var in hookRequest
		if err := httpapi.Decode(r, &in); err != nil {
			return httpapi.Response{}, err
		}
		rule := hook.Rule{
			Tenant: r.Caller.Tenant, ID: r.PathParam("ruleId"), Event: event.Type(in.Event),
			IssueCoupon: in.IssueCoupon, Webhook: in.Webhook,
			SubscribeMessage: in.SubscribeMessage, To: hook.Recipient(in.To),
		}
		respond := func(v hook.RuleView) httpapi.Response { return httpapi.OK(v) }
		v, err := d.Hooks().Rules.Save(httpapi.Answering(ctx, respond), rule, d.Config.AllowLoopbackWebhooks)
		return respond(v), err
	}
}

type ruleList struct {
	Rules []hook.RuleView `json:"rules"`
}

func listHookRules(d *app.Deps) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		rules, err := d.Hooks().Rules.List(ctx, r.Caller.Tenant)
		return httpapi.OK(ruleList{Rules: rules}), err
	}
}

type deadLetterList struct {
	DeadLetters []hook.DeadLetter `json:"deadLetters"`
}

func listDeadLetters(d *app.Deps) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		dls, err := d.Hooks().Rules.DeadLetters(ctx, r.Caller.Tenant)
		return httpapi.OK(deadLetterList{DeadLetters: dls}), err
	}
}
