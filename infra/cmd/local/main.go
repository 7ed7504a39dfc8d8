// Command local serves the whole Laoyou API on 127.0.0.1:3000 as `make run`
// does: every route of template.yaml, the local JWT authorizer, the stream
// feeding the hooks function, the closer's schedule, and demo data. Without
// DYNAMODB_ENDPOINT it starts DynamoDB Local itself; without WECHAT_API_BASE
// it starts the WeChat stand-in (on -wechat-addr) with the demo clinic's
// mini-program.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/laoyou/laoyou/infra/local"
	"github.com/laoyou/laoyou/infra/runner"
	"github.com/laoyou/laoyou/shared/config"
	"github.com/laoyou/laoyou/shared/logging"
)

func main() {
	addr := flag.String("addr", runner.DefaultAddr, "address to serve the API on")
	keyPath := flag.String("key", ".cache/local-jwt-key.pem", "local token signing key (kept across restarts)")
	demo := flag.Bool("demo", true, "load the demo clinic")
	wechatAddr := flag.String("wechat-addr", "127.0.0.1:3001", "address of the WeChat stand-in, started unless WECHAT_API_BASE is set")
	flag.Parse()

	cfg := config.FromEnv()
	cfg.AllowLoopbackWebhooks = true
	log := logging.New(os.Stderr, cfg.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	opts := local.Options{
		Config: cfg, KeyPath: *keyPath, Demo: *demo, Log: log,
		IssuerKeyPath: ".cache/local-issuer-key.pem", SecretsKeyPath: ".cache/local-secrets.key",
	}
	if os.Getenv("WECHAT_API_BASE") == "" {
		opts.WeChatAddr = *wechatAddr
	}
	if err := run(ctx, *addr, opts); err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr string, opts local.Options) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	st, err := local.Start(ctx, opts)
	if err != nil {
		ln.Close()
		return err
	}
	defer st.Close()
	return st.Serve(ctx, ln)
}
