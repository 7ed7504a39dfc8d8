package api

import (
	"context"
	"time"

	"github.com/laoyou/laoyou/shared/httpapi"
	"github.com/laoyou/laoyou/shared/mydata"
)

// exportView is the document GET /v1/me/data answers: everything held
// about the caller. Every list shows as [] when empty, never null.
type exportView struct {
	UserID       string               `json:"userId"`
	Tenant       string               `json:"tenant"`
	Profile      exportProfileView    `json:"profile"`
	ReferralCode *exportCodeView      `json:"referralCode"`
	ReferredBy   *exportReferralView  `json:"referredBy"`
	Referrals    []exportReferralView `json:"referrals"`
	Coupons      []exportCouponView   `json:"coupons"`
	Rooms        []exportRoomView     `json:"rooms"`
	Visits       []exportVisitView    `json:"visits"`
	Rewards      []exportCouponView   `json:"rewards"`
}

type exportProfileView struct {
	DisplayName  string     `json:"displayName,omitempty"`
	Phone        string     `json:"phone,omitempty"`
	PhoneBoundAt *time.Time `json:"phoneBoundAt,omitempty"`
	Role         string     `json:"role"`
	WeChatLinked bool       `json:"weChatLinked"`
	FirstSignIn  *time.Time `json:"firstSignInAt,omitempty"`
}

type exportCodeView struct {
	Code      string    `json:"code"`
	CreatedAt time.Time `json:"createdAt"`
}

// exportReferralView is the caller's referrer, or a friend they brought.
type exportReferralView struct {
	DisplayName string    `json:"displayName"`
	Stage       string    `json:"stage"`
	BoundAt     time.Time `json:"boundAt"`
}

type exportCouponView struct {
	CouponCode string     `json:"couponCode"`
	TemplateID string     `json:"templateId"`
	Title      string     `json:"title"`
	Kind       string     `json:"kind"`
	Status     string     `json:"status"`
	Source     string     `json:"source"`
	IssuedAt   time.Time  `json:"issuedAt"`
	ValidTo    time.Time  `json:"validTo"`
	RedeemedAt *time.Time `json:"redeemedAt,omitempty"`
	VisitID    string     `json:"visitId,omitempty"`
}

type exportRoomView struct {
	GroupID  string    `json:"groupId"`
	DealID   string    `json:"dealId"`
	Leader   bool      `json:"leader"`
	PriceFen int64     `json:"priceFen"`
	JoinedAt time.Time `json:"joinedAt"`
}

type exportVisitView struct {
	VisitID       string    `json:"visitId"`
	Kind          string    `json:"kind"`
	AmountFen     *int64    `json:"amountFen,omitempty"`
	At            time.Time `json:"at"`
	ReferralStage string    `json:"referralStage,omitempty"`
	Refunded      bool      `json:"refunded"`
}

func viewExport(x mydata.Export) exportView {
	p := x.Profile
	v := exportView{
		UserID: x.UserID, Tenant: x.Tenant,
		Profile: exportProfileView{
			DisplayName: p.DisplayName, Phone: p.Phone, PhoneBoundAt: p.PhoneBoundAt,
			Role: p.Role, WeChatLinked: p.WeChatLinked, FirstSignIn: p.FirstSignIn,
		},
		Referrals: viewAll(x.Referrals, viewExportReferral),
		Coupons:   viewAll(x.Coupons, viewExportCoupon),
		Rooms:     viewAll(x.Rooms, viewExportRoom),
		Visits:    viewAll(x.Visits, viewExportVisit),
		Rewards:   viewAll(x.Rewards, viewExportCoupon),
	}
	if c := x.ReferralCode; c != nil {
		v.ReferralCode = &exportCodeView{Code: c.Code, CreatedAt: c.CreatedAt}
	}
	if r := x.ReferredBy; r != nil {
		by := viewExportReferral(*r)
		v.ReferredBy = &by
	}
	return v
}

func viewExportReferral(r mydata.Referral) exportReferralView {
	return exportReferralView{DisplayName: r.DisplayName, Stage: r.Stage, BoundAt: r.BoundAt}
}

func viewExportCoupon(c mydata.Coupon) exportCouponView {
	return exportCouponView{
		CouponCode: c.CouponCode, TemplateID: c.TemplateID, Title: c.Title, Kind: c.Kind,
		Status: c.Status, Source: c.Source, IssuedAt: c.IssuedAt, ValidTo: c.ValidTo,
		RedeemedAt: c.RedeemedAt, VisitID: c.VisitID,
	}
}

func viewExportRoom(r mydata.Room) exportRoomView {
	return exportRoomView{GroupID: r.GroupID, DealID: r.DealID, Leader: r.Leader, PriceFen: r.PriceFen, JoinedAt: r.JoinedAt}
}

func viewExportVisit(v mydata.Visit) exportVisitView {
	return exportVisitView{
		VisitID: v.VisitID, Kind: v.Kind, AmountFen: v.AmountFen, At: v.At,
		ReferralStage: v.ReferralStage, Refunded: v.Refunded,
	}
}

// erasedView is the answer to an erasure, and to an export of an erased
// user (which names them).
type erasedView struct {
	UserID   string    `json:"userId,omitempty"`
	ErasedAt time.Time `json:"erasedAt"`
}

func viewErased(e mydata.Erased) erasedView {
	return erasedView{UserID: e.UserID, ErasedAt: e.ErasedAt}
}

// exportMyData answers GET /v1/me/data: everything held about the caller,
// or only when they were erased.
func exportMyData(svc *mydata.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		x, err := svc.Export(ctx, r.Caller.Tenant, r.Caller.UserID)
		if err != nil {
			return httpapi.Response{}, err
		}
		if e, erased := x.Erasure(); erased {
			return httpapi.OK(viewErased(e)), nil
		}
		return httpapi.OK(viewExport(x)), nil
	}
}

// eraseMe answers DELETE /v1/me: the caller erases themselves.
func eraseMe(svc *mydata.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		out, err := svc.EraseSelf(ctx, r.Caller)
		return httpapi.OK(viewErased(out)), err
	}
}

// eraseUser answers DELETE /v1/admin/users/{userId}: the clinic erases a
// patient on their request.
func eraseUser(svc *mydata.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		out, err := svc.EraseUser(ctx, r.Caller.Tenant, r.PathParam("userId"))
		return httpapi.OK(viewErased(out)), err
	}
}
