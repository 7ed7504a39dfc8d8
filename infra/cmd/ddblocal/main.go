// Command ddblocal installs and runs DynamoDB Local for development and for
// `make test`, which starts one instance that every test package shares
// (through DYNAMODB_ENDPOINT) instead of one JVM per package.
//
// Usage:
//
//	ddblocal install [-cache-dir DIR]
//	    Install DynamoDB Local (if needed) and print its directory.
//
//	ddblocal start [-port N] [-db-path DIR] [-endpoint-file F] [-cache-dir DIR] [-v]
//	    Start DynamoDB Local, print its endpoint on stdout (and write it to F),
//	    and run until SIGINT or SIGTERM, then stop it. It creates no tables.
//	    -db-path keeps data on disk; without it data lives in memory.
//
//	ddblocal exec [start flags] -- COMMAND [ARGS...]
//	    Start DynamoDB Local, run COMMAND with DYNAMODB_ENDPOINT set to it,
//	    stop it, and exit with COMMAND's exit code.
//
// Prefer a built binary to `go run` for start in scripts: a SIGTERM sent to
// `go run` itself is not passed on to the program it runs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/laoyou/laoyou/infra/ddblocal"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	code := 0
	switch os.Args[1] {
	case "install":
		err = install(os.Args[2:])
	case "start":
		err = start(os.Args[2:])
	case "exec":
		code, err = execCmd(os.Args[2:])
	case "-h", "-help", "--help", "help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "ddblocal: unknown command %q\n", os.Args[1])
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ddblocal:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  ddblocal install [-cache-dir DIR]
  ddblocal start [-port N] [-db-path DIR] [-endpoint-file F] [-cache-dir DIR] [-v]
  ddblocal exec [start flags] -- COMMAND [ARGS...]
`)
	os.Exit(2)
}

func install(args []string) error {
	fs := flag.NewFlagSet("install", flag.ExitOnError)
	cacheDir := fs.String("cache-dir", ddblocal.DefaultCacheDir(), "where DynamoDB Local is installed")
	_ = fs.Parse(args)
	dir, err := ddblocal.Install(context.Background(), *cacheDir)
	if err != nil {
		return err
	}
	fmt.Println(dir)
	return nil
}

type startFlags struct {
	opts         ddblocal.Options
	endpointFile string
}

func parseStart(name string, args []string) (*startFlags, *flag.FlagSet) {
	var f startFlags
	var verbose bool
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	fs.IntVar(&f.opts.Port, "port", 0, "port to listen on (0 picks a free one)")
	fs.StringVar(&f.opts.DBPath, "db-path", "", "folder for the database file (empty: in memory)")
	fs.StringVar(&f.opts.CacheDir, "cache-dir", ddblocal.DefaultCacheDir(), "where DynamoDB Local is installed")
	fs.StringVar(&f.endpointFile, "endpoint-file", "", "also write the endpoint to this file once ready (removed on exit)")
	fs.BoolVar(&verbose, "v", false, "copy DynamoDB Local's output to stderr")
	_ = fs.Parse(args)
	if verbose {
		f.opts.Log = os.Stderr
	}
	return &f, fs
}

// launch starts DynamoDB Local and publishes its endpoint. The endpoint file
// is removed first, so a script waiting for it never reads a stale one from
// an earlier run, and written by rename, so it never reads half a line.
func launch(ctx context.Context, f *startFlags) (*ddblocal.Instance, func(), error) {
	if f.endpointFile != "" {
		_ = os.Remove(f.endpointFile)
	}
	inst, err := ddblocal.Start(ctx, f.opts)
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() {
		if err := inst.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "ddblocal:", err)
		}
		if f.endpointFile != "" {
			_ = os.Remove(f.endpointFile)
		}
	}
	if f.endpointFile != "" {
		if err := writeFileAtomic(f.endpointFile, inst.Endpoint+"\n"); err != nil {
			cleanup()
			return nil, nil, err
		}
	}
	return inst, cleanup, nil
}

func start(args []string) error {
	f, fs := parseStart("start", args)
	if fs.NArg() > 0 {
		return fmt.Errorf("start: unexpected arguments %q", fs.Args())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	inst, cleanup, err := launch(ctx, f)
	if err != nil {
		return err
	}
	defer cleanup()
	fmt.Println(inst.Endpoint)

	select {
	case <-ctx.Done():
		return nil
	case <-inst.Done():
		return fmt.Errorf("DynamoDB Local exited unexpectedly:\n%s", inst.Output())
	}
}

func execCmd(args []string) (int, error) {
	f, fs := parseStart("exec", args)
	argv := fs.Args()
	if len(argv) == 0 {
		return 0, errors.New("exec: no command given (ddblocal exec [flags] -- COMMAND [ARGS...])")
	}
	// Catch the signals so that we outlive the command and can stop the
	// JVM after it; a terminal's Ctrl-C reaches the command directly.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	inst, cleanup, err := launch(ctx, f)
	cancel()
	if err != nil {
		return 0, err
	}
	defer cleanup()

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "DYNAMODB_ENDPOINT="+inst.Endpoint)
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	for {
		select {
		case sig := <-sigs:
			_ = cmd.Process.Signal(sig)
		case err := <-waited:
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				if code := exitErr.ExitCode(); code >= 0 {
					return code, nil
				}
				return 1, nil // killed by a signal
			}
			return 0, err
		}
	}
}

func writeFileAtomic(path, content string) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	if _, err := io.WriteString(tmp, content); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
