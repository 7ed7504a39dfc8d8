package local

import (
	"log/slog"

	"github.com/laoyou/laoyou/infra/wechatstub"
)

// startWeChat starts the stand-in for WeChat's server API on addr ("": a
// free loopback port). Its developer endpoints (/_stub/app, /_stub/login-code,
// ...; see package wechatstub) mint what a phone would get from WeChat.
func startWeChat(log *slog.Logger, addr string) (*wechatstub.Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	srv, err := wechatstub.Listen(wechatstub.New(), addr)
	if err != nil {
		return nil, err
	}
	log.Info("WeChat stand-in ready", "url", srv.URL)
	return srv, nil
}
