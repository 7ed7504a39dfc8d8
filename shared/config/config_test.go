package config

import (
	"testing"

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
