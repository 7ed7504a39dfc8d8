package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPhonePepperHasNoDefaultOutsideTheLocalRunner(t *testing.T) {
	tests := []struct {
		name       string
		pepper     string // PHONE_PEPPER
		wantErr    bool   // FromEnv, as a deployed function reads it
		wantLocal  string // LocalFromEnv, as the local runner reads it
		wantLambda string
	}{
		{name: "unset", pepper: "", wantErr: true, wantLocal: LocalPhonePepper},
		{name: "blank", pepper: "   ", wantErr: true, wantLocal: LocalPhonePepper},
		{name: "set", pepper: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", wantLambda: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", wantLocal: "0f1e2d3c4b5a69788796a5b4c3d2e1f0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PHONE_PEPPER", tt.pepper)
			cfg, err := FromEnv()
			if tt.wantErr {
				require.ErrorIs(t, err, ErrNoPhonePepper)
				require.Contains(t, err.Error(), "PHONE_PEPPER", "the message names the variable")
				require.Empty(t, cfg.PhonePepper, "never the public default")
			} else {
				require.NoError(t, err)
				require.Equal(t, tt.wantLambda, cfg.PhonePepper)
			}
			require.Equal(t, tt.wantLocal, LocalFromEnv().PhonePepper)
		})
	}
}

func TestRetentionComesFromTheEnvironmentWithTheTemplateDefaults(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name    string
		env     map[string]string
		want    Retention
		wantErr string // FromEnv's error names the variable; LocalFromEnv keeps the default
	}{
		{name: "unset: the defaults", env: nil,
			want: Retention{Events: 180 * day, IdempotencyKeys: 25 * time.Hour, Clicks: day, DeadLetters: 90 * day}},
		{name: "each set", env: map[string]string{
			"EVENT_RETENTION_DAYS": "30", "IDEMPOTENCY_KEY_HOURS": "48", "CLICK_RETENTION_DAYS": "7", "DEAD_LETTER_RETENTION_DAYS": " 14 ",
		}, want: Retention{Events: 30 * day, IdempotencyKeys: 48 * time.Hour, Clicks: 7 * day, DeadLetters: 14 * day}},
		{name: "idempotency keys exactly 24 hours", env: map[string]string{"IDEMPOTENCY_KEY_HOURS": "24"},
			want: Retention{Events: 180 * day, IdempotencyKeys: 24 * time.Hour, Clicks: day, DeadLetters: 90 * day}},
		{name: "idempotency keys under 24 hours", env: map[string]string{"IDEMPOTENCY_KEY_HOURS": "23"},
			want: DefaultRetention, wantErr: "IDEMPOTENCY_KEY_HOURS"},
		{name: "zero days", env: map[string]string{"EVENT_RETENTION_DAYS": "0"},
			want: DefaultRetention, wantErr: "EVENT_RETENTION_DAYS"},
		{name: "negative", env: map[string]string{"CLICK_RETENTION_DAYS": "-1"},
			want: DefaultRetention, wantErr: "CLICK_RETENTION_DAYS"},
		{name: "not a number", env: map[string]string{"DEAD_LETTER_RETENTION_DAYS": "90d"},
			want: DefaultRetention, wantErr: "DEAD_LETTER_RETENTION_DAYS"},
		{name: "overflows a duration", env: map[string]string{"EVENT_RETENTION_DAYS": "9999999999999"},
			want: DefaultRetention, wantErr: "EVENT_RETENTION_DAYS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PHONE_PEPPER", "0f1e2d3c4b5a69788796a5b4c3d2e1f0")
			for _, name := range []string{"EVENT_RETENTION_DAYS", "IDEMPOTENCY_KEY_HOURS", "CLICK_RETENTION_DAYS", "DEAD_LETTER_RETENTION_DAYS"} {
				t.Setenv(name, tt.env[name])
			}
			cfg, err := FromEnv()
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
				require.Equal(t, tt.want, cfg.Retention)
			}
			require.Equal(t, tt.want, LocalFromEnv().Retention, "the local runner reads the same settings, with the same defaults")
		})
	}
}

func TestRetentionZeroFieldsKeepTheirDefaults(t *testing.T) {
	require.Equal(t, DefaultRetention, Retention{}.OrDefault(), "a Config built in code keeps items as a deployed function")
	set := Retention{Events: time.Hour, IdempotencyKeys: 2 * time.Hour, Clicks: 3 * time.Hour, DeadLetters: 4 * time.Hour}
	require.Equal(t, set, set.OrDefault())
	require.Equal(t, Retention{Events: time.Hour, IdempotencyKeys: DefaultRetention.IdempotencyKeys,
		Clicks: DefaultRetention.Clicks, DeadLetters: DefaultRetention.DeadLetters}, Retention{Events: time.Hour}.OrDefault())
}
