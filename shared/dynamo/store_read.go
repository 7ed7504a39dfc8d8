package dynamo

import (
	"context"
	"iter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The store's reads: single items, batches of items, and Queries, each
// written once here and used by every entity's file.

// getItem reads one item into out; found is false if it does not exist.
func (s *Store) getItem(ctx context.Context, k key, out any) (found bool, err error) {
	return s.get(ctx, k, out, false)
}

// getItemConsistent is getItem with a strongly consistent read.
func (s *Store) getItemConsistent(ctx context.Context, k key, out any) (found bool, err error) {
	return s.get(ctx, k, out, true)
}

func (s *Store) get(ctx context.Context, k key, out any, consistent bool) (found bool, err error) {
	in := &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: k.av()}
	if consistent {
		in.ConsistentRead = aws.Bool(true)
	}
	res, err := s.DB.GetItem(ctx, in)
	if err != nil || res.Item == nil {
		return false, err
	}
	return true, attributevalue.UnmarshalMap(res.Item, out)
}

// batchGet reads items by key, strongly consistent, retrying what DynamoDB
// left unprocessed.
func (s *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	var out []map[string]types.AttributeValue
	pending := map[string]types.KeysAndAttributes{s.Table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	for attempt := 0; len(pending) > 0 && len(pending[s.Table].Keys) > 0; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(10<<min(attempt, 6)) * time.Millisecond):
			}
		}
		res, err := s.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
		if err != nil {
			return nil, err
		}
		out = append(out, res.Responses[s.Table]...)
		pending = res.UnprocessedKeys
	}
	return out, nil
}

// getAll reads the item at each key of outs into its destination with one
// strongly consistent BatchGetItem, leaving the destination of a missing
// item as it is, and reports which were found.
func (s *Store) getAll(ctx context.Context, outs map[key]any) (found map[key]bool, err error) {
	keys := make([]map[string]types.AttributeValue, 0, len(outs))
	for k := range outs {
		keys = append(keys, k.av())
	}
	items, err := s.batchGet(ctx, keys)
	if err != nil {
		return nil, err
	}
	found = make(map[key]bool, len(items))
	for _, item := range items {
		var got key
		if err := attributevalue.UnmarshalMap(item, &got); err != nil {
			return nil, err
		}
		if dst, ok := outs[got]; ok {
			if err := attributevalue.UnmarshalMap(item, dst); err != nil {
				return nil, err
			}
			found[got] = true
		}
	}
	return found, nil
}

// getWith reads the item at k into out and, in the same BatchGetItem, the
// item at also into alsoOut (left as it is when missing).
func (s *Store) getWith(ctx context.Context, k key, out any, also key, alsoOut any) (found bool, err error) {
	got, err := s.getAll(ctx, map[key]any{k: out, also: alsoOut})
	return got[k], err
}

// query is one Query of the table or of one of its indexes: the items
// whose key matches, in sort key order.
type query struct {
	index      string // a global secondary index; "" for the table
	key        expression.KeyConditionBuilder
	filter     *expression.ConditionBuilder // drops items after they are read, page by page
	attrs      []string                     // the attributes to read; all when empty
	consistent bool                         // strongly consistent (the table only)
	descending bool                         // sort key descending: newest first
	page       int32                        // items per page; 0: as many as 1 MB holds
}

// prefixQuery is a query of partition pk's items whose sort key begins
// with prefix.
func prefixQuery(pk, prefix string) query {
	return query{key: expression.Key("pk").Equal(expression.Value(pk)).And(expression.Key("sk").BeginsWith(prefix))}
}

func (s *Store) queryInput(q query) *dynamodb.QueryInput {
	b := expression.NewBuilder().WithKeyCondition(q.key)
	if q.filter != nil {
		b = b.WithFilter(*q.filter)
	}
	if len(q.attrs) > 0 {
		names := make([]expression.NameBuilder, len(q.attrs))
		for i, a := range q.attrs {
			names[i] = expression.Name(a)
		}
		b = b.WithProjection(expression.NamesList(names[0], names[1:]...))
	}
	e := mustBuild(b)
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.Table),
		KeyConditionExpression:    e.KeyCondition(),
		FilterExpression:          e.Filter(),
		ProjectionExpression:      e.Projection(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	}
	if q.index != "" {
		in.IndexName = aws.String(q.index)
	}
	if q.consistent {
		in.ConsistentRead = aws.Bool(true)
	}
	if q.descending {
		in.ScanIndexForward = aws.Bool(false)
	}
	if q.page > 0 {
		in.Limit = aws.Int32(q.page)
	}
	return in
}

// queryPages yields q's pages in order, one Query call each, until the
// last or until the caller stops; an error is yielded last.
func (s *Store) queryPages(ctx context.Context, q query) iter.Seq2[[]map[string]types.AttributeValue, error] {
	return func(yield func([]map[string]types.AttributeValue, error) bool) {
		p := dynamodb.NewQueryPaginator(s.DB, s.queryInput(q))
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(page.Items, nil) {
				return
			}
		}
	}
}

// queryAll reads every item q selects, all pages, decoded by decode.
func queryAll[T any](ctx context.Context, s *Store, q query, decode func(map[string]types.AttributeValue) (T, error)) ([]T, error) {
	return queryDecoded(ctx, s, q, decode, false)
}

// queryFirst reads the first page of what q selects (the first q.page
// items): one Query call.
func queryFirst[T any](ctx context.Context, s *Store, q query, decode func(map[string]types.AttributeValue) (T, error)) ([]T, error) {
	return queryDecoded(ctx, s, q, decode, true)
}

func queryDecoded[T any](ctx context.Context, s *Store, q query, decode func(map[string]types.AttributeValue) (T, error), firstPage bool) ([]T, error) {
	out := []T{}
	for page, err := range s.queryPages(ctx, q) {
		if err != nil {
			return nil, err
		}
		for _, item := range page {
			v, err := decode(item)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		if firstPage {
			break
		}
	}
	return out, nil
}

// decodeAs decodes an item into a T.
func decodeAs[T any](item map[string]types.AttributeValue) (T, error) {
	var v T
	err := attributevalue.UnmarshalMap(item, &v)
	return v, err
}

// decodeVia decodes an item into its stored form I and converts that with
// conv.
func decodeVia[I, T any](conv func(I) T) func(map[string]types.AttributeValue) (T, error) {
	return func(item map[string]types.AttributeValue) (T, error) {
		it, err := decodeAs[I](item)
		if err != nil {
			var zero T
			return zero, err
		}
		return conv(it), nil
	}
}
