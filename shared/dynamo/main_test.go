package dynamo

import (
	"testing"

	"github.com/laoyou/laoyou/infra/ddbtest"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }
