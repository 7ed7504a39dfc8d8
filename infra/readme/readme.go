// Package readme keeps README.md's walk-throughs true: its test runs every
// ```sh block of README.md, in order and in one bash, against the local
// stack behind a validating OpenAPI proxy (Prism with openapi.yaml), so a
// command that fails or a request or answer that breaks the contract fails
// the build. Blocks fenced otherwise (```shell for make, sam and aws
// commands, ```json, …) are shown, never run.
//
// Conventions for README authors: a block starts from the state the blocks
// before it left (variables, tokens, data); values an answer hands out are
// captured from it (CODE=$(curl … | field code)), never pasted; every curl
// with a body says -H 'Content-Type: application/json'; an error answer is
// a failure unless the command allows it (ALLOW_STATUS=409 curl …); a
// listener the walk-through starts takes its port from a variable with a
// default (LISTENER=${LISTENER:-9000}).
package readme

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/laoyou/laoyou/infra/ddblocal"
)

// Prelude is the bash run before the blocks: strict mode, and a curl that
// fails on contract violations and error answers (see prelude.sh).
//
//go:embed prelude.sh
var Prelude string

// Script is the ```sh blocks of a Markdown document as one bash script in
// which every line keeps its line number (everything else is blanked), so
// an error names the README's line.
func Script(markdown string) string {
	var out []string
	inSh, inOther := false, false
	sc := bufio.NewScanner(strings.NewReader(markdown))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fence := strings.HasPrefix(strings.TrimSpace(line), "```")
		switch {
		case fence && inSh, fence && inOther:
			inSh, inOther = false, false
			out = append(out, "")
		case fence:
			inSh = strings.TrimSpace(line) == "```sh"
			inOther = !inSh
			out = append(out, "")
		case inSh:
			out = append(out, line)
		default:
			out = append(out, "")
		}
	}
	return strings.Join(out, "\n") + "\n"
}

// PrismVersion is the pinned @stoplight/prism-cli (the last to run on
// Node 20; later ones need Node 24).
const PrismVersion = "5.14.2"

// InstallPrism makes sure Prism is installed under
// <cacheDir>/prism/<PrismVersion>/ and returns its executable. Like
// DynamoDB Local it is installed once per cache folder (cacheDir "" is
// ddblocal.DefaultCacheDir()), safely from several processes at once.
func InstallPrism(ctx context.Context, cacheDir string) (string, error) {
	if cacheDir == "" {
		cacheDir = ddblocal.DefaultCacheDir()
	}
	cacheDir, err := filepath.Abs(cacheDir)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cacheDir, "prism", PrismVersion)
	bin := filepath.Join(dir, "node_modules", ".bin", "prism")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	unlock, err := ddblocal.LockFile(ctx, filepath.Join(cacheDir, "prism.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	tmp := dir + ".partial"
	if err := os.RemoveAll(tmp); err != nil {
		return "", err
	}
	// --ignore-scripts: no install script phones home (Prism pulls in a
	// telemetry package); the CLI itself needs none.
	cmd := exec.CommandContext(ctx, "npm", "install", "--prefix", tmp, "--ignore-scripts",
		"--no-audit", "--no-fund", "--loglevel=error", "@stoplight/prism-cli@"+PrismVersion)
	cmd.Env = append(os.Environ(), "SCARF_ANALYTICS=false", "DO_NOT_TRACK=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("readme: npm install @stoplight/prism-cli@%s: %w\n%s", PrismVersion, err, out)
	}
	if _, err := os.Stat(filepath.Join(tmp, "node_modules", ".bin", "prism")); err != nil {
		return "", errors.New("readme: npm installed no prism executable")
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return bin, nil
}
