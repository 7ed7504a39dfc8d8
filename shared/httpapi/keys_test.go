package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/apierr"
)

type keysInner struct {
	TemplateID string `json:"templateId"`
	Count      int    `json:"count"`
}

type keysBase struct {
	Base string `json:"base"`
}

type keysRequest struct {
	keysBase
	Code       string            `json:"code"`
	TemplateID string            `json:"templateId"`
	Inner      *keysInner        `json:"inner"`
	List       []keysInner       `json:"list"`
	Data       map[string]string `json:"data"`
	Any        any               `json:"any"`
	Raw        json.RawMessage   `json:"raw"`
	At         *time.Time        `json:"at"`
	NoTag      string
	Ignored    string `json:"-"`
	unexposed  string //nolint:unused // an unexported field is no JSON name
}

func (*keysRequest) Valid() error { return nil }

// manyKeys are more keys than one object compares pairwise.
var manyKeys = func() string {
	keys := make([]string, 24)
	for i := range keys {
		keys[i] = fmt.Sprintf(`"k%d":"v"`, i)
	}
	return strings.Join(keys, ",")
}()

func TestDecodeRefusesRepeatedAndMiscasedKeys(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string // "" when accepted; else a part of the message
	}{
		{"every field as declared", `{"base":"b","code":"a","inner":{"templateId":"t","count":1},"list":[{"templateId":"t"}],"data":{"k":"v","K2":"w"},"any":{"a":1},"raw":{"x":[1]},"at":"2026-01-02T03:04:05Z","NoTag":"n"}`, ""},
		{"the same key in two objects", `{"inner":{"count":1},"list":[{"count":1},{"count":2}]}`, ""},
		{"repeated key", `{"code":"a","code":"b"}`, `field "code" appears twice`},
		{"keys differing in case", `{"templateId":"a","TemplateID":"b"}`, `differ only in case`},
		{"nested keys differing in case", `{"inner":{"templateId":"a","TemplateID":"b"}}`, `fields "inner.templateId" and "inner.TemplateID" differ only in case`},
		{"repeated key in an array element", `{"list":[{"count":1},{"count":1,"count":2}]}`, `field "list[1].count" appears twice`},
		{"repeated key in a map", `{"data":{"k":"a","k":"b"}}`, `field "data.k" appears twice`},
		{"map keys differing in case", `{"data":{"k":"a","K":"b"}}`, `differ only in case`},
		{"repeated key inside any", `{"any":{"deep":[{"x":1,"x":2}]}}`, `field "any.deep[0].x" appears twice`},
		{"repeated key inside a raw message", `{"raw":{"x":1,"x":2}}`, `field "raw.x" appears twice`},
		{"Kelvin sign folds with k", "{\"data\":{\"k\":\"a\",\"\u212a\":\"b\"}}", `differ only in case`},
		{"many distinct keys", `{"data":{` + manyKeys + `}}`, ""},
		{"many keys, then one repeated", `{"data":{` + manyKeys + `,"k3":"x"}}`, `field "data.k3" appears twice`},
		{"many keys, then one in another case", `{"data":{` + manyKeys + `,"K19":"x"}}`, `fields "data.k19" and "data.K19" differ only in case`},
		{"many keys, then the Kelvin sign", "{\"data\":{" + manyKeys + ",\"\u212a7\":\"x\"}}", "fields \"data.k7\" and \"data.\u212a7\" differ only in case"},
		{"an escaped repeat", `{"code":"a","\u0063ode":"b"}`, `field "code" appears twice`},
		{"field in another case alone", `{"Code":"a"}`, `unknown field "Code"`},
		{"nested field in another case", `{"inner":{"TemplateID":"a"}}`, `unknown field "inner.TemplateID"`},
		{"embedded field in another case", `{"BASE":"a"}`, `unknown field "BASE"`},
		{"untagged field in another case", `{"notag":"a"}`, `unknown field "notag"`},
		{"an unknown field", `{"nope":1}`, `unknown field "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v keysRequest
			err := Decode(&Request{Body: []byte(tt.body)}, &v)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.Equal(t, apierr.BadRequest, apierr.KindOf(err), "%v", err)
			require.Contains(t, apierr.Message(err), tt.want)
		})
	}
}

func TestHandleRefusesRepeatedKeys(t *testing.T) {
	for _, body := range []string{`{"name":"x","count":1,"name":"y"}`, `{"name":"x","count":1,"Name":"y"}`, `{"Name":"x","count":1}`} {
		resp, err := testAPI().Handle(context.Background(), event("POST /echo", body, map[string]string{"sub": "u1", "tenant": "t1", "role": "patient"}))
		require.NoError(t, err)
		require.Equal(t, 400, resp.StatusCode, body)
		require.Contains(t, resp.Body, `"code":"BAD_REQUEST"`)
	}
}

var keysRequestType = reflect.TypeFor[*keysRequest]()

// BenchmarkDecode is Decode on a settings-sized body; the KeysOnly variant
// says what the key check costs beside the decoding itself.
func BenchmarkDecode(b *testing.B) {
	body := []byte(`{"base":"b","code":"a","inner":{"templateId":"welcome-100","count":3},"list":[{"templateId":"a","count":1},{"templateId":"b","count":2},{"templateId":"c","count":3}],"data":{"thing1":"{deal.title}","time2":"{event.time}"},"NoTag":"` + strings.Repeat("x", 64) + `"}`)
	b.Run("Decode", func(b *testing.B) {
		for b.Loop() {
			var v keysRequest
			if err := Decode(&Request{Body: body}, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("KeysOnly", func(b *testing.B) {
		for b.Loop() {
			if err := checkKeys(body, keysRequestType); err != nil {
				b.Fatal(err)
			}
		}
	})
}
