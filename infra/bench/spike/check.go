package spike

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// item is the part of a stored item the invariants look at, whatever its
// kind (the attribute names are the store's, shared/dynamo).
type item struct {
	PK         string `dynamodbav:"pk"`
	SK         string `dynamodbav:"sk"`
	Kind       string `dynamodbav:"kind"`
	GroupID    string `dynamodbav:"groupId"`
	DealID     string `dynamodbav:"dealId"`
	TemplateID string `dynamodbav:"templateId"`
	UserID     string `dynamodbav:"userId"`
	Size       int    `dynamodbav:"size"`
	Joined     int    `dynamodbav:"joined"`
	Status     string `dynamodbav:"status"`
	Members    []struct {
		UserID string `dynamodbav:"userId"`
	} `dynamodbav:"members"`
	Cap   int   `dynamodbav:"cap"`
	Taken int   `dynamodbav:"taken"`
	Count int   `dynamodbav:"count"`
	Left  int64 `dynamodbav:"left"`
	N     int   `dynamodbav:"n"`
}

// check reads the table after the spike and lists every invariant of one
// side's world that does not hold, against the state and against the
// answers given.
func check(raw []map[string]types.AttributeValue, answers []answered, o Options, w world) (Checked, []string) {
	deal := w.deal
	var v []string
	fail := func(format string, args ...any) { v = append(v, fmt.Sprintf(format, args...)) }

	var c Checked
	rooms := map[string]item{}
	memberItems := map[string]map[string]bool{} // room → users with a member item
	seatsTaken := 0
	couponsOf := map[string]int{} // template → coupons
	couponsBy := map[string]int{} // template/user → coupons
	leftOf := map[string]int64{}  // template → units left over its shards
	for _, av := range raw {
		var it item
		if err := attributevalue.UnmarshalMap(av, &it); err != nil {
			fail("item %v does not decode: %v", av["pk"], err)
			continue
		}
		switch {
		case it.Kind == "groupRoom" && it.DealID == deal:
			rooms[it.GroupID] = it
		case it.Kind == "groupMember" && it.DealID == deal:
			if memberItems[it.GroupID] == nil {
				memberItems[it.GroupID] = map[string]bool{}
			}
			memberItems[it.GroupID][it.UserID] = true
		case it.Kind == "seatShard" && it.DealID == deal:
			c.SeatShards++
			seatsTaken += it.Taken
			if it.Taken > it.Cap || it.Taken < 0 {
				fail("seat shard %s: %d taken of %d", it.PK, it.Taken, it.Cap)
			}
		case it.Kind == "dealUse" && it.DealID == deal && it.Count > 1:
			fail("user %s is in %d rooms of the deal, its limit is 1", it.UserID, it.Count)
		case it.Kind == "coupon" && strings.HasPrefix(it.TemplateID, w.tplPrefix):
			couponsOf[it.TemplateID]++
			couponsBy[it.TemplateID+"/"+it.UserID]++
			c.Coupons++
		case it.Kind == "stockShard" && strings.HasPrefix(it.TemplateID, w.tplPrefix):
			leftOf[it.TemplateID] += it.Left
			if it.Left < 0 {
				fail("stock shard %s holds %d units", it.PK, it.Left)
			}
		case it.Kind == "couponClaims" && strings.HasPrefix(it.SK, "CLAIMS#"+w.tplPrefix) && it.N > 1:
			fail("%s counts %d claims of %s, its limit is 1", it.PK, it.N, strings.TrimPrefix(it.SK, "CLAIMS#"))
		}
	}

	// Rooms: within size, nobody twice, roster and member items agree,
	// full exactly when succeeded.
	members := 0
	for id, r := range rooms {
		c.Rooms++
		members += len(r.Members)
		if r.Joined > r.Size {
			fail("room %s: %d joined, size %d", id, r.Joined, r.Size)
		}
		if len(r.Members) != r.Joined {
			fail("room %s: joined %d, roster of %d", id, r.Joined, len(r.Members))
		}
		seen := map[string]bool{}
		for _, m := range r.Members {
			if seen[m.UserID] {
				fail("room %s: %s is on the roster twice", id, m.UserID)
			}
			seen[m.UserID] = true
			if !memberItems[id][m.UserID] {
				fail("room %s: %s is on the roster without a member item", id, m.UserID)
			}
		}
		if len(memberItems[id]) != len(seen) {
			fail("room %s: %d member items, %d on the roster", id, len(memberItems[id]), len(seen))
		}
		if (r.Joined == r.Size) != (r.Status == "SUCCEEDED") {
			fail("room %s: %d of %d joined, status %s", id, r.Joined, r.Size, r.Status)
		}
	}
	c.Members = members
	if len(rooms) != o.Rooms {
		fail("%d rooms of the deal, %d opened", len(rooms), o.Rooms)
	}
	if seatsTaken != members {
		fail("%d seats taken, %d members", seatsTaken, members)
	}

	// Coupons: stock exact, never over it, never twice for one user.
	c.Templates = o.Templates
	for t := range o.Templates {
		id := fmt.Sprintf("%s%d", w.tplPrefix, t)
		if int64(couponsOf[id])+leftOf[id] != int64(o.Stock) {
			fail("template %s: %d coupons + %d left, stock %d", id, couponsOf[id], leftOf[id], o.Stock)
		}
	}
	for k, n := range couponsBy {
		if n > 1 {
			fail("%s holds %d coupons of one template, limit 1", k, n)
		}
	}

	// Answers: what was answered done is what is stored, once per user and
	// room or template, once per key; a replay repeats the first answer.
	joinsDone, claimsDone := 0, 0
	doneBy := map[string]int{}
	firstOfKey := map[string]answered{}
	for _, a := range answers {
		if a.replayed {
			continue
		}
		if a.status >= 500 {
			fail("%s %s (%s): %d %s", a.op, a.who, a.kind, a.status, a.body)
		}
		if done(a) {
			doneBy[a.who]++
			if a.op == "join" {
				joinsDone++
			} else {
				claimsDone++
			}
		}
		if _, ok := firstOfKey[a.req.IdempotencyKey]; !ok && a.req.IdempotencyKey != "" && a.code != "REQUEST_IN_PROGRESS" {
			firstOfKey[a.req.IdempotencyKey] = a
		}
	}
	for who, n := range doneBy {
		if n > 1 {
			fail("%s was answered done %d times", who, n)
		}
	}
	for _, a := range answers {
		if a.req.IdempotencyKey == "" {
			continue
		}
		first, ok := firstOfKey[a.req.IdempotencyKey]
		if a.replayed && ok && (first.status != a.status || first.body != a.body) {
			fail("key %s replayed %d %s, first answered %d %s", a.req.IdempotencyKey, a.status, a.body, first.status, first.body)
		}
	}
	if added := members - o.Rooms; joinsDone != added {
		fail("%d joins answered 200, %d members joined", joinsDone, added)
	}
	if claimsDone != c.Coupons {
		fail("%d claims answered 201, %d coupons issued", claimsDone, c.Coupons)
	}
	sort.Strings(v)
	return c, v
}

// done reports whether an answer says the request did its work.
func done(a answered) bool {
	return !a.replayed && ((a.op == "join" && a.status == 200) || (a.op == "claim" && a.status == 201))
}

// tally counts the answers by operation, kind, status and code, and the
// answers that did work.
func tally(answers []answered) ([]Answer, int) {
	type kind struct {
		op, kind, code string
		status         int
	}
	counts := map[kind]*Answer{}
	n := 0
	for _, a := range answers {
		code := a.code
		if a.replayed {
			code = "replayed"
		}
		k := kind{op: a.op, kind: a.kind, code: code, status: a.status}
		if counts[k] == nil {
			counts[k] = &Answer{Op: a.op, Kind: a.kind, Status: a.status, Code: code}
		}
		counts[k].Count++
		counts[k].Calls.add(a.calls)
		if done(a) {
			n++
		}
	}
	out := make([]Answer, 0, len(counts))
	for _, a := range counts {
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Op != b.Op {
			return a.Op > b.Op // joins first
		}
		if a.Kind != b.Kind {
			return kindOrder(a.Kind) < kindOrder(b.Kind)
		}
		if a.Status != b.Status {
			return a.Status < b.Status
		}
		return a.Code < b.Code
	})
	return out, n
}

func kindOrder(k string) int {
	switch k {
	case original:
		return 0
	case sameUser:
		return 1
	}
	return 2
}

// errorCode is the code of an error answer, "" for a success.
func errorCode(body string) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(body), &e) != nil {
		return ""
	}
	return e.Error.Code
}
