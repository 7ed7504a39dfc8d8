package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// FuzzHandle feeds arbitrary bodies, encodings, headers and claims through
// the whole request layer: whatever arrives, the answer is a 4xx or the
// route's success with a JSON body in the API's shape, never a 5xx.
func FuzzHandle(f *testing.F) {
	f.Add(`{"name":"x","count":1}`, false, "", "patient", "t1")
	f.Add(`{"name":"x","count":-1}`, false, "k1", "admin", "t1")
	f.Add(`{"name":1}`, false, "", "patient", "")
	f.Add(`eyJuYW1lIjoieCIsImNvdW50IjoxfQ==`, true, "", "staff", "t1")
	f.Add(`{"name":"x","count":1}{}`, false, "", "nobody", "t1")
	f.Add(`{"count":1e400}`, false, "", "patient", "t1")
	f.Add("\xff\xfe", true, "", "patient", "t1")
	f.Add(`{"name":"x","count":1,"name":"y"}`, false, "", "patient", "t1")
	f.Add(`{"name":"x","count":1,"Name":"y"}`, false, "", "patient", "t1")
	f.Add(`{"NAME":"x","count":1}`, false, "", "patient", "t1")
	f.Add(`{"name":"x","count":1,"\u006eame":"y"}`, false, "", "patient", "t1")
	f.Add("{\"name\":\"x\",\"count\":1,\"\u212aount\":2}", false, "", "patient", "t1")
	f.Add(`{ "name" : "x" , "count" : 1 }`, false, "", "patient", "t1")
	api := testAPI()
	allowed := map[int]bool{
		http.StatusCreated: true, http.StatusBadRequest: true, http.StatusUnauthorized: true,
		http.StatusForbidden: true, http.StatusNotFound: true, http.StatusRequestEntityTooLarge: true,
	}
	f.Fuzz(func(t *testing.T, body string, b64 bool, idemKey, role, tenant string) {
		ev := events.APIGatewayV2HTTPRequest{
			RouteKey:        "POST /echo",
			Body:            body,
			IsBase64Encoded: b64,
			Headers:         map[string]string{"content-type": "application/json"},
		}
		ev.RequestContext.RequestID = "fuzz"
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
				Claims: map[string]string{"sub": "u1", "tenant": tenant, "role": role},
			},
		}
		if idemKey != "" {
			// No guard in testAPI: the key is validated, not stored.
			ev.Headers["idempotency-key"] = idemKey
		}
		resp, err := api.Handle(context.Background(), ev)
		if err != nil {
			t.Fatalf("Handle returned an error: %v", err)
		}
		if !allowed[resp.StatusCode] {
			t.Fatalf("status %d for body %q: %s", resp.StatusCode, body, resp.Body)
		}
		var out map[string]any
		if err := json.Unmarshal([]byte(resp.Body), &out); err != nil {
			t.Fatalf("body is not a JSON object: %q", resp.Body)
		}
		if resp.StatusCode >= 400 && resp.StatusCode != http.StatusUnauthorized {
			e, _ := out["error"].(map[string]any)
			if code, _ := e["code"].(string); code == "" {
				t.Fatalf("error without a code: %s", resp.Body)
			}
		}
	})
}
