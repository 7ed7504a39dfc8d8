package app

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFromEnvWithoutPhonePepperFailsInit runs FromEnv as a Lambda
// function's init does, in a child process, since a failed init exits.
func TestFromEnvWithoutPhonePepperFailsInit(t *testing.T) {
	if os.Getenv("LAOYOU_TEST_INIT_CHILD") == "1" {
		FromEnv()
		os.Exit(0) // not reached when the init fails
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFromEnvWithoutPhonePepperFailsInit$")
	env := []string{"LAOYOU_TEST_INIT_CHILD=1", "DYNAMODB_ENDPOINT=http://127.0.0.1:1"}
	for _, kv := range os.Environ() {
		if !bytes.HasPrefix([]byte(kv), []byte("PHONE_PEPPER=")) {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "the init exits non-zero: %v\n%s", err, out.String())
	require.Equal(t, 1, exit.ExitCode())
	require.Contains(t, out.String(), `"msg":"init failed"`)
	require.Contains(t, out.String(), "PHONE_PEPPER is not set", "the log names the missing variable")
}
