package api

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// viewCase is an answer's view and the exact JSON it must marshal to: the
// bytes are the contract (openapi.yaml), and a keyed retry replays a stored
// answer byte for byte, so field names, order, omitted fields, null and []
// all count.
type viewCase struct {
	name string
	view any
	want string
}

func requireViewBytes(t *testing.T, cases []viewCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := json.Marshal(c.view)
			require.NoError(t, err)
			require.Equal(t, c.want, string(b))
		})
	}
}
