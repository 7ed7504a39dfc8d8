package hook

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/event"
	"github.com/laoyou/laoyou/shared/referral"
)

// StatsRule names the counting of events for the admin stats in effect
// keys: each event counts once however often the stream delivers it.
const StatsRule = BuiltinPrefix + "stats"

// Names of the referral funnel's counters.
const (
	CountClicks    = "clicks"
	CountBinds     = "binds"
	CountQualified = "qualified"
	CountRewarded  = "rewarded"
	CountReversed  = "reversed"
)

// Fields of a deal's funnel.
const (
	DealOpened           = "opened"
	DealJoins            = "joins"
	DealSucceeded        = "succeeded"
	DealFailed           = "failed"
	DealVouchersRedeemed = "vouchersRedeemed"
)

// dealCounterPrefix starts the name of a deal's counter: deal#<dealId>#<field>.
const dealCounterPrefix = "deal#"

// DealCounter names a deal's counter.
func DealCounter(dealID, field string) string { return dealCounterPrefix + dealID + "#" + field }

// TopReferrersShown is how many referrers the stats list.
const TopReferrersShown = 10

// Counted is what one event adds to its tenant's stats.
type Counted struct {
	EventID  string
	Counters map[string]int64
	// ReferrerID's count of qualified friends changes by ReferrerDelta (a
	// qualification +1, a reversal -1); RefereeID finds their masked name.
	ReferrerID    string
	RefereeID     string
	ReferrerDelta int64
}

// Contribution is what e adds to the stats, if anything. The referral
// funnel counts events (a reversed referral stays counted as qualified and
// counts as reversed); the top referrers count friends who qualified and
// were not reversed.
func Contribution(e event.Event) (Counted, bool) {
	c := Counted{EventID: e.ID, Counters: map[string]int64{}}
	str := func(k string) string { s, _ := e.Data[k].(string); return s }
	deal := func(field string) {
		if id := str("dealId"); id != "" {
			c.Counters[DealCounter(id, field)] = 1
		}
	}
	switch e.Type {
	case event.ReferralClicked:
		c.Counters[CountClicks] = 1
	case event.ReferralBound:
		c.Counters[CountBinds] = 1
	case event.ReferralQualified:
		c.Counters[CountQualified] = 1
		c.ReferrerID, c.RefereeID, c.ReferrerDelta = str("referrerId"), str("refereeId"), 1
	case referral.RewardedEvent:
		c.Counters[CountRewarded] = 1
	case event.ReferralReversed:
		c.Counters[CountReversed] = 1
		c.ReferrerID, c.RefereeID, c.ReferrerDelta = str("referrerId"), str("refereeId"), -1
	case event.GroupOpened:
		deal(DealOpened)
	case event.GroupJoined:
		deal(DealJoins) // joins after the leader's opening
	case event.GroupSucceeded:
		deal(DealSucceeded)
	case event.GroupFailed:
		deal(DealFailed)
	case event.CouponRedeemed:
		deal(DealVouchersRedeemed) // only group vouchers carry a deal
	}
	if c.ReferrerID == "" {
		c.ReferrerDelta = 0
	}
	if len(c.Counters) == 0 {
		return Counted{}, false
	}
	return c, true
}

// Counters are a tenant's stats as stored.
type Counters struct {
	Totals    map[string]int64  // by counter name
	Referrers map[string]int64  // qualified friends by referrer id
	Names     map[string]string // masked names by referrer id
}

// StatsStore keeps the stats counters.
type StatsStore interface {
	// AddStats adds each event's contribution to the tenant's counters,
	// each event once however often it is given; names are the masked
	// names of the referrers counted.
	AddStats(ctx context.Context, tenant string, counted []Counted, names map[string]string) error
	// ReferrerNames maps the referrers of the given referees to their
	// masked names, as their bindings show them.
	ReferrerNames(ctx context.Context, tenant string, refereeIDs []string) (map[string]string, error)
	// StatsOf reads the tenant's counters with one call.
	StatsOf(ctx context.Context, tenant string) (Counters, error)
}

// Stats counts events for the admin stats, from the stream and never on
// the request path, and shows them.
type Stats struct {
	Store StatsStore
}

// Count adds a batch of events to their tenants' stats: one write per
// tenant and batch (more only when its events overflow one transaction),
// not per event.
func (s *Stats) Count(ctx context.Context, evs []event.Event) error {
	byTenant := map[string][]Counted{}
	var tenants []string
	for _, e := range evs {
		c, ok := Contribution(e)
		if !ok {
			continue
		}
		if _, seen := byTenant[e.Tenant]; !seen {
			tenants = append(tenants, e.Tenant)
		}
		byTenant[e.Tenant] = append(byTenant[e.Tenant], c)
	}
	var errs []error
	for _, t := range tenants {
		counted := byTenant[t]
		var referees []string
		for _, c := range counted {
			if c.ReferrerDelta > 0 && c.RefereeID != "" {
				referees = append(referees, c.RefereeID)
			}
		}
		var names map[string]string
		if len(referees) > 0 {
			var err error
			if names, err = s.Store.ReferrerNames(ctx, t, referees); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if err := s.Store.AddStats(ctx, t, counted, names); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Summary is a tenant's stats: the referral funnel, one funnel per deal
// (by deal id) and the top referrers.
type Summary struct {
	Referral     ReferralFunnel
	Deals        []DealFunnel
	TopReferrers []TopReferrer
}

// ReferralFunnel is the referral program's funnel: landing-page clicks,
// bindings, qualifying visits, referrals whose rewards were released, and
// referrals reversed by a refund.
type ReferralFunnel struct {
	Clicks    int64
	Binds     int64
	Qualified int64
	Rewarded  int64
	Reversed  int64
}

// DealFunnel is one group-buy deal's funnel.
type DealFunnel struct {
	DealID           string
	Opened           int64
	Joins            int64
	Succeeded        int64
	Failed           int64
	VouchersRedeemed int64
}

// TopReferrer is a referrer as the clinic's admin sees them in the ranking:
// a masked name.
type TopReferrer struct {
	DisplayName string
	Qualified   int64
}

// Summary reads the tenant's stats. They trail the events by the stream's
// delay, seconds in AWS.
func (s *Stats) Summary(ctx context.Context, tenant string) (Summary, error) {
	c, err := s.Store.StatsOf(ctx, tenant)
	if err != nil {
		return Summary{}, apierr.E(apierr.Op("hook.Stats"), err)
	}
	return summaryOf(c), nil
}

func summaryOf(c Counters) Summary {
	t := c.Totals
	return Summary{
		Referral: ReferralFunnel{
			Clicks: t[CountClicks], Binds: t[CountBinds], Qualified: t[CountQualified],
			Rewarded: t[CountRewarded], Reversed: t[CountReversed],
		},
		Deals:        dealFunnels(t),
		TopReferrers: topReferrers(c),
	}
}

// dealFunnels gathers the per-deal counters of totals into one funnel per
// deal, by deal id.
func dealFunnels(totals map[string]int64) []DealFunnel {
	deals := map[string]*DealFunnel{}
	for name, n := range totals {
		rest, ok := strings.CutPrefix(name, dealCounterPrefix)
		if !ok {
			continue
		}
		i := strings.LastIndexByte(rest, '#')
		if i < 0 {
			continue
		}
		id, field := rest[:i], rest[i+1:]
		d := deals[id]
		if d == nil {
			d = &DealFunnel{DealID: id}
			deals[id] = d
		}
		switch field {
		case DealOpened:
			d.Opened = n
		case DealJoins:
			d.Joins = n
		case DealSucceeded:
			d.Succeeded = n
		case DealFailed:
			d.Failed = n
		case DealVouchersRedeemed:
			d.VouchersRedeemed = n
		}
	}
	out := []DealFunnel{}
	for _, d := range deals {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b DealFunnel) int { return strings.Compare(a.DealID, b.DealID) })
	return out
}

// topReferrers ranks the referrers with qualified friends, most first.
func topReferrers(c Counters) []TopReferrer {
	type ranked struct {
		id string
		n  int64
	}
	var rs []ranked
	for id, n := range c.Referrers {
		if n > 0 {
			rs = append(rs, ranked{id, n})
		}
	}
	slices.SortFunc(rs, func(a, b ranked) int { return cmp.Or(cmp.Compare(b.n, a.n), strings.Compare(a.id, b.id)) })
	out := []TopReferrer{}
	for _, r := range rs[:min(len(rs), TopReferrersShown)] {
		name := c.Names[r.id]
		if name == "" {
			name = "***"
		}
		out = append(out, TopReferrer{DisplayName: name, Qualified: r.n})
	}
	return out
}
