// Package config reads a function's configuration from its environment, as
// template.yaml sets it in AWS and the local runner sets it locally.
package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is every setting a Laoyou function reads.
type Config struct {
	Table           string // TABLE_NAME: the one DynamoDB table
	Endpoint        string // DYNAMODB_ENDPOINT: any other DynamoDB (local, a container); empty in AWS
	Region          string // AWS_REGION
	ShareBaseURL    string // SHARE_BASE_URL: H5 landing base for shareUrl
	MiniProgramPage string // MINI_PROGRAM_PAGE: the page miniProgramPath opens
	PhonePepper     string // PHONE_PEPPER: secret for phone number HMACs
	LogLevel        string // LOG_LEVEL: DEBUG, INFO, WARN or ERROR
	Stage           string // STAGE: deployment stage
	WeChatAPIBase   string // WECHAT_API_BASE: a stand-in of WeChat's server API; empty: WeChat's own
	// Sign-in tokens Laoyou issues itself (see shared/token).
	IssuerURL     string // ISSUER_URL: the tokens' iss, this API's base URL; its discovery document is served under it
	TokenAudience string // TOKEN_AUDIENCE: the tokens' aud, one of the JWT authorizer's audiences
	// TOKEN_KEY_ID is the KMS key that signs tokens; PREVIOUS_TOKEN_KEY_IDS
	// (comma-separated) are keys rotated out whose tokens may still be live.
	TokenKeyID          string
	PreviousTokenKeyIDs []string
	SecretsKeyID        string // SECRETS_KEY_ID: the KMS key that seals tenants' WeChat app secrets

	// WEBHOOK_ALLOW_LOOPBACK=true lets webhook rules use http:// URLs on
	// loopback (127.0.0.1, ::1, localhost). Only the local runner sets it; in
	// AWS every webhook URL must be https.
	AllowLoopbackWebhooks bool

	// Retention of the items that only record what happened (see Retention).
	Retention Retention
}

// Retention is how long the table keeps the items that only record what
// happened before its TTL deletes them. TTL only cleans up: deletion lags
// by up to days, and nothing correct depends on it. A zero field means the
// default (DefaultRetention), so a Config built in code keeps items as a
// deployed function does.
type Retention struct {
	Events          time.Duration // EVENT_RETENTION_DAYS: event (outbox) items, delivered by the stream within a day
	IdempotencyKeys time.Duration // IDEMPOTENCY_KEY_HOURS: Idempotency-Key records, replayed this long; at least 24 hours
	Clicks          time.Duration // CLICK_RETENTION_DAYS: opened share links, counted from the stream within a day
	DeadLetters     time.Duration // DEAD_LETTER_RETENTION_DAYS: webhooks and subscribe messages given up on, listable by admins
}

// DefaultRetention is the retention of template.yaml's parameter defaults.
var DefaultRetention = Retention{
	Events:          180 * 24 * time.Hour,
	IdempotencyKeys: 25 * time.Hour,
	Clicks:          24 * time.Hour,
	DeadLetters:     90 * 24 * time.Hour,
}

// MinIdempotencyKeyRetention is the contract's floor: keys are kept at
// least 24 hours.
const MinIdempotencyKeyRetention = 24 * time.Hour

// OrDefault is r with every zero field set to its default.
func (r Retention) OrDefault() Retention {
	or := func(d, def time.Duration) time.Duration {
		if d <= 0 {
			return def
		}
		return d
	}
	return Retention{
		Events:          or(r.Events, DefaultRetention.Events),
		IdempotencyKeys: or(r.IdempotencyKeys, DefaultRetention.IdempotencyKeys),
		Clicks:          or(r.Clicks, DefaultRetention.Clicks),
		DeadLetters:     or(r.DeadLetters, DefaultRetention.DeadLetters),
	}
}

// LocalPhonePepper is the pepper of the local runner and tests when
// PHONE_PEPPER is unset. It is public, so hashes made with it protect
// nothing: a deployed function never falls back to it.
const LocalPhonePepper = "local-pepper-not-secret"

// ErrNoPhonePepper is why a deployed function refuses to start without
// PHONE_PEPPER.
var ErrNoPhonePepper = errors.New("config: PHONE_PEPPER is not set: the secret pepper for phone-number HMACs has no default outside the local runner")

// FromEnv reads a deployed function's configuration. Every setting but the
// phone pepper has a default; a missing PHONE_PEPPER is an error, as a
// public default would let anyone reverse the stored phone hashes.
//
// A retention setting that is not a whole number of days (hours), or keeps
// Idempotency-Key records less than 24 hours, is an error too.
func FromEnv() (Config, error) {
	c, err := read()
	if c.PhonePepper == "" {
		err = errors.Join(ErrNoPhonePepper, err)
	}
	return c, err
}

// LocalFromEnv reads the local runner's configuration: as FromEnv, but
// PHONE_PEPPER defaults to LocalPhonePepper, and a retention setting
// FromEnv refuses keeps its default.
func LocalFromEnv() Config {
	c, _ := read()
	if c.PhonePepper == "" {
		c.PhonePepper = LocalPhonePepper
	}
	return c
}

func read() (Config, error) {
	retention, err := readRetention()
	return Config{
		Table:           env("TABLE_NAME", "laoyou"),
		Endpoint:        strings.TrimSpace(os.Getenv("DYNAMODB_ENDPOINT")),
		Region:          env("AWS_REGION", "us-east-1"),
		ShareBaseURL:    env("SHARE_BASE_URL", "http://127.0.0.1:3000/s"),
		MiniProgramPage: env("MINI_PROGRAM_PAGE", "/pages/landing/index"),
		PhonePepper:     env("PHONE_PEPPER", ""),
		LogLevel:        env("LOG_LEVEL", "INFO"),
		Stage:           env("STAGE", "local"),
		WeChatAPIBase:   strings.TrimSpace(os.Getenv("WECHAT_API_BASE")),

		IssuerURL:           strings.TrimSuffix(env("ISSUER_URL", "http://127.0.0.1:3000"), "/"),
		TokenAudience:       env("TOKEN_AUDIENCE", "laoyou-local"),
		TokenKeyID:          env("TOKEN_KEY_ID", ""),
		PreviousTokenKeyIDs: list(env("PREVIOUS_TOKEN_KEY_IDS", "")),
		SecretsKeyID:        env("SECRETS_KEY_ID", ""),

		AllowLoopbackWebhooks: env("WEBHOOK_ALLOW_LOOPBACK", "") == "true",

		Retention: retention,
	}, err
}

// readRetention reads the retention settings; each one unset, or refused
// (named in err), keeps its default.
func readRetention() (Retention, error) {
	r := DefaultRetention
	var errs []error
	period := func(dst *time.Duration, name string, unit, least time.Duration) {
		v := strings.TrimSpace(os.Getenv(name))
		if v == "" {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || time.Duration(n) > time.Duration(1<<62)/unit {
			errs = append(errs, fmt.Errorf("config: %s=%q is not a positive whole number", name, v))
			return
		}
		if d := time.Duration(n) * unit; d >= least {
			*dst = d
			return
		}
		errs = append(errs, fmt.Errorf("config: %s=%q keeps less than the %.0f hours the API promises", name, v, least.Hours()))
	}
	const day = 24 * time.Hour
	period(&r.Events, "EVENT_RETENTION_DAYS", day, 0)
	period(&r.IdempotencyKeys, "IDEMPOTENCY_KEY_HOURS", time.Hour, MinIdempotencyKeyRetention)
	period(&r.Clicks, "CLICK_RETENTION_DAYS", day, 0)
	period(&r.DeadLetters, "DEAD_LETTER_RETENTION_DAYS", day, 0)
	return r, errors.Join(errs...)
}

func env(name, fallback string) string {
	if v := strings.TrimSpace(os.Getenv(name)); v != "" {
		return v
	}
	return fallback
}

// list splits a comma-separated value, dropping empty entries.
func list(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
