package chaos

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddbtest"
)

// beforeFirst runs fn once, just before the first call of op is sent: a
// way to make other requests land between a request's read and its write.
func beforeFirst(op string, fn func()) func(*dynamodb.Options) {
	var once sync.Once
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("ChaosBeforeFirst",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					if middleware.GetOperationName(ctx) == op {
						once.Do(fn)
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.After)
		})
	}
}

// TestDealSavedWhileSeatsAreTaken: an admin saves a deal (a new title,
// the same stock) while patients take its last seats. SaveDeal splits the
// stock over the shards from the seats it read; the caps it writes must
// not let more seats out than the stock, whatever landed in between.
func TestDealSavedWhileSeatsAreTaken(t *testing.T) {
	t.Parallel()
	const stock = 100 // two shards of 50
	db := ddbtest.New(t)
	calm := newSystem(db.Endpoint, db.Table, db.Client, db.Client)
	setUp(t, calm)
	ctx := context.Background()
	dealBody := func(title string) string {
		return fmt.Sprintf(`{"title":%q,"sku":"HOT-1","priceFen":59900,"groupPriceFen":39900,"groupSize":2,"ttlSeconds":3600,"stock":%d,"perUserLimit":1,"newcomersOnly":false}`, title, stock)
	}
	saveDeal := func(sys *system, title string) {
		resp := sys.invoke(ctx, request{fn: "admin", route: "PUT /v1/admin/deals/{dealId}", params: map[string]string{"dealId": "hot"}, body: dealBody(title), as: adminOf(clinic)}, "")
		require.Equal(t, http.StatusOK, resp.StatusCode, resp.Body)
	}
	// openAll opens rooms, one seat each, by fresh leaders until n are
	// open or the deal is sold out; it returns how many opened.
	openAll := func(sys *system, who string, n int) int {
		for i := 0; i < n; i++ {
			resp := sys.invoke(ctx, request{fn: "groupbuy", route: "POST /v1/groups", body: `{"dealId":"hot"}`, as: patientOf(clinic, fmt.Sprintf("%s%03d", who, i))}, "")
			if resp.StatusCode != http.StatusCreated {
				require.Contains(t, resp.Body, "SOLD_OUT")
				return i
			}
		}
		return n
	}
	seats := func() (held int, shards []SeatShard) {
		tab, err := Scan(ctx, db.Client, db.Table)
		require.NoError(t, err)
		for _, sh := range tab.SeatShards {
			if sh.DealID == "hot" {
				held += sh.Taken
				shards = append(shards, sh)
			}
		}
		return held, shards
	}

	saveDeal(calm, "闺蜜卡")
	opened := openAll(calm, "early", 60)
	require.Equal(t, 60, opened)
	_, shards := seats()
	require.Len(t, shards, 2)
	for shards[0].Taken == shards[1].Taken {
		opened += openAll(calm, fmt.Sprintf("tie%d-", opened), 1) // seats are spread at random; the race needs them uneven
		_, shards = seats()
	}

	// The admin's save reads the shards, then the last seats go, then it
	// writes the caps it computed from what it read.
	raced := 0
	admin := newSystem(db.Endpoint, db.Table, db.NewClient(t, beforeFirst("TransactWriteItems", func() {
		raced = openAll(newSystem(db.Endpoint, db.Table, db.Client, db.Client), "racer", stock)
	})), db.Client)
	admin.timeout = time.Minute // the racing opens run inside the save's invocation
	saveDeal(admin, "闺蜜卡 (new photo)")
	late := openAll(newSystem(db.Endpoint, db.Table, db.Client, db.Client), "late", stock)

	held, shards := seats()
	t.Logf("seats: %d before the save, %d taken while it ran, %d after it; shards now %+v", opened, raced, late, shards)
	tab, err := Scan(ctx, db.Client, db.Table)
	require.NoError(t, err)
	require.LessOrEqual(t, held, stock, "never more seats than stock")
	require.Empty(t, tab.Check(Settled{}))
}
