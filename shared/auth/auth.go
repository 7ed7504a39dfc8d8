// Package auth turns the claims that API Gateway's JWT authorizer verified into
// the caller a handler acts for, and decides what each role may do. It never
// verifies tokens itself: in AWS the authorizer has, locally the runner has.
package auth

import (
	"context"
	"strings"

	"github.com/laoyou/laoyou/shared/apierr"
)

// Role is what a caller may do.
type Role string

const (
	Patient Role = "patient"
	Staff   Role = "staff"
	Admin   Role = "admin"
)

// Access is what a route requires.
type Access int

const (
	Public    Access = iota // no token
	AnyUser                 // any signed-in role, acting for itself
	StaffOnly               // staff or admin
	AdminOnly               // admin
)

// Caller is the signed-in user a request acts for. PhoneNumber is kept only to
// be HMAC'd; it is never stored or logged as is.
type Caller struct {
	UserID      string
	Tenant      string
	Role        Role
	Name        string
	PhoneNumber string
}

// ValidID reports whether s can serve as a user, tenant or admin-chosen id:
// 1 to 128 of [A-Za-z0-9_.:@|-], opaque but bounded, so it is safe inside a
// key. A loop rather than a regexp: compiling a bounded repeat at start-up
// costs every cold start 1.5 ms.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_.:@|-", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// InvalidID is the 400 of a request field that is not a ValidID.
func InvalidID(field string) error {
	return apierr.Invalid(field, "must be 1 to 128 letters, digits or _.:@|-")
}

// FromClaims builds the caller from the authorizer's claims. A token the
// authorizer accepted but that lacks Laoyou's claims is refused with 403.
func FromClaims(claims map[string]string) (Caller, error) {
	const op = apierr.Op("auth.FromClaims")
	c := Caller{
		UserID:      claims["sub"],
		Tenant:      claims["tenant"],
		Role:        Role(claims["role"]),
		Name:        claims["name"],
		PhoneNumber: claims["phone_number"],
	}
	if !ValidID(c.UserID) || !ValidID(c.Tenant) {
		return Caller{}, apierr.E(op, apierr.Forbidden, "the token carries no valid sub and tenant")
	}
	switch c.Role {
	case Patient, Staff, Admin:
	default:
		return Caller{}, apierr.E(op, apierr.Forbidden, "the token carries no valid role")
	}
	return c, nil
}

// Allows reports whether the caller's role satisfies the access level.
func (c Caller) Allows(a Access) bool {
	switch a {
	case Public, AnyUser:
		return true
	case StaffOnly:
		return c.Role == Staff || c.Role == Admin
	case AdminOnly:
		return c.Role == Admin
	}
	return false
}

// IsStaff reports whether the caller is clinic personnel (staff or admin), who
// neither refer nor get referred.
func (c Caller) IsStaff() bool { return c.Role.IsStaff() }

// IsStaff reports whether r is a role of clinic personnel (staff or admin),
// who never earn referral rewards.
func (r Role) IsStaff() bool { return r == Staff || r == Admin }

// Roles keeps one role record per user of a tenant: what an admin granted
// them, or what a staff or admin token showed where none was granted. A
// user with no record is a patient.
type Roles interface {
	// RoleOf is the user's recorded role, or "" when there is none.
	RoleOf(ctx context.Context, tenant, userID string) (Role, error)
	// SetRole records an admin's grant (Patient takes staff or admin back);
	// it replaces whatever was recorded.
	SetRole(ctx context.Context, tenant, userID string, role Role) error
}
