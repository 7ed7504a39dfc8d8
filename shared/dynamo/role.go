package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/laoyou/laoyou/shared/auth"
)

var _ auth.Roles = RoleStore{}

// RoleStore keeps each user's role in a tenant, one item per user:
//
//	T#<t>#U#<user> / ROLE     "role": patient, staff or admin; "grantedAt" when an admin
//	                          set it, "seenAt" when a staff or admin token last recorded a visit
//
// An admin's grant writes it (SetRole); a visit recorded with a staff or
// admin token writes the token's role where no role is recorded yet, so
// the referral rules know clinic staff even when their grant came from the
// identity provider. A visit that qualifies a referral checks both sides'
// records in its own transaction: staff and admins earn no referral reward.
type RoleStore struct{ *Store }

const (
	kindRole = "role"
	skRole   = "ROLE"
)

func roleKey(tenant, user string) key { return key{PK: userPK(tenant, user), SK: skRole} }

type roleItem struct {
	key
	Kind      string     `dynamodbav:"kind"`
	Tenant    string     `dynamodbav:"tenant"`
	UserID    string     `dynamodbav:"userId"`
	Role      string     `dynamodbav:"role"`
	GrantedAt *time.Time `dynamodbav:"grantedAt,omitempty"`
	SeenAt    *time.Time `dynamodbav:"seenAt,omitempty"`
}

// RoleOf reads the user's recorded role, strongly consistent; "" when none
// is recorded.
func (s RoleStore) RoleOf(ctx context.Context, tenant, userID string) (auth.Role, error) {
	var it roleItem
	found, err := s.getItemConsistent(ctx, roleKey(tenant, userID), &it)
	if !found || err != nil {
		return "", err
	}
	return auth.Role(it.Role), nil
}

// SetRole records an admin's grant with one PutItem, replacing what was
// recorded: a grant taken back stays recorded as patient, so a staff token
// that outlived it does not record the user as staff again.
func (s RoleStore) SetRole(ctx context.Context, tenant, userID string, role auth.Role) error {
	at := s.Now().UTC()
	put, err := s.put(roleItem{
		key: roleKey(tenant, userID), Kind: kindRole, Tenant: tenant, UserID: userID, Role: string(role), GrantedAt: &at,
	})
	if err != nil {
		return err
	}
	return s.putAlone(ctx, put)
}

// seenRole is the transaction item that records a staff or admin token's
// role for its user where no role is recorded yet: it never overwrites a
// grant, so an admin is never lowered to staff, nor a grant taken back
// undone.
func (s *Store) seenRole(tenant, userID string, role auth.Role, at time.Time) types.TransactWriteItem {
	return s.update(roleKey(tenant, userID),
		expression.Set(expression.Name("kind"), expression.Value(kindRole)).
			Set(expression.Name("tenant"), expression.Value(tenant)).
			Set(expression.Name("userId"), expression.Value(userID)).
			Set(expression.Name("role"), expression.IfNotExists(expression.Name("role"), expression.Value(string(role)))).
			Set(expression.Name("seenAt"), expression.Value(at)), nil)
}

// notStaff is the transaction item that holds a qualification to the
// user's role record saying neither staff nor admin (or there being none).
func (s *Store) notStaff(tenant, userID string) types.TransactWriteItem {
	role := expression.Name("role")
	return s.check(roleKey(tenant, userID), expression.AttributeNotExists(role).
		Or(expression.Not(role.In(expression.Value(string(auth.Staff)), expression.Value(string(auth.Admin))))))
}
