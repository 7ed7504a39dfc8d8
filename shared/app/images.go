package app

import (
	"context"

	"github.com/laoyou/laoyou/shared/dynamo"
	"github.com/laoyou/laoyou/shared/groupbuy"
	"github.com/laoyou/laoyou/shared/referral"
	"github.com/laoyou/laoyou/shared/share"
	"github.com/laoyou/laoyou/shared/wechat"
	"github.com/laoyou/laoyou/shared/wxacode"
)

// ShareImages is what the routes serving a share link's mini-program code
// draw and read with. It reads the Deps at each call, as MiniPrograms
// does, so a part set after the routes are built counts.
type ShareImages struct{ d *Deps }

// ShareImages is the share-image parts of d.
func (d *Deps) ShareImages() ShareImages { return ShareImages{d} }

// Program is the tenant's mini-program (WECHAT_NOT_CONFIGURED without one).
func (s ShareImages) Program(ctx context.Context, tenant string) (wechat.App, error) {
	return s.d.MiniPrograms().App(ctx, tenant)
}

// Draw is the image of k: the stored one, or drawn once and stored.
func (s ShareImages) Draw(ctx context.Context, program wechat.App, k wxacode.Key) (wechat.Image, error) {
	return s.d.CodeImages().ImageAt(ctx, program, k)
}

// Links are the share links the images encode.
func (s ShareImages) Links() share.Links { return s.d.Links }

// CodeWithImage reads the user's referral code and its stored image in one
// call; stored says the image is there and of the code's scene.
func (s ShareImages) CodeWithImage(ctx context.Context, tenant, userID string, k wxacode.Key, scene func(code string) string) (c *referral.Code, img wechat.Image, stored bool, err error) {
	return dynamo.WeChatStore{Store: s.d.Store}.CodeWithImage(ctx, tenant, userID, k, scene)
}

// RoomWithImage reads a room and the stored image of k in one call.
func (s ShareImages) RoomWithImage(ctx context.Context, groupID string, k wxacode.Key) (room *groupbuy.Room, img wechat.Image, stored bool, err error) {
	return dynamo.WeChatStore{Store: s.d.Store}.RoomWithImage(ctx, groupID, k)
}
