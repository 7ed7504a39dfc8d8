package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/laoyou/laoyou/shared/referral"
)

// Rebound is a referee whose binding, expired unqualified, was replaced by
// a binding to another referrer: the first referrer's friend entry is stale.
type Rebound struct {
	Tenant, RefereeID, FormerReferrerID string
}

// ReboundFrom reads a stream record: ok when it is the replacement of a
// BOUND binding by one to another referrer. The bind itself cannot tell
// (it does not read the binding it replaces), the stream's old image can.
func ReboundFrom(r events.DynamoDBEventRecord) (Rebound, bool, error) {
	if r.EventName != "MODIFY" {
		return Rebound{}, false, nil
	}
	if sk := r.Change.Keys["sk"]; sk.DataType() != events.DataTypeString || sk.String() != skBoundTo {
		return Rebound{}, false, nil
	}
	var before, after bindingItem
	for _, side := range []struct {
		image map[string]events.DynamoDBAttributeValue
		into  *bindingItem
	}{{r.Change.OldImage, &before}, {r.Change.NewImage, &after}} {
		image, err := fromStreamImage(side.image)
		if err != nil {
			return Rebound{}, false, fmt.Errorf("binding: %w", err)
		}
		if err := attributevalue.UnmarshalMap(image, side.into); err != nil {
			return Rebound{}, false, fmt.Errorf("binding: %w", err)
		}
	}
	if before.Kind != kindBinding || before.ReferrerID == "" || before.ReferrerID == after.ReferrerID ||
		before.Stage != string(referral.Bound) {
		return Rebound{}, false, nil
	}
	return Rebound{Tenant: before.Tenant, RefereeID: before.RefereeID, FormerReferrerID: before.ReferrerID}, true, nil
}

// DropFormerFriend removes the referee from the former referrer's friends,
// if the entry is still BOUND (it can be nothing else: a binding that
// qualified is never replaced). Repeating it changes nothing.
func (s ReferralStore) DropFormerFriend(ctx context.Context, r Rebound) error {
	cond := expression.Name("stage").Equal(expression.Value(string(referral.Bound)))
	e := mustBuild(expression.NewBuilder().WithCondition(cond))
	_, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       friendKey(r.Tenant, r.FormerReferrerID, r.RefereeID).av(),
		ConditionExpression:       e.Condition(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	if isConditionFailed(err) {
		return nil // gone already, or not BOUND
	}
	return err
}
