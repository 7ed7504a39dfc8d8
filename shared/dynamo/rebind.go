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

// ReboundFrom reads a stream record: ok when it is the replacement of a
// binding that referral.ReboundOf calls a rebound (the stream's old image
// holds the binding replaced).
func ReboundFrom(r events.DynamoDBEventRecord) (referral.Rebound, bool, error) {
	if r.EventName != "MODIFY" {
		return referral.Rebound{}, false, nil
	}
	if sk := r.Change.Keys["sk"]; sk.DataType() != events.DataTypeString || sk.String() != skBoundTo {
		return referral.Rebound{}, false, nil
	}
	var before, after bindingItem
	for _, side := range []struct {
		image map[string]events.DynamoDBAttributeValue
		into  *bindingItem
	}{{r.Change.OldImage, &before}, {r.Change.NewImage, &after}} {
		image, err := fromStreamImage(side.image)
		if err != nil {
			return referral.Rebound{}, false, fmt.Errorf("binding: %w", err)
		}
		if err := attributevalue.UnmarshalMap(image, side.into); err != nil {
			return referral.Rebound{}, false, fmt.Errorf("binding: %w", err)
		}
	}
	if before.Kind != kindBinding {
		return referral.Rebound{}, false, nil
	}
	rb, ok := referral.ReboundOf(*before.binding(), *after.binding())
	return rb, ok, nil
}

// DropBoundFriend deletes the referrer's friend entry of the referee if
// it is still BOUND, in one conditional delete.
func (s ReferralStore) DropBoundFriend(ctx context.Context, tenant, referrerID, refereeID string) error {
	cond := expression.Name("stage").Equal(expression.Value(string(referral.Bound)))
	e := mustBuild(expression.NewBuilder().WithCondition(cond))
	_, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       friendKey(tenant, referrerID, refereeID).av(),
		ConditionExpression:       e.Condition(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	if isConditionFailed(err) {
		return nil // gone already, or not BOUND
	}
	return err
}
