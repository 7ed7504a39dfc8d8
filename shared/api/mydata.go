package api

import (
	"context"

	"github.com/laoyou/laoyou/shared/httpapi"
	"github.com/laoyou/laoyou/shared/mydata"
)

// exportMyData answers GET /v1/me/data: everything held about the caller.
func exportMyData(svc *mydata.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		out, err := svc.Export(ctx, r.Caller.Tenant, r.Caller.UserID)
		return httpapi.OK(out), err
	}
}

// eraseMe answers DELETE /v1/me: the caller erases themselves.
func eraseMe(svc *mydata.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		out, err := svc.EraseSelf(ctx, r.Caller)
		return httpapi.OK(out), err
	}
}

// eraseUser answers DELETE /v1/admin/users/{userId}: the clinic erases a
// patient on their request.
func eraseUser(svc *mydata.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		out, err := svc.EraseUser(ctx, r.Caller.Tenant, r.PathParam("userId"))
		return httpapi.OK(out), err
	}
}
