package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddblocal"
)

// The test binary doubles as the command: re-run with this variable set, it
// runs main with the arguments it was given.
const runMainEnv = "DDBLOCAL_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func command(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	return cmd
}

func TestStartWritesEndpointAndStopsOnSignal(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "endpoint")
	require.NoError(t, os.WriteFile(file, []byte("stale\n"), 0o644))

	cmd := command("start", "-endpoint-file", file)
	var stdout strings.Builder
	cmd.Stdout = &stdout
	require.NoError(t, cmd.Start())
	defer cmd.Process.Kill()

	var endpoint string
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(file)
		endpoint = strings.TrimSpace(string(b))
		return err == nil && strings.HasPrefix(endpoint, "http://127.0.0.1:")
	}, time.Minute, 50*time.Millisecond, "endpoint file never written")

	ctx := context.Background()
	client, err := ddblocal.NewClient(ctx, endpoint)
	require.NoError(t, err)
	_, err = client.ListTables(ctx, &dynamodb.ListTablesInput{})
	require.NoError(t, err)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "a signal is a clean shutdown")
	require.Equal(t, endpoint+"\n", stdout.String())
	require.NoFileExists(t, file, "the endpoint file goes away with the server")
	_, err = client.ListTables(ctx, &dynamodb.ListTablesInput{})
	require.Error(t, err, "the JVM must be gone")
}

func TestExecPassesEndpointAndExitCode(t *testing.T) {
	t.Parallel()
	cmd := command("exec", "--", "sh", "-c", `case "$DYNAMODB_ENDPOINT" in http://127.0.0.1:*) exit 7;; esac; exit 1`)
	err := cmd.Run()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr)
	require.Equal(t, 7, exitErr.ExitCode())
}

func TestInstallPrintsDir(t *testing.T) {
	t.Parallel()
	out, err := command("install").Output()
	require.NoError(t, err)
	dir := strings.TrimSpace(string(out))
	require.FileExists(t, filepath.Join(dir, "DynamoDBLocal.jar"))
}
