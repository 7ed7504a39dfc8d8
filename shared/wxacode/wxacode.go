// Package wxacode serves mini-program codes (小程序码) of share scenes.
// WeChat draws each (app, version, page, scene, width) once, however many ask at
// once and in however many execution environments: the first to claim the
// image asks WeChat and stores it, the others wait briefly and read it, and
// every later request is served from storage.
package wxacode

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/wechat"
)

// Key names one image.
type Key struct {
	AppID string
	// EnvVersion is the version the code opens (release, trial or
	// develop): a tenant moving its app from trial to release gets new
	// codes, not the trial's.
	EnvVersion string
	Page       string // no leading "/"
	Scene      string
	Width      int
	// Owner, when set, is the one person whose scene this is, for ever (a
	// referral code's tenant and user): the image is then stored under
	// the owner instead of the scene, so the owner's request can read it
	// with its other items before it knows the scene.
	Owner string
}

// KeyFor is the key of scene opening page (no leading "/") of the app's
// version (app.EnvVersion, release when unset) at width (0: WeChat's 430).
func KeyFor(app wechat.App, page, scene string, width int) Key {
	env := app.EnvVersion
	if env == "" {
		env = wechat.EnvRelease
	}
	return Key{AppID: app.ID, EnvVersion: env, Page: page, Scene: scene, Width: width}
}

// Store keeps images and the claims of those being drawn. Each method is
// one read or one conditional write.
type Store interface {
	// LoadImage reads a stored image; ok is false when there is none yet.
	LoadImage(ctx context.Context, k Key) (img wechat.Image, ok bool, err error)
	// ClaimImage claims the drawing of k for holder until until, unless the
	// image is stored or another claim runs at now.
	ClaimImage(ctx context.Context, k Key, holder string, now, until time.Time) (bool, error)
	// SaveImage stores img and ends the claim.
	SaveImage(ctx context.Context, k Key, img wechat.Image) error
	// ReleaseImage ends holder's claim without an image (drawing failed).
	ReleaseImage(ctx context.Context, k Key, holder string) error
}

// Drawer draws a code: the WeChat client.
type Drawer interface {
	CodeImage(ctx context.Context, app wechat.App, req wechat.CodeRequest) (wechat.Image, error)
}

// drawRequest is what WeChat is asked for k. A released app's code must
// open a page of the published version, which WeChat checks; a trial or
// develop version's page may not be published yet, so WeChat must not.
func drawRequest(k Key) wechat.CodeRequest {
	return wechat.CodeRequest{
		Scene: k.Scene, Page: k.Page, Width: k.Width, EnvVersion: k.EnvVersion,
		CheckPath: k.EnvVersion == wechat.EnvRelease,
	}
}

// Timing of a claim.
const (
	// ClaimFor bounds a drawing: a holder that dies delays others no
	// longer than this.
	ClaimFor = 10 * time.Second
	// DefaultWait is how long a request waits for another's drawing.
	DefaultWait = 5 * time.Second
	// MaxStored is the largest image kept: a table item holds at most
	// 400 KB, and codes are a few tens of KB.
	MaxStored = 350 << 10
)

// Service hands out codes.
type Service struct {
	Store  Store
	WeChat Drawer
	Now    func() time.Time
	Wait   time.Duration
	holder string
}

// New returns a service on store and the WeChat client.
func New(store Store, wx Drawer) *Service {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return &Service{Store: store, WeChat: wx, Now: time.Now, Wait: DefaultWait, holder: hex.EncodeToString(b)}
}

// Image is the code of scene opening page (no leading "/") of the app's
// version (app.EnvVersion) at width (0: WeChat's 430).
func (s *Service) Image(ctx context.Context, app wechat.App, page, scene string, width int) (wechat.Image, error) {
	return s.ImageAt(ctx, app, KeyFor(app, page, scene, width))
}

// ImageAt is the image of k, drawn for app: the stored one, else drawn by
// whichever request claims it first while the others wait up to Wait and
// read it. A caller whose key is not KeyFor's (an owner's image) calls it
// directly.
func (s *Service) ImageAt(ctx context.Context, app wechat.App, k Key) (wechat.Image, error) {
	const op = apierr.Op("wxacode.Image")
	giveUp := time.Now().Add(s.Wait)
	pause := 25 * time.Millisecond
	for {
		img, ok, err := s.Store.LoadImage(ctx, k)
		if err != nil || ok {
			return img, err
		}
		now := s.Now()
		won, err := s.Store.ClaimImage(ctx, k, s.holder, now, now.Add(ClaimFor))
		if err != nil {
			return wechat.Image{}, err
		}
		if won {
			return s.draw(ctx, app, k)
		}
		if time.Now().After(giveUp) {
			return wechat.Image{}, apierr.E(op, apierr.WeChatUnavailable, "the mini-program code is still being drawn; try again shortly",
				errors.New("waited for another drawing"))
		}
		select {
		case <-ctx.Done():
			return wechat.Image{}, apierr.E(op, apierr.WeChatUnavailable, "the mini-program code is still being drawn; try again shortly", ctx.Err())
		case <-time.After(pause):
		}
		pause = min(2*pause, 250*time.Millisecond)
	}
}

// draw asks WeChat for the image and stores it, holding the claim.
func (s *Service) draw(ctx context.Context, app wechat.App, k Key) (wechat.Image, error) {
	img, err := s.WeChat.CodeImage(ctx, app, drawRequest(k))
	if err != nil {
		_ = s.Store.ReleaseImage(context.WithoutCancel(ctx), k, s.holder)
		return wechat.Image{}, err
	}
	if len(img.Bytes) > MaxStored {
		// Too big for an item: served, not kept; the next request draws again.
		_ = s.Store.ReleaseImage(context.WithoutCancel(ctx), k, s.holder)
		return img, nil
	}
	// Not saved is not lost: the claim lapses and a later request draws again.
	_ = s.Store.SaveImage(ctx, k, img)
	return img, nil
}
