package apistack

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/laoyou/laoyou/shared/dynamo"
)

// RoomShape is the room item a real open wrote, to be copied in bulk: rooms
// seeded from it look to every reader (a join, the closer, the expiry
// index) exactly like rooms opened through the API.
type RoomShape struct {
	Room map[string]types.AttributeValue
}

// CaptureRoom opens a room of the deal through the API with its writes
// captured, not sent, and returns the room item it would have written.
func (s *Stack) CaptureRoom(ctx context.Context, as Claims, dealID string) (RoomShape, error) {
	cctx, captured := CaptureCalls(ctx)
	if _, err := s.Must(cctx, OpenRequest(as, dealID), 201); err != nil {
		return RoomShape{}, err
	}
	for _, c := range captured.Calls() {
		in, ok := c.Input.(*dynamodb.TransactWriteItemsInput)
		if !ok {
			continue
		}
		for _, it := range in.TransactItems {
			if it.Put != nil && str(it.Put.Item["kind"]) == "groupRoom" {
				return RoomShape{Room: it.Put.Item}, nil
			}
		}
	}
	return RoomShape{}, errors.New("apistack: opening a room wrote no room item")
}

// roomTime is how the store writes times that conditions compare.
const roomTime = "2006-01-02T15:04:05Z"

// Copy is the room item for another room id, open until expiresAt.
func (r RoomShape) Copy(groupID string, expiresAt time.Time) map[string]types.AttributeValue {
	item := maps.Clone(r.Room)
	exp := expiresAt.UTC().Truncate(time.Second).Format(roomTime)
	item["pk"] = &types.AttributeValueMemberS{Value: "GROUP#" + groupID}
	item["groupId"] = &types.AttributeValueMemberS{Value: groupID}
	item["expiresAt"] = &types.AttributeValueMemberS{Value: exp}
	item["expAt"] = &types.AttributeValueMemberS{Value: exp}
	item["expShard"] = &types.AttributeValueMemberS{Value: ExpiryShard(groupID)}
	return item
}

// ExpiryShard is the expiry index partition the store puts a room on: an
// FNV-1a hash of its id over the store's shard count, as in
// shared/dynamo/groupbuy.go.
func ExpiryShard(groupID string) string {
	h := fnv.New32a()
	h.Write([]byte(groupID))
	return fmt.Sprintf("EXP#%02d", h.Sum32()%uint32(dynamo.GroupStore{}.ExpiryShards()))
}

// PutItems writes items with BatchWriteItem, 25 a call, from a few workers,
// with the table's plain client: seeding is neither counted nor recorded.
func (t *Table) PutItems(ctx context.Context, items []map[string]types.AttributeValue) error {
	const workers, perCall = 8, 25
	batches := make(chan []types.WriteRequest)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for reqs := range batches {
				for len(reqs) > 0 {
					out, err := t.Client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
						RequestItems: map[string][]types.WriteRequest{t.Name: reqs},
					})
					if err != nil {
						errs <- err
						for range batches { // drain, so the sender never blocks
						}
						return
					}
					reqs = out.UnprocessedItems[t.Name]
				}
			}
		}()
	}
	for i := 0; i < len(items); i += perCall {
		var reqs []types.WriteRequest
		for _, item := range items[i:min(i+perCall, len(items))] {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
		}
		batches <- reqs
	}
	close(batches)
	wg.Wait()
	close(errs)
	return <-errs
}

// Items reads every item of the table with a Scan, for checking invariants
// after a run (never in a measured part).
func (t *Table) Items(ctx context.Context) ([]map[string]types.AttributeValue, error) {
	var out []map[string]types.AttributeValue
	p := dynamodb.NewScanPaginator(t.Client, &dynamodb.ScanInput{TableName: &t.Name})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
	}
	return out, nil
}
