package chaos

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/laoyou/laoyou/shared/event"
)

// What the clients saw, held against the table.
const (
	// Acknowledged: a change answered with a 2xx is in the table.
	Acknowledged = "acknowledged"
	// Unexplained: the table holds no change that no request could have
	// made, counting every attempt that may have done its work unseen.
	Unexplained = "unexplained"
	// KeyReused: a retry with the same key and body was never taken for
	// another request.
	KeyReused = "idempotency-key"
)

// unseen counts changes in the table whose request the client saw fail or
// lose its answer: the work was done, the client was told otherwise.
type unseen map[string]int

func bodyField(r request, name string) string {
	var m map[string]any
	_ = json.Unmarshal([]byte(r.body), &m)
	s, _ := m[name].(string)
	return s
}

// checkLedger holds the outcomes against the table.
func checkLedger(tab *Table, outcomes []outcome) ([]Violation, unseen) {
	var out []Violation
	bad := func(inv, format string, args ...any) {
		out = append(out, Violation{inv, fmt.Sprintf(format, args...)})
	}
	// How often each change was acknowledged, and how many attempts may
	// have made it at most: a 2xx, and every 5xx or lost answer before it.
	type tally struct{ acked, most int }
	tallies := map[string]*tally{}
	count := func(key string, o outcome) {
		t := tallies[key]
		if t == nil {
			t = &tally{}
			tallies[key] = t
		}
		if o.ok() {
			t.acked++
			t.most++
		}
		t.most += o.failed + o.dropped
	}
	for _, o := range outcomes {
		if o.code() == "IDEMPOTENCY_KEY_REUSED" {
			bad(KeyReused, "%s %v: a retry was refused as another request", o.req.route, o.req.params)
		}
		user, m := o.req.as["sub"], o.json()
		switch o.op {
		case "code":
			count("code|"+user, o)
			if code, _ := m["code"].(string); o.ok() && tab.Codes[code].UserID != user {
				bad(Acknowledged, "code %s of %s is not in the table", code, user)
			}
		case "bind":
			code := strings.ToUpper(bodyField(o.req, "code"))
			count("bind|"+user+"|"+code, o)
			if b, ok := tab.Bindings[UserKey{clinic, user}]; o.ok() && (!ok || b.ReferrerID != tab.Codes[code].UserID) {
				bad(Acknowledged, "%s bound through %s, the table says %+v", user, code, b)
			}
		case "claim":
			tpl := bodyField(o.req, "templateId")
			count("claim|"+user+"|"+tpl, o)
			code, _ := m["couponCode"].(string)
			if c, ok := tab.Coupons[code]; o.ok() && (!ok || c.UserID != user || c.TemplateID != tpl || c.Source != "claim") {
				bad(Acknowledged, "%s claimed %s as coupon %s, the table says %+v", user, tpl, code, c)
			}
		case "redeem":
			code := o.req.params["couponCode"]
			count("redeem|"+code, o)
			if c := tab.Coupons[code]; o.ok() && c.Status != "REDEEMED" {
				bad(Acknowledged, "coupon %s was redeemed, the table says %q", code, c.Status)
			}
		case "open":
			deal := bodyField(o.req, "dealId")
			count("open|"+user+"|"+deal, o)
			id, _ := m["groupId"].(string)
			if r, ok := tab.Rooms[id]; o.ok() && (!ok || r.LeaderID != user || r.DealID != deal) {
				bad(Acknowledged, "%s opened room %s of %s, the table says %+v", user, id, deal, r)
			}
		case "join":
			id := o.req.params["groupId"]
			count("join|"+id+"|"+user, o)
			if o.ok() && !onRoster(tab, id, user) {
				bad(Acknowledged, "%s joined room %s, which does not list them", user, id)
			}
		case "visit":
			patient := bodyField(o.req, "userId")
			if o.ok() && !tab.Patients[UserKey{clinic, patient}] {
				bad(Acknowledged, "a visit of %s was recorded, the table does not know them as a patient", patient)
			}
		}
	}

	made := map[string]int{} // changes in the table, by the same keys
	for _, c := range tab.Codes {
		made["code|"+c.UserID]++
	}
	for _, e := range tab.Events {
		if e.Type == event.ReferralBound && e.Data["channel"] == "code" {
			referee, _ := e.Data["refereeId"].(string)
			code, _ := e.Data["code"].(string)
			made["bind|"+referee+"|"+code]++
		}
	}
	for _, c := range tab.Coupons {
		if c.Source == "claim" {
			made["claim|"+c.UserID+"|"+c.TemplateID]++
		}
		if c.Status == "REDEEMED" {
			made["redeem|"+c.Code]++
		}
	}
	for id, r := range tab.Rooms {
		made["open|"+r.LeaderID+"|"+r.DealID]++
		for _, m := range r.Members {
			if !m.Leader {
				made["join|"+id+"|"+m.UserID]++
			}
		}
	}
	gone := unseen{}
	for key, n := range made {
		t := tallies[key]
		if t == nil {
			t = &tally{}
		}
		op, _, _ := strings.Cut(key, "|")
		switch {
		case n > t.most:
			bad(Unexplained, "%s: %d in the table, at most %d requests could have made them", key, n, t.most)
		case n > t.acked:
			gone[op] += n - t.acked
		}
	}
	return out, gone
}

func onRoster(tab *Table, groupID, user string) bool {
	for _, m := range tab.Rooms[groupID].Members {
		if m.UserID == user {
			return true
		}
	}
	return false
}
