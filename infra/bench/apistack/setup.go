package apistack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// The helpers below set things up through the API, as a clinic and its
// patients would, each failing unless the API answers as it should.

// PutDeal creates or replaces a deal: spec is the body of PUT
// /v1/admin/deals/{dealId}.
func (s *Stack) PutDeal(ctx context.Context, tenant, dealID string, spec map[string]any) error {
	_, err := s.Must(ctx, Request{
		Route: "PUT /v1/admin/deals/{dealId}", Params: map[string]string{"dealId": dealID},
		As: Admin(tenant, "bench-admin"), Body: jsonBody(spec),
	}, http.StatusOK)
	return err
}

// PutTemplate creates or replaces a coupon template: spec is the body of
// PUT /v1/admin/coupon-templates/{templateId}.
func (s *Stack) PutTemplate(ctx context.Context, tenant, templateID string, spec map[string]any) error {
	_, err := s.Must(ctx, Request{
		Route: "PUT /v1/admin/coupon-templates/{templateId}", Params: map[string]string{"templateId": templateID},
		As: Admin(tenant, "bench-admin"), Body: jsonBody(spec),
	}, http.StatusOK)
	return err
}

// OpenRoom opens a room of the deal with as its leader and returns its id.
func (s *Stack) OpenRoom(ctx context.Context, as Claims, dealID string) (string, error) {
	rep, err := s.Must(ctx, OpenRequest(as, dealID), http.StatusCreated)
	if err != nil {
		return "", err
	}
	return field(rep, "groupId")
}

// Claim gives as a coupon of the template and returns its code.
func (s *Stack) Claim(ctx context.Context, as Claims, templateID string) (string, error) {
	rep, err := s.Must(ctx, ClaimRequest(as, templateID), http.StatusCreated)
	if err != nil {
		return "", err
	}
	return field(rep, "couponCode")
}

// ReferralCode returns as's referral code, making it on first use.
func (s *Stack) ReferralCode(ctx context.Context, as Claims) (string, error) {
	rep, err := s.Must(ctx, Request{Route: "POST /v1/referral/code", As: as}, http.StatusOK)
	if err != nil {
		return "", err
	}
	return field(rep, "code")
}

// OpenRequest opens a room of the deal.
func OpenRequest(as Claims, dealID string) Request {
	return Request{Route: "POST /v1/groups", As: as, Body: jsonBody(map[string]any{"dealId": dealID})}
}

// JoinRequest joins a room.
func JoinRequest(as Claims, groupID string) Request {
	return Request{Route: "POST /v1/groups/{groupId}/join", As: as, Params: map[string]string{"groupId": groupID}}
}

// ClaimRequest claims a coupon of a template.
func ClaimRequest(as Claims, templateID string) Request {
	return Request{Route: "POST /v1/coupons/claim", As: as, Body: jsonBody(map[string]any{"templateId": templateID})}
}

func jsonBody(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("apistack: " + err.Error()) // bodies here are maps of plain values
	}
	return string(b)
}

// field reads a string field of a JSON reply.
func field(rep Reply, name string) (string, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(rep.Body), &m); err != nil {
		return "", fmt.Errorf("apistack: reply %q: %w", rep.Body, err)
	}
	v, ok := m[name].(string)
	if !ok || v == "" {
		return "", fmt.Errorf("apistack: reply has no %q: %s", name, rep.Body)
	}
	return v, nil
}
