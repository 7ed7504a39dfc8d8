package api

import (
	"context"
	"fmt"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/httpapi"
	"github.com/laoyou/laoyou/shared/referral"
)

// visitRequest is the body of POST /v1/staff/visits. The visit id is the
// clinic's own (its HIS's), unique within the clinic.
type visitRequest struct {
	VisitID   string `json:"visitId"`
	UserID    string `json:"userId"`
	Kind      string `json:"kind"`
	AmountFen *int64 `json:"amountFen"`
}

func (v *visitRequest) Valid() error {
	switch {
	case v.VisitID == "":
		return apierr.Missing("visitId")
	case !auth.ValidID(v.VisitID):
		return auth.InvalidID("visitId")
	case v.UserID == "":
		return apierr.Missing("userId")
	case !auth.ValidID(v.UserID):
		return auth.InvalidID("userId")
	case v.Kind == "":
		return apierr.Missing("kind")
	case v.Kind != string(referral.Arrival) && v.Kind != string(referral.Treatment):
		return apierr.Invalid("kind", "must be arrival or treatment")
	case v.AmountFen != nil && (*v.AmountFen < 0 || *v.AmountFen > referral.MaxAmountFen):
		return apierr.Invalid("amountFen", fmt.Sprintf("must be 0 to %d", referral.MaxAmountFen))
	}
	return nil
}

// visit is the request as the referral rules take it.
func (v *visitRequest) visit() referral.Visit {
	return referral.Visit{VisitID: v.VisitID, UserID: v.UserID, Kind: referral.VisitKind(v.Kind), AmountFen: v.AmountFen}
}

// visitView is a reported visit: the visitor's referral as it stands
// after it, null when they have none that is live.
type visitView struct {
	VisitID  string             `json:"visitId"`
	Referral *referralStateView `json:"referral"`
}

// referralStateView is a referral as the clinic's staff see it on a visit.
type referralStateView struct {
	Stage string `json:"stage"`
}

func viewVisit(res referral.VisitResult) visitView {
	v := visitView{VisitID: res.VisitID}
	if res.Referral != nil {
		v.Referral = &referralStateView{Stage: string(res.Referral.Stage)}
	}
	return v
}

// refundView is a refunded visit with the count of rewards it voided.
type refundView struct {
	VisitID  string `json:"visitId"`
	Reversed int    `json:"reversed"`
}

func viewRefund(res referral.RefundResult) refundView {
	return refundView{VisitID: res.VisitID, Reversed: res.Reversed}
}

func recordVisit(svc *referral.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		var in visitRequest
		if err := httpapi.Decode(r, &in); err != nil {
			return httpapi.Response{}, err
		}
		respond := func(res referral.VisitResult) httpapi.Response { return httpapi.OK(viewVisit(res)) }
		res, err := svc.RecordVisit(httpapi.Answering(ctx, respond), r.Caller, in.visit())
		return respond(res), err
	}
}

func refundVisit(svc *referral.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		id := r.PathParam("visitId")
		if !auth.ValidID(id) {
			// The same 404 as an unknown visit: a malformed id names none.
			return httpapi.Response{}, apierr.E(apierr.Op("api.refundVisit"), apierr.VisitNotFound, "no such visit")
		}
		respond := func(res referral.RefundResult) httpapi.Response { return httpapi.OK(viewRefund(res)) }
		res, err := svc.Refund(httpapi.Answering(ctx, respond), r.Caller, id)
		return respond(res), err
	}
}
