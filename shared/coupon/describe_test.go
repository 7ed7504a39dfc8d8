package coupon

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Subscribe messages quote a coupon's title and validity from its events.
func TestDescribe(t *testing.T) {
	tests := []struct {
		name string
		c    Coupon
		want map[string]any
	}{
		{"with an end", Coupon{Title: "新客到院礼", ValidTo: time.Date(2026, 3, 31, 15, 59, 59, 0, time.FixedZone("CST", 8*3600))},
			map[string]any{"couponCode": "X", "title": "新客到院礼", "validTo": "2026-03-31T07:59:59Z"}},
		{"without", Coupon{Title: "礼"}, map[string]any{"couponCode": "X", "title": "礼"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := map[string]any{"couponCode": "X"}
			tt.c.describe(data)
			require.Equal(t, tt.want, data)
		})
	}
}
