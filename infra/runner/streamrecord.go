package runner

import (
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// ConvertStreamRecord turns a record read with the DynamoDB Streams API into
// the record Lambda delivers: the same data under the event's names, with
// eventSourceARN set to the stream and awsRegion to region when given.
func ConvertStreamRecord(r types.Record, streamARN, region string) (events.DynamoDBEventRecord, error) {
	if r.Dynamodb == nil {
		return events.DynamoDBEventRecord{}, errors.New("stream record without dynamodb data")
	}
	if region == "" {
		region = aws.ToString(r.AwsRegion)
	}
	d := r.Dynamodb
	change := events.DynamoDBStreamRecord{
		SequenceNumber: aws.ToString(d.SequenceNumber),
		SizeBytes:      aws.ToInt64(d.SizeBytes),
		StreamViewType: string(d.StreamViewType),
	}
	if d.ApproximateCreationDateTime != nil {
		change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
	}
	var err error
	if change.Keys, err = ConvertAttributeMap(d.Keys); err != nil {
		return events.DynamoDBEventRecord{}, fmt.Errorf("keys: %w", err)
	}
	if change.NewImage, err = ConvertAttributeMap(d.NewImage); err != nil {
		return events.DynamoDBEventRecord{}, fmt.Errorf("new image: %w", err)
	}
	if change.OldImage, err = ConvertAttributeMap(d.OldImage); err != nil {
		return events.DynamoDBEventRecord{}, fmt.Errorf("old image: %w", err)
	}
	out := events.DynamoDBEventRecord{
		AWSRegion:      region,
		Change:         change,
		EventID:        aws.ToString(r.EventID),
		EventName:      string(r.EventName),
		EventSource:    "aws:dynamodb",
		EventVersion:   "1.1",
		EventSourceArn: streamARN,
	}
	if r.UserIdentity != nil {
		// Set on deletions by TTL: {type: Service, principalId: dynamodb.amazonaws.com}.
		out.UserIdentity = &events.DynamoDBUserIdentity{
			Type:        aws.ToString(r.UserIdentity.Type),
			PrincipalID: aws.ToString(r.UserIdentity.PrincipalId),
		}
	}
	return out, nil
}

// ConvertAttributeMap converts an item image; nil stays nil so that absent
// images are left out of the event as Lambda leaves them out.
func ConvertAttributeMap(m map[string]types.AttributeValue) (map[string]events.DynamoDBAttributeValue, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		cv, err := ConvertAttributeValue(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = cv
	}
	return out, nil
}

// ConvertAttributeValue converts one Streams SDK attribute value, of any
// kind, to the aws-lambda-go event type.
func ConvertAttributeValue(v types.AttributeValue) (events.DynamoDBAttributeValue, error) {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(x.Value), nil
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(x.Value), nil
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(x.Value), nil
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(x.Value), nil
	case *types.AttributeValueMemberNULL:
		return events.NewNullAttribute(), nil
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(x.Value), nil
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(x.Value), nil
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(x.Value), nil
	case *types.AttributeValueMemberL:
		list := make([]events.DynamoDBAttributeValue, len(x.Value))
		for i, e := range x.Value {
			cv, err := ConvertAttributeValue(e)
			if err != nil {
				return events.DynamoDBAttributeValue{}, fmt.Errorf("[%d]: %w", i, err)
			}
			list[i] = cv
		}
		return events.NewListAttribute(list), nil
	case *types.AttributeValueMemberM:
		m, err := ConvertAttributeMap(x.Value)
		if err != nil {
			return events.DynamoDBAttributeValue{}, err
		}
		if m == nil {
			m = map[string]events.DynamoDBAttributeValue{}
		}
		return events.NewMapAttribute(m), nil
	case nil:
		return events.DynamoDBAttributeValue{}, errors.New("nil attribute value")
	default:
		return events.DynamoDBAttributeValue{}, fmt.Errorf("unsupported attribute value %T", v)
	}
}
