// Command local serves the whole Laoyou API on 127.0.0.1:3000 as `make run`
// does: every route of template.yaml, the local JWT authorizer, the stream
// feeding the hooks function, the closer's schedule, and demo data. Without
// DYNAMODB_ENDPOINT it starts DynamoDB Local itself; without WECHAT_API_BASE
// it starts the WeChat stand-in (on -wechat-addr) with the demo clinic's
// mini-program.
//
// The API's public base URL (token issuer, shareUrl) is PUBLIC_BASE_URL, or
// else the address it listens on (-addr), so a runner on another port hands
// out links and issuers on that port.
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

	log := logging.New(os.Stderr, config.LocalFromEnv().LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	err := run(ctx, *addr, func(ln net.Listener) local.Options {
		opts := options(ln.Addr())
		opts.KeyPath, opts.Demo, opts.Log = *keyPath, *demo, log
		opts.IssuerKeyPath, opts.SecretsKeyPath = ".cache/local-issuer-key.pem", ".cache/local-secrets.key"
		if os.Getenv("WECHAT_API_BASE") == "" {
			opts.WeChatAddr = *wechatAddr
		}
		return opts
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
}

// run listens on addr and serves the stack configured for that listener.
func run(ctx context.Context, addr string, configure func(net.Listener) local.Options) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	opts := configure(ln)
	st, err := local.Start(ctx, opts)
	if err != nil {
		ln.Close()
		return err
	}
	defer st.Close()
	if opts.Log != nil {
		opts.Log.Info("local API ready", "url", st.PublicBaseURL)
	}
	return st.Serve(ctx, ln)
}

// options is the stack's configuration from the environment for a runner
// listening on addr.
func options(addr net.Addr) local.Options {
	cfg := config.LocalFromEnv()
	cfg.AllowLoopbackWebhooks = true
	if os.Getenv("SHARE_BASE_URL") == "" {
		cfg.ShareBaseURL = "" // the runner's own landing page, wherever it listens
	}
	public := os.Getenv("PUBLIC_BASE_URL")
	if public == "" {
		public = local.BaseURL(addr)
	}
	if os.Getenv("ISSUER_URL") == "" {
		cfg.IssuerURL = public // sign-in tokens' iss: where this runner serves /.well-known/
	}
	return local.Options{Config: cfg, PublicBaseURL: public}
}
