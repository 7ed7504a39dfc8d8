package readme

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/ddbtest"
	"github.com/laoyou/laoyou/infra/local"
	"github.com/laoyou/laoyou/infra/samtemplate"
	"github.com/laoyou/laoyou/shared/config"
	"github.com/laoyou/laoyou/shared/logging"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

// Every ```sh block of README.md runs as written against `make run`'s
// stack behind Prism validating openapi.yaml: no command fails, no request
// or answer breaks the contract.
func TestReadmeWalkThroughsPassTheContract(t *testing.T) {
	root, err := samtemplate.RepoRoot()
	require.NoError(t, err)
	markdown, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	script := Script(string(markdown))
	require.Contains(t, script, "curl", "README.md has no ```sh walk-through")

	prism := installPrism(t)
	stack, wx := startStack(t)
	proxy := startPrism(t, prism, filepath.Join(root, "openapi.yaml"), stack)

	out, violations := runScript(t, script, map[string]string{
		"API": proxy, "STACK": stack, "WX": wx, "LISTENER": strconv.Itoa(freePort(t)),
	})
	require.Empty(t, violations, "OpenAPI violations reported by Prism:\n%s\n--- output:\n%s", violations, out)
}

// The checks of prelude.sh catch what they are for, so the walk-through
// test cannot pass by accident.
func TestPreludeCatchesViolationsAndFailures(t *testing.T) {
	// A stand-in for Prism and the stack: answers by path.
	var mu sync.Mutex
	asked := map[string]int{} // busy-once requests by ?id=
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/busy":
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"code":"SERVICE_UNAVAILABLE"}}`))
		case "/busy-once":
			mu.Lock()
			asked[r.URL.Query().Get("id")]++
			first := asked[r.URL.Query().Get("id")] == 1
			mu.Unlock()
			if first {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"error":{"code":"SERVICE_UNAVAILABLE"}}`))
				return
			}
			_, _ = w.Write([]byte(`{"done":true}`))
		case "/violation-header":
			w.Header().Set("sl-violations", `[{"message":"Request body must match"}]`)
			_, _ = w.Write([]byte(`{}`))
		case "/problem":
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnsupportedMediaType)
			_, _ = w.Write([]byte(`{"type":"https://stoplight.io/prism/errors#INVALID_CONTENT_TYPE"}`))
		case "/conflict":
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"error":{"code":"ALREADY_REDEEMED"}}`))
		case "/_local/token":
			if r.Host != stackHost(r) {
				w.WriteHeader(http.StatusMisdirectedRequest)
			}
			_, _ = w.Write([]byte(`{"token":"t"}`))
		default:
			_, _ = w.Write([]byte(`{"code":"ABC"}`))
		}
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	base := "http://" + ln.Addr().String()

	tests := []struct {
		name, script string
		ok           bool
	}{
		{"a clean answer", `curl -s $API/ok`, true},
		{"an sl-violations header", `curl -s $API/violation-header`, false},
		{"a problem+json answer", `curl -s $API/problem`, false},
		{"an error answer", `curl -s $API/conflict`, false},
		{"an error answer allowed", `ALLOW_STATUS=409 curl -s $API/conflict`, true},
		{"another error than allowed", `ALLOW_STATUS=404 curl -s $API/conflict`, false},
		{"a violation inside a capture", `X=$(curl -s $API/problem | sed 's/x/y/'); echo $X`, false},
		{"a failing command", `false`, false},
		{"an unreachable API", `curl -s http://127.0.0.1:1/`, false},
		{"/_local goes to the stack", `curl -s $API/_local/token`, true},
		{"a 503 is sent again, and only the last answer is output", `[ "$(curl -s "$API/busy-once?id=a")" = '{"done":true}' ]`, true},
		{"a 503 three times is a failure", `curl -s $API/busy`, false},
		{"an allowed 503 is not sent again", `ALLOW_STATUS=503 curl -s "$API/busy-once?id=b"`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			violations := filepath.Join(t.TempDir(), "violations")
			cmd := exec.Command("bash", "-c", Prelude+"\n"+tc.script)
			// API and STACK differ by host name only, so the stand-in can
			// tell where a request was sent.
			cmd.Env = append(os.Environ(), "API="+strings.Replace(base, "127.0.0.1", "localhost", 1), "STACK="+base, "VIOLATIONS="+violations)
			out, err := cmd.CombinedOutput()
			if tc.ok {
				require.NoError(t, err, string(out))
			} else {
				require.Error(t, err, string(out))
			}
		})
	}
}

func stackHost(r *http.Request) string {
	if strings.HasPrefix(r.Host, "127.0.0.1:") {
		return r.Host
	}
	return "127.0.0.1 only"
}

func TestScriptRunsOnlyShBlocksAndKeepsLineNumbers(t *testing.T) {
	tests := []struct {
		name, markdown, want string
	}{
		{"sh block", "text\n```sh\necho a\n```\n", "\n\necho a\n\n"},
		{"other fences are not run", "```shell\nmake run\n```\n```json\n{}\n```\n```\nplain\n```\n", "\n\n\n\n\n\n\n\n\n"},
		{"blocks in order", "```sh\nA=1\n```\nprose `x`\n```sh\necho $A\n```\n", "\nA=1\n\n\n\necho $A\n\n"},
		{"fence with trailing space", "```sh \nx\n```\n", "\nx\n\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Script(tc.markdown)
			require.Equal(t, tc.want, got)
			require.Equal(t, strings.Count(tc.markdown, "\n"), strings.Count(got, "\n"), "line numbers kept")
		})
	}
}

// installPrism installs Prism, failing in CI whatever goes wrong; a
// developer without npm is told, as the browser test does without Chromium.
func installPrism(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("npm"); err != nil && os.Getenv("CI") != "true" {
		t.Skip("npm not found: the README walk-through test needs Node and npm (CI runs it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := InstallPrism(ctx, "")
	require.NoError(t, err)
	return bin
}

// startStack serves the local stack, with its demo data, on a free port.
func startStack(t *testing.T) (api, wechat string) {
	t.Helper()
	db := ddbtest.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := local.BaseURL(ln.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	st, err := local.Start(ctx, local.Options{
		Config: config.Config{
			Table: db.Table, Endpoint: db.Endpoint, Region: "us-east-1",
			MiniProgramPage: "/pages/landing/index", PhonePepper: "test-pepper",
			AllowLoopbackWebhooks: true,
		},
		PublicBaseURL: base, Demo: true, Log: logging.Discard(),
	})
	if err != nil {
		cancel()
		ln.Close()
		require.NoError(t, err)
	}
	done := make(chan error, 1)
	go func() { done <- st.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		st.Close()
	})
	return base, st.WeChat.URL
}

// startPrism runs `prism proxy spec upstream --errors` on a free port and
// waits until it answers.
func startPrism(t *testing.T, bin, spec, upstream string) string {
	t.Helper()
	port := strconv.Itoa(freePort(t))
	var log bytes.Buffer
	cmd := exec.Command(bin, "proxy", spec, upstream, "--errors", "-h", "127.0.0.1", "-p", port)
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	addr := "127.0.0.1:" + port
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("prism exited: %v\n%s", err, log.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("prism did not listen on %s within 90s\n%s", addr, log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// runScript runs the prelude then script in one bash with env, and returns
// its output and what the prelude's curl recorded as violations. It fails
// the test when the script fails.
func runScript(t *testing.T, script string, env map[string]string) (output, violations string) {
	t.Helper()
	dir := t.TempDir()
	scriptPath := filepath.Join(dir, "README.md.sh")
	require.NoError(t, os.WriteFile(scriptPath, []byte(script), 0o644))
	violationsPath := filepath.Join(dir, "violations")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", "-c", Prelude+"\nsource "+strconv.Quote(scriptPath)+"\n")
	cmd.Env = append(os.Environ(), "VIOLATIONS="+violationsPath)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second // a background job left holding the output
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	v, _ := os.ReadFile(violationsPath)
	require.NoError(t, err, "README.md's ```sh blocks failed (line numbers are README.md's):\n%s\n--- violations:\n%s", out.String(), v)
	return out.String(), string(v)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
