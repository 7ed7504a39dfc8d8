package api

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddbtest"
)

func (s *stack) codeOf(as who) string {
	s.t.Helper()
	r := s.do(call{fn: "referral", route: "POST /v1/referral/code", as: as})
	require.Equal(s.t, 200, r.Status, r.Body)
	return r.JSON(s.t)["code"].(string)
}

func (s *stack) bind(as who, code string) reply {
	return s.do(call{fn: "referral", route: "POST /v1/referral/bind", as: as, body: fmt.Sprintf(`{"code":%q}`, code)})
}

// markPatient records a clinic visit the way the visits route does: the
// PATIENT item in the user's partition.
func (s *stack) markPatient(tenant, user string) {
	s.t.Helper()
	_, err := s.db.Client.PutItem(context.Background(), &dynamodb.PutItemInput{
		TableName: aws.String(s.db.Table),
		Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "T#" + tenant + "#U#" + user},
			"sk": &types.AttributeValueMemberS{Value: "PATIENT"},
		},
	})
	require.NoError(s.t, err)
}

var wechatScene = regexp.MustCompile(`^[0-9A-Za-z!#$&'()*+,/:;=?@._~-]{1,32}$`)

func TestReferralCodeIsTheSameOnEveryCall(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	alice := patient("clinic-a", "alice")
	replies := s.concurrently(30, func(int) call {
		return call{fn: "referral", route: "POST /v1/referral/code", as: alice}
	})
	codes := map[string]bool{}
	for _, r := range replies {
		require.Equal(t, 200, r.Status, r.Body)
		body := r.JSON(t)
		codes[body["code"].(string)] = true
		require.Regexp(t, wechatScene, body["scene"])
		require.Regexp(t, `^/pages/landing/index\?r=`, body["miniProgramPath"])
		require.Regexp(t, `^https://h5\.example\.com/s\?r=`, body["shareUrl"])
	}
	require.Len(t, codes, 1, "30 concurrent calls, one code")
	for code := range codes {
		require.Equal(t, code, s.codeOf(alice), "and the same code later")
	}
}

func TestResolveCode(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	code := s.codeOf(patient("clinic-a", "alice"))
	tests := []struct {
		name   string
		code   string
		status int
		errc   string
	}{
		{"exact", code, 200, ""},
		{"lower case", toLower(code), 200, ""},
		{"unknown", "ZZZZZZZZZ", 404, "CODE_NOT_FOUND"},
		{"malformed", "not-a-code!", 404, "CODE_NOT_FOUND"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(call{fn: "referral", route: "GET /v1/r/{code}", params: map[string]string{"code": tt.code}})
			require.Equal(t, tt.status, r.Status, r.Body)
			if tt.errc != "" {
				require.Equal(t, tt.errc, r.Code(t))
				return
			}
			body := r.JSON(t)
			require.Equal(t, code, body["code"])
			require.Equal(t, "clinic-a", body["tenant"])
			require.Equal(t, map[string]any{"displayName": "张***"}, body["referrer"], "masked")
			require.Contains(t, body, "newcomerOffer")
			require.Contains(t, body, "clinic")
		})
	}
}

// A landing names its clinic from the settings, may be cached by browsers
// and CDNs, and writes nothing.
func TestLandingNamesTheClinic(t *testing.T) {
	t.Parallel()
	s := newStack(t, ddbtest.WithoutStream())
	code := s.codeOf(patient("clinic-a", "alice"))
	get := func() reply {
		return s.do(call{fn: "referral", route: "GET /v1/r/{code}", params: map[string]string{"code": code}})
	}

	r := get()
	require.Equal(t, 200, r.Status, r.Body)
	require.Nil(t, r.JSON(t)["clinic"], "no profile set yet")
	require.Equal(t, "public, max-age=60", r.Headers["cache-control"])

	s.settings("clinic-a", `{"clinic":{"name":" 悦颜医疗美容门诊部 ","address":"上海市静安区南京西路1266号","phone":"021-6288 0000"}}`)
	r = get()
	require.Equal(t, 200, r.Status, r.Body)
	require.Equal(t, map[string]any{"name": "悦颜医疗美容门诊部", "address": "上海市静安区南京西路1266号", "phone": "021-6288 0000"}, r.JSON(t)["clinic"])
	require.Equal(t, "public, max-age=60", r.Headers["cache-control"])
	require.Equal(t, 0, r.Calls.Writes(), "a read route only reads: %v", r.Calls.Ops())
	require.Equal(t, 1, r.Calls.Reads(), "the code; the settings are cached: %v", r.Calls.Ops())

	miss := s.do(call{fn: "referral", route: "GET /v1/r/{code}", params: map[string]string{"code": "ZZZZZZZZZ"}})
	require.Equal(t, 404, miss.Status)
	require.Equal(t, "no-store", miss.Headers["cache-control"], "an error is not cached")
}

// The clinic's profile as an admin sets it: a name when given, bounded.
func TestClinicProfileSettings(t *testing.T) {
	t.Parallel()
	s := newStack(t, ddbtest.WithoutStream())
	tests := []struct {
		name   string
		clinic string
		status int
	}{
		{"name, address and phone", `{"name":"悦颜","address":"南京西路1266号","phone":"+86 21 6288 0000"}`, 200},
		{"name alone", `{"name":"悦颜"}`, 200},
		{"no name", `{"address":"南京西路1266号"}`, 400},
		{"blank name", `{"name":"  "}`, 400},
		{"long name", fmt.Sprintf(`{"name":%q}`, strings.Repeat("悦", 61)), 400},
		{"long address", fmt.Sprintf(`{"name":"悦颜","address":%q}`, strings.Repeat("路", 121)), 400},
		{"a phone of letters", `{"name":"悦颜","phone":"call us"}`, 400},
		{"a name of the wrong type", `{"name":3}`, 400},
		{"unknown field", `{"name":"悦颜","wechat":"x"}`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.putSettings("clinic-a", `{"clinic":`+tt.clinic+`}`)
			require.Equal(t, tt.status, r.Status, r.Body)
			if tt.status == 400 {
				require.Equal(t, "BAD_REQUEST", r.Code(t))
				return
			}
			got := s.do(call{fn: s.referralAdminFn(), route: "GET /v1/admin/settings", as: couponAdmin("clinic-a")})
			require.JSONEq(t, tt.clinic, mustJSON(t, got.JSON(t)["clinic"]))
		})
	}
}

// Opening a share link is counted with one write and no read, whether or
// not the code exists (the answer never tells); malformed codes write
// nothing.
func TestOpenCountsWithOneWrite(t *testing.T) {
	t.Parallel()
	s := newStack(t, ddbtest.WithoutStream())
	code := s.codeOf(patient("clinic-a", "alice"))
	tests := []struct {
		name   string
		code   string
		writes int
	}{
		{"known", code, 1},
		{"lower case", toLower(code), 1},
		{"unknown", "ZZZZZZZZZ", 1},
		{"malformed", "not-a-code!", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(call{fn: "referral", route: "POST /v1/r/{code}/open", params: map[string]string{"code": tt.code}})
			require.Equal(t, 204, r.Status, r.Body)
			require.Empty(t, r.Body)
			require.Equal(t, 0, r.Calls.Reads(), "%v", r.Calls.Ops())
			require.Equal(t, tt.writes, r.Calls.Writes(), "%v", r.Calls.Ops())
		})
	}
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func TestFirstBindWins(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	codes := make([]string, 30)
	for i := range codes {
		codes[i] = s.codeOf(patient("clinic-a", fmt.Sprintf("referrer-%02d", i)))
	}
	newcomer := patient("clinic-a", "newcomer")
	replies := s.concurrently(30, func(i int) call {
		return call{fn: "referral", route: "POST /v1/referral/bind", as: newcomer, body: fmt.Sprintf(`{"code":%q}`, codes[i])}
	})
	require.Equal(t, map[int]int{200: 1, 409: 29}, statuses(replies))
	winner := -1
	for i, r := range replies {
		if r.Status == 409 {
			require.Equal(t, "ALREADY_BOUND", r.Code(t))
		} else {
			winner = i
		}
	}
	// Binding again to the winning code answers the same 200.
	first := replies[winner].JSON(t)
	again := s.bind(newcomer, codes[winner])
	require.Equal(t, 200, again.Status, again.Body)
	require.Equal(t, first, again.JSON(t))

	// Exactly one referrer sees the newcomer.
	seen := 0
	for i := range codes {
		r := s.do(call{fn: "referral", route: "GET /v1/referral/me", as: patient("clinic-a", fmt.Sprintf("referrer-%02d", i))})
		require.Equal(t, 200, r.Status)
		refs := r.JSON(t)["referrals"].([]any)
		seen += len(refs)
		if i == winner {
			require.Len(t, refs, 1)
			require.Equal(t, "BOUND", refs[0].(map[string]any)["stage"])
			require.Equal(t, "张***", refs[0].(map[string]any)["displayName"], "masked")
			require.Equal(t, map[string]any{"bound": 1.0, "qualified": 0.0, "rewarded": 0.0}, r.JSON(t)["counts"])
		}
	}
	require.Equal(t, 1, seen)
}

func TestBindRules(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	alice := patient("clinic-a", "alice")
	alice["phone_number"] = "+8613800138000"
	aliceCode := s.codeOf(alice)

	bob := patient("clinic-a", "bob")
	require.Equal(t, 200, s.bind(bob, aliceCode).Status)
	bobCode := s.codeOf(bob)

	aliceOtherAccount := patient("clinic-a", "alice-2")
	aliceOtherAccount["phone_number"] = "138 0013 8000"

	returning := patient("clinic-a", "carol")
	s.markPatient("clinic-a", "carol")

	desk := staff("clinic-a", "desk-1")
	otherTenant := patient("clinic-b", "dave")

	tests := []struct {
		name   string
		as     who
		code   string
		status int
		errc   string
	}{
		{"own code", alice, aliceCode, 422, "SELF_REFERRAL"},
		{"own phone on another account", aliceOtherAccount, aliceCode, 422, "SELF_REFERRAL"},
		{"loop A→B→A", alice, bobCode, 422, "REFERRER_NOT_ELIGIBLE"},
		{"existing patient", returning, aliceCode, 422, "NOT_A_NEW_PATIENT"},
		{"staff as referee", desk, aliceCode, 422, "NOT_A_NEW_PATIENT"},
		{"another tenant's code", otherTenant, aliceCode, 404, "CODE_NOT_FOUND"},
		{"unknown code", patient("clinic-a", "erin"), "ZZZZZZZZZ", 404, "CODE_NOT_FOUND"},
		{"bound elsewhere", bob, s.codeOf(patient("clinic-a", "frank")), 409, "ALREADY_BOUND"},
		{"missing code", patient("clinic-a", "gina"), "", 400, "BAD_REQUEST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.bind(tt.as, tt.code)
			require.Equal(t, tt.status, r.Status, r.Body)
			require.Equal(t, tt.errc, r.Code(t))
		})
	}

	t.Run("staff get no code", func(t *testing.T) {
		r := s.do(call{fn: "referral", route: "POST /v1/referral/code", as: desk})
		require.Equal(t, 422, r.Status)
		require.Equal(t, "REFERRER_NOT_ELIGIBLE", r.Code(t))
	})
}

func TestReferralIdempotency(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	code := s.codeOf(patient("clinic-a", "alice"))
	other := s.codeOf(patient("clinic-a", "zoe"))
	newcomer := patient("clinic-a", "newcomer")
	key := map[string]string{"Idempotency-Key": "bind-1"}

	first := s.do(call{fn: "referral", route: "POST /v1/referral/bind", as: newcomer, headers: key, body: fmt.Sprintf(`{"code":%q}`, code)})
	require.Equal(t, 200, first.Status, first.Body)
	replay := s.do(call{fn: "referral", route: "POST /v1/referral/bind", as: newcomer, headers: key, body: fmt.Sprintf(`{"code":%q}`, code)})
	require.Equal(t, first.Status, replay.Status)
	require.Equal(t, first.Body, replay.Body, "the stored response, byte for byte")
	require.Zero(t, replay.Calls.Writes()-1, "a replay does no work: only the claim attempt")

	reused := s.do(call{fn: "referral", route: "POST /v1/referral/bind", as: newcomer, headers: key, body: fmt.Sprintf(`{"code":%q}`, other)})
	require.Equal(t, 422, reused.Status, reused.Body)
	require.Equal(t, "IDEMPOTENCY_KEY_REUSED", reused.Code(t))

	// The same key from another user is theirs alone.
	mine := s.do(call{fn: "referral", route: "POST /v1/referral/bind", as: patient("clinic-a", "other-newcomer"), headers: key, body: fmt.Sprintf(`{"code":%q}`, other)})
	require.Equal(t, 200, mine.Status, mine.Body)

	tooLong := s.do(call{fn: "referral", route: "POST /v1/referral/bind", as: newcomer, headers: map[string]string{"Idempotency-Key": string(make([]byte, 256))}, body: `{"code":"x"}`})
	require.Equal(t, 400, tooLong.Status)
}

// Each user-facing write makes one write call and at most one read; each
// read route one call (docs/DESIGN.md, data rules).
func TestReferralCallBudget(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	alice := patient("clinic-a", "alice")
	s.deps.Settings.Get(context.Background(), "clinic-a") // settings are cached config
	var code string
	tests := []struct {
		name          string
		c             func() call
		reads, writes int
	}{
		{"first code", func() call { return call{fn: "referral", route: "POST /v1/referral/code", as: alice} }, 1, 1},
		{"existing code", func() call { return call{fn: "referral", route: "POST /v1/referral/code", as: alice} }, 1, 0},
		{"resolve", func() call {
			return call{fn: "referral", route: "GET /v1/r/{code}", params: map[string]string{"code": code}}
		}, 1, 0},
		{"open", func() call {
			return call{fn: "referral", route: "POST /v1/r/{code}/open", params: map[string]string{"code": code}}
		}, 0, 1},
		{"open unknown", func() call {
			return call{fn: "referral", route: "POST /v1/r/{code}/open", params: map[string]string{"code": "ZZZZZZZZZ"}}
		}, 0, 1},
		{"resolve unknown", func() call {
			return call{fn: "referral", route: "GET /v1/r/{code}", params: map[string]string{"code": "ZZZZZZZZZ"}}
		}, 1, 0},
		{"bind", func() call {
			return call{fn: "referral", route: "POST /v1/referral/bind", as: patient("clinic-a", "bob"), body: fmt.Sprintf(`{"code":%q}`, code)}
		}, 1, 1},
		{"bind again", func() call {
			return call{fn: "referral", route: "POST /v1/referral/bind", as: patient("clinic-a", "bob"), body: fmt.Sprintf(`{"code":%q}`, code)}
		}, 1, 1},
		{"me", func() call { return call{fn: "referral", route: "GET /v1/referral/me", as: alice} }, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(tt.c())
			require.Less(t, r.Status, 500, r.Body)
			if code == "" {
				code, _ = r.JSON(t)["code"].(string)
			}
			require.Equal(t, tt.reads, r.Calls.Reads(), "reads: %v", r.Calls.Ops())
			require.Equal(t, tt.writes, r.Calls.Writes(), "writes: %v", r.Calls.Ops())
		})
	}
}

// TestSelfReferralByPhoneHoweverWritten: a phone claim is compared in its
// E.164 form, so a second account with the referrer's number is the same
// person however the number is written; a claim that is no plausible number
// is ignored, neither matching nor blocking anyone.
func TestSelfReferralByPhoneHoweverWritten(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	referrer := patient("clinic-a", "wang")
	referrer["phone_number"] = "13800138000"
	code := s.codeOf(referrer)
	vague := patient("clinic-a", "vague")
	vague["phone_number"] = "12345"
	vagueCode := s.codeOf(vague)

	tests := []struct {
		name   string
		phone  string
		code   string
		status int
		errc   string
	}{
		{"00 for +", "0086 13800138000", code, 422, "SELF_REFERRAL"},
		{"(0) trunk digit", "+86 (0)13800138000", code, 422, "SELF_REFERRAL"},
		{"full-width digits", "１３８００１３８０００", code, 422, "SELF_REFERRAL"},
		{"dashes", "+86 138-0013-8000", code, 422, "SELF_REFERRAL"},
		{"another number", "+86 139 0013 9000", code, 200, ""},
		{"letters in the number: ignored", "1380013800O", code, 200, ""},
		{"the same implausible number: ignored", "12345", vagueCode, 200, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			friend := patient("clinic-a", fmt.Sprintf("friend-%d", i))
			friend["phone_number"] = tt.phone
			r := s.bind(friend, tt.code)
			require.Equal(t, tt.status, r.Status, r.Body)
			if tt.errc != "" {
				require.Equal(t, tt.errc, r.Code(t))
			}
		})
	}
}
