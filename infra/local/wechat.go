package local

import (
	"log/slog"

	"github.com/laoyou/laoyou/infra/wechatstub"
)

// startWeChat starts the stand-in for WeChat's server API on a free
// loopback port. Its developer endpoints (/_stub/app, /_stub/login-code,
// ...; see package wechatstub) mint what a phone would get from WeChat.
func startWeChat(log *slog.Logger) (*wechatstub.Server, error) {
	srv, err := wechatstub.Start(wechatstub.New())
	if err != nil {
		return nil, err
	}
	log.Info("WeChat stand-in ready", "url", srv.URL)
	return srv, nil
}
