// Package config reads a function's configuration from its environment, as
// template.yaml sets it in AWS and the local runner sets it locally.
package config

import (
	"errors"
	"os"
	"strings"
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
func FromEnv() (Config, error) {
	c := read()
	if c.PhonePepper == "" {
		return c, ErrNoPhonePepper
	}
	return c, nil
}

// LocalFromEnv reads the local runner's configuration: as FromEnv, but
// PHONE_PEPPER defaults to LocalPhonePepper.
func LocalFromEnv() Config {
	c := read()
	if c.PhonePepper == "" {
		c.PhonePepper = LocalPhonePepper
	}
	return c
}

func read() Config {
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
	}
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
