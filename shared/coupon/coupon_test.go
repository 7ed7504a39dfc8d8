package coupon

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/apierr"
)

var now = time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)

func validCash() Template {
	return Template{Title: "¥50 off", Kind: Cash, ValueFen: 5000, ValidDays: 30, Stock: 100, PerUserLimit: 1, Claimable: true}
}

func TestTemplateValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Template)
		field string // "" when valid
	}{
		{"cash", func(*Template) {}, ""},
		{"percent", func(t *Template) { t.Kind, t.ValueFen, t.PercentOff, t.MaxOffFen = Percent, 0, 20, 10000 }, ""},
		{"gift without value", func(t *Template) { t.Kind, t.ValueFen = Gift, 0 }, ""},
		{"voucher at a price", func(t *Template) { t.Kind, t.ValueFen = Voucher, 19900 }, ""},
		{"fixed window", func(t *Template) { t.ValidDays, t.ValidFrom, t.ValidTo = 0, now, now.Add(time.Hour) }, ""},
		{"window without start", func(t *Template) { t.ValidDays, t.ValidTo = 0, now.Add(time.Hour) }, ""},
		{"unlimited stock", func(t *Template) { t.Stock = 0 }, ""},
		{"no title", func(t *Template) { t.Title = "" }, "title"},
		{"long title", func(t *Template) { t.Title = string(make([]rune, 61)) }, "title"},
		{"no kind", func(t *Template) { t.Kind = "" }, "kind"},
		{"unknown kind", func(t *Template) { t.Kind = "FREE" }, "kind"},
		{"cash without value", func(t *Template) { t.ValueFen = 0 }, "valueFen"},
		{"negative value", func(t *Template) { t.ValueFen = -1 }, "valueFen"},
		{"cash with percent", func(t *Template) { t.PercentOff = 10 }, "percentOff"},
		{"cash with cap", func(t *Template) { t.MaxOffFen = 10 }, "maxOffFen"},
		{"percent 0", func(t *Template) { t.Kind, t.ValueFen, t.MaxOffFen = Percent, 0, 100 }, "percentOff"},
		{"percent 100", func(t *Template) { t.Kind, t.ValueFen, t.PercentOff, t.MaxOffFen = Percent, 0, 100, 100 }, "percentOff"},
		{"percent without cap", func(t *Template) { t.Kind, t.ValueFen, t.PercentOff = Percent, 0, 10 }, "maxOffFen"},
		{"percent with value", func(t *Template) { t.Kind, t.PercentOff, t.MaxOffFen = Percent, 10, 100 }, "valueFen"},
		{"negative min spend", func(t *Template) { t.MinSpendFen = -1 }, "minSpendFen"},
		{"no validity", func(t *Template) { t.ValidDays = 0 }, "validTo"},
		{"start without end", func(t *Template) { t.ValidDays, t.ValidFrom = 0, now }, "validTo"},
		{"days and window", func(t *Template) { t.ValidTo = now.Add(time.Hour) }, "validDays"},
		{"too many days", func(t *Template) { t.ValidDays = 5000 }, "validDays"},
		{"window backwards", func(t *Template) { t.ValidDays, t.ValidFrom, t.ValidTo = 0, now.Add(2*time.Hour), now.Add(time.Hour) }, "validTo"},
		{"window over", func(t *Template) { t.ValidDays, t.ValidTo = 0, now.Add(-time.Hour) }, "validTo"},
		{"negative stock", func(t *Template) { t.Stock = -1 }, "stock"},
		{"huge stock", func(t *Template) { t.Stock = MaxStock + 1 }, "stock"},
		{"no per-user limit", func(t *Template) { t.PerUserLimit = 0 }, "perUserLimit"},
		{"per-user limit too high", func(t *Template) { t.PerUserLimit = 101 }, "perUserLimit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl := validCash()
			tt.edit(&tpl)
			err := tpl.Validate(now)
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Equal(t, apierr.BadRequest, apierr.KindOf(err))
			require.Contains(t, apierr.Message(err), `"`+tt.field+`"`)
		})
	}
}

func TestShards(t *testing.T) {
	for stock, want := range map[int64]int{0: 0, 1: 1, 5: 1, 8: 1, 9: 2, 100: 13, 500: 63, 512: 64, 1_000_000: 64} {
		require.Equal(t, want, ShardsFor(stock), "stock %d", stock)
	}
	parts := SplitStock(500, 63)
	sum := int64(0)
	for _, p := range parts {
		require.True(t, p == 7 || p == 8, p)
		sum += p
	}
	require.Equal(t, int64(500), sum)
}

func TestReplacingStock(t *testing.T) {
	prev := validCash()
	prev.Shards, prev.Issued = ShardsFor(prev.Stock), 40

	raised := validCash()
	raised.Stock = 130
	adds, err := raised.Replacing(prev)
	require.NoError(t, err)
	require.Len(t, adds, prev.Shards)
	sum := int64(0)
	for _, a := range adds {
		sum += a
	}
	require.Equal(t, int64(30), sum)
	require.Equal(t, prev.Shards, raised.Shards, "shards stay")
	require.Equal(t, int64(40), raised.Issued, "the count stays")
	require.Equal(t, int64(90), *raised.Remaining())

	same := validCash()
	adds, err = same.Replacing(prev)
	require.NoError(t, err)
	require.Empty(t, adds)

	for name, stock := range map[string]int64{"lowered": 99, "unlimited": 0} {
		t.Run(name, func(t *testing.T) {
			tpl := validCash()
			tpl.Stock = stock
			_, err := tpl.Replacing(prev)
			require.Equal(t, apierr.BadRequest, apierr.KindOf(err))
			require.Contains(t, apierr.Message(err), `"stock"`)
		})
	}
	unlimited := validCash()
	unlimited.Stock = 0
	limited := validCash()
	_, err = limited.Replacing(unlimited)
	require.Equal(t, apierr.BadRequest, apierr.KindOf(err))
}

func TestRemainingNeverNegative(t *testing.T) {
	tpl := validCash()
	tpl.Issued = 120
	require.Equal(t, int64(0), *tpl.Remaining())
	tpl.Stock = 0
	require.Nil(t, tpl.Remaining())
}

func TestCouponStatusAndRedeemability(t *testing.T) {
	base := Coupon{Tenant: "a", Status: Issued, ValidFrom: now.Add(-time.Hour), ValidTo: now.Add(time.Hour)}
	tests := []struct {
		name   string
		edit   func(*Coupon)
		tenant string
		status Status
		kind   apierr.Kind // "" when redeemable
	}{
		{"issued", func(*Coupon) {}, "a", Issued, ""},
		{"other tenant", func(*Coupon) {}, "b", Issued, apierr.CouponNotFound},
		{"redeemed", func(c *Coupon) { c.Status = Redeemed }, "a", Redeemed, apierr.AlreadyRedeemed},
		{"redeemed then expired", func(c *Coupon) { c.Status, c.ValidTo = Redeemed, now }, "a", Redeemed, apierr.AlreadyRedeemed},
		{"expired", func(c *Coupon) { c.ValidTo = now }, "a", Expired, apierr.CouponExpired},
		{"pending", func(c *Coupon) { c.Status = Pending }, "a", Pending, apierr.CouponNotActive},
		{"pending expired", func(c *Coupon) { c.Status, c.ValidTo = Pending, now.Add(-time.Second) }, "a", Expired, apierr.CouponExpired},
		{"void", func(c *Coupon) { c.Status = Void }, "a", Void, apierr.CouponNotActive},
		{"void expired", func(c *Coupon) { c.Status, c.ValidTo = Void, now.Add(-time.Second) }, "a", Void, apierr.CouponNotActive},
		{"not yet valid", func(c *Coupon) { c.ValidFrom = now.Add(time.Minute) }, "a", Issued, apierr.CouponNotActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.edit(&c)
			require.Equal(t, tt.status, c.StatusAt(now))
			err := c.redeemableAt(tt.tenant, now)
			if tt.kind == "" {
				require.NoError(t, err)
			} else {
				require.Equal(t, tt.kind, apierr.KindOf(err))
			}
		})
	}
}

func TestValidity(t *testing.T) {
	days := validCash()
	from, to := days.Validity(now)
	require.Equal(t, now, from)
	require.Equal(t, now.Add(30*24*time.Hour), to)

	window := validCash()
	window.ValidDays, window.ValidFrom, window.ValidTo = 0, now.Add(time.Hour), now.Add(48*time.Hour)
	from, to = window.Validity(now)
	require.Equal(t, window.ValidFrom, from)
	require.Equal(t, window.ValidTo, to)
	require.True(t, window.ClaimableAt(now))
	require.False(t, window.ClaimableAt(now.Add(48*time.Hour)), "claims end with the window")

	voucher := Template{Kind: Voucher, ValueFen: 19900, ValidDays: 1}
	require.Equal(t, int64(19900), voucher.couponFor("C", "u", FromClaim, now, nil).PriceFen)
}

func TestStockMemory(t *testing.T) {
	var m stockMemory
	tpl := &Template{Tenant: "a", ID: "t", Stock: 24, Shards: 3}
	seen := map[int]bool{}
	for range 200 {
		seen[m.pick(tpl)] = true
	}
	require.Equal(t, map[int]bool{0: true, 1: true, 2: true}, seen, "random over all shards")
	m.markEmpty(tpl, 0)
	m.markEmpty(tpl, 2)
	for range 50 {
		require.Equal(t, 1, m.pick(tpl))
	}
	m.markEmpty(tpl, 1)
	require.Equal(t, -1, m.pick(tpl), "all seen empty")

	raised := *tpl
	raised.Stock = 48
	require.GreaterOrEqual(t, m.pick(&raised), 0, "a raise is a fresh start")
}

func TestHeldCoupon(t *testing.T) {
	until := now.Add(7 * 24 * time.Hour)
	days := validCash()
	c := days.couponFor("C", "u", FromReferral, now, &Hold{Until: until, VisitID: "V1"})
	require.Equal(t, Pending, c.Status)
	require.Equal(t, until, c.ValidFrom, "the validity starts at release")
	require.Equal(t, until.Add(30*24*time.Hour), c.ValidTo)
	require.Equal(t, Pending, c.StatusAt(now.Add(time.Hour)))
	require.Equal(t, apierr.CouponNotActive, apierr.KindOf(c.redeemableAt(c.Tenant, now.Add(time.Hour))), "not usable on hold")
	require.Equal(t, Issued, days.couponFor("C", "u", FromClaim, now, nil).Status)
}
