package runner

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/localauth"
)

func TestRouteMatching(t *testing.T) {
	table, err := newRouteTable([]Route{
		{Function: "groups", Method: "POST", Path: "/v1/groups/{groupId}/join"},
		{Function: "groups", Method: "GET", Path: "/v1/groups/{groupId}"},
		{Function: "groups", Method: "GET", Path: "/v1/groups/mine"},
		{Function: "any", Method: "ANY", Path: "/v1/things/{id}"},
		{Function: "get", Method: "GET", Path: "/v1/things/{id}"},
		{Function: "proxy", Method: "ANY", Path: "/v1/files/{proxy+}"},
		{Function: "files", Method: "GET", Path: "/v1/files/{dir}/meta"},
		{Function: "root", Method: "GET", Path: "/"},
		{Function: "code", Method: "GET", Path: "/v1/r/{code}"},
	})
	require.NoError(t, err)

	tests := []struct {
		name, method, path string
		wantKey            string // "" = no match
		wantParams         map[string]string
	}{
		{"parameter in the middle", "POST", "/v1/groups/g-1/join", "POST /v1/groups/{groupId}/join", map[string]string{"groupId": "g-1"}},
		{"method must match", "GET", "/v1/groups/g-1/join", "", nil},
		{"literal beats parameter", "GET", "/v1/groups/mine", "GET /v1/groups/mine", nil},
		{"parameter when literal differs", "GET", "/v1/groups/other", "GET /v1/groups/{groupId}", map[string]string{"groupId": "other"}},
		{"exact method beats ANY", "GET", "/v1/things/7", "GET /v1/things/{id}", map[string]string{"id": "7"}},
		{"ANY matches other methods", "DELETE", "/v1/things/7", "ANY /v1/things/{id}", map[string]string{"id": "7"}},
		{"greedy takes the rest", "PUT", "/v1/files/a/b/c.txt", "ANY /v1/files/{proxy+}", map[string]string{"proxy": "a/b/c.txt"}},
		{"parameter route beats greedy", "GET", "/v1/files/a/meta", "GET /v1/files/{dir}/meta", map[string]string{"dir": "a"}},
		{"greedy needs a segment", "GET", "/v1/files/", "", nil},
		{"greedy needs a segment (no slash)", "GET", "/v1/files", "", nil},
		{"parameter is URL-decoded", "GET", "/v1/r/a%20b%2Fc", "GET /v1/r/{code}", map[string]string{"code": "a b/c"}},
		{"parameter is not empty", "GET", "/v1/r/", "", nil},
		{"root", "GET", "/", "GET /", nil},
		{"too long", "GET", "/v1/groups/g-1/x/y", "", nil},
		{"too short", "POST", "/v1/groups", "", nil},
		{"unknown", "GET", "/nope", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt, params := table.find(tc.method, tc.path)
			if tc.wantKey == "" {
				require.Nil(t, rt)
				return
			}
			require.NotNil(t, rt)
			require.Equal(t, tc.wantKey, rt.key)
			require.Equal(t, tc.wantParams, params)
		})
	}
}

func TestDefaultRouteFallback(t *testing.T) {
	table, err := newRouteTable([]Route{
		{Function: "api", Method: "GET", Path: "/v1/ping"},
		{Function: "fallback", Method: "ANY", Path: "$default"},
	})
	require.NoError(t, err)

	rt, params := table.find("GET", "/v1/ping")
	require.Equal(t, "GET /v1/ping", rt.key)
	require.Nil(t, params)

	for _, p := range []string{"/v1/pong", "/", "/v1/ping/extra"} {
		rt, params = table.find("POST", p)
		require.Equal(t, "$default", rt.key, p)
		require.Nil(t, params)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	h := func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{}, nil
	}
	auth, err := localauth.New("")
	require.NoError(t, err)
	tests := []struct {
		name   string
		routes []Route
		auth   *localauth.Authority
	}{
		{"function without handler", []Route{{Function: "missing", Method: "GET", Path: "/x"}}, auth},
		{"protected route without authority", []Route{{Function: "f", Method: "GET", Path: "/x"}}, nil},
		{"duplicate route", []Route{{Function: "f", Method: "GET", Path: "/x/{a}", Public: true}, {Function: "f", Method: "GET", Path: "/x/{b}", Public: true}}, nil},
		{"greedy not last", []Route{{Function: "f", Method: "GET", Path: "/x/{p+}/y", Public: true}}, nil},
		{"relative path", []Route{{Function: "f", Method: "GET", Path: "x", Public: true}}, nil},
		{"repeated variable", []Route{{Function: "f", Method: "GET", Path: "/{a}/{a}", Public: true}}, nil},
		{"broken braces", []Route{{Function: "f", Method: "GET", Path: "/x{a}", Public: true}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Config{Routes: tc.routes, HTTP: map[string]HTTPHandler{"f": h}, Auth: tc.auth})
			require.Error(t, err)
		})
	}

	_, err = New(Config{
		Routes: []Route{{Function: "f", Method: "get", Path: "/x/{a}"}, {Function: "f", Method: "ANY", Path: "$default", Public: true}},
		HTTP:   map[string]HTTPHandler{"f": h},
		Auth:   auth,
	})
	require.NoError(t, err)
}
