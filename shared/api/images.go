package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/app"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/groupbuy"
	"github.com/laoyou/laoyou/shared/httpapi"
	"github.com/laoyou/laoyou/shared/referral"
	"github.com/laoyou/laoyou/shared/share"
	"github.com/laoyou/laoyou/shared/wechat"
	"github.com/laoyou/laoyou/shared/wxacode"
)

// An image of a scene never changes once drawn: caches may keep it.
const (
	imageCacheOwn    = "private, max-age=86400"
	imageCachePublic = "public, max-age=31536000, immutable"
)

// sceneImage is the mini-program code of a share link's scene, from the
// tenant's mini-program, drawn once and served from the table after.
func sceneImage(ctx context.Context, images app.ShareImages, tenant string, link share.Link, cache string) (httpapi.Response, error) {
	program, err := images.Program(ctx, tenant)
	if err != nil {
		return httpapi.Response{}, err
	}
	img, err := images.Draw(ctx, program, wxacode.KeyFor(program, images.Links().CodePage(), link.Scene, 0))
	if err != nil {
		return httpapi.Response{}, err
	}
	return imageResponse(img, cache), nil
}

// askingTenant is a public page's optional ?tenant=, the clinic whose page
// asks ("" when not given): a share link's code or room of another clinic
// is then not found, and the clinic's settings can be read with it.
func askingTenant(op apierr.Op, r *httpapi.Request) (string, error) {
	asking := r.Query("tenant")
	if asking != "" && !auth.ValidID(asking) {
		return "", apierr.E(op, apierr.BadRequest, `query parameter "tenant" is malformed`)
	}
	return asking, nil
}

// imageResponse answers img with its cache policy and an ETag of its
// bytes, so a cache that revalidates gets the same tag from every
// execution environment.
func imageResponse(img wechat.Image, cache string) httpapi.Response {
	sum := sha256.Sum256(img.Bytes)
	return httpapi.Response{Status: 200, Bytes: img.Bytes, ContentType: img.ContentType, Headers: map[string]string{
		"cache-control": cache,
		"etag":          `"` + hex.EncodeToString(sum[:16]) + `"`,
	}}
}

// referralCodeImage is GET /v1/referral/code/image: the caller's own code,
// made by POST /v1/referral/code first. The image is stored under its
// owner (a code is one user's, for ever), so the code and its image are one
// read once drawn.
func referralCodeImage(images app.ShareImages, referrals *referral.Service) httpapi.HandlerFunc {
	scene := func(code string) string { return images.Links().Referral("", code).Scene }
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		const op = apierr.Op("api.referralCodeImage")
		noCode := apierr.E(op, apierr.CodeNotFound, "you have no referral code yet: POST /v1/referral/code makes it")
		program, err := images.Program(ctx, r.Caller.Tenant)
		if apierr.Is(apierr.WeChatNotConfigured, err) {
			// No code is the first thing to say: the caller can fix it.
			if has, cerr := referrals.HasCode(ctx, r.Caller.Tenant, r.Caller.UserID); cerr == nil && !has {
				return httpapi.Response{}, noCode
			}
		}
		if err != nil {
			return httpapi.Response{}, err
		}
		k := wxacode.KeyFor(program, images.Links().CodePage(), "", 0)
		k.Owner = r.Caller.Tenant + "#" + r.Caller.UserID
		c, img, stored, err := images.CodeWithImage(ctx, r.Caller.Tenant, r.Caller.UserID, k, scene)
		if err != nil {
			return httpapi.Response{}, apierr.E(op, err)
		}
		if c == nil {
			return httpapi.Response{}, noCode
		}
		if !stored {
			k.Scene = scene(c.Code)
			if img, err = images.Draw(ctx, program, k); err != nil {
				return httpapi.Response{}, err
			}
		}
		return imageResponse(img, imageCacheOwn), nil
	}
}

// groupImage is GET /v1/groups/{groupId}/image, public as the room is. An
// optional ?tenant= names the clinic of the page asking: another clinic's
// room is then not found, so a clinic's page never shows a code that opens
// another clinic's mini-program.
func groupImage(images app.ShareImages, groups *groupbuy.Service) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (httpapi.Response, error) {
		const op = apierr.Op("api.groupImage")
		asking, err := askingTenant(op, r)
		if err != nil {
			return httpapi.Response{}, err
		}
		id, ok := share.Normalize(r.PathParam("groupId"), share.GroupIDLen)
		if !ok {
			return httpapi.Response{}, apierr.E(op, apierr.GroupNotFound, "no such group")
		}
		if asking != "" {
			// The page names the clinic, so its mini-program and the
			// room's scene are known before the room is read: the room
			// and a stored image are one read.
			if program, err := images.Program(ctx, asking); err == nil {
				k := wxacode.KeyFor(program, images.Links().CodePage(), images.Links().Group(asking, id).Scene, 0)
				room, img, stored, err := images.RoomWithImage(ctx, id, k)
				switch {
				case err != nil:
					return httpapi.Response{}, apierr.E(op, err)
				case room == nil || room.Tenant != asking:
					return httpapi.Response{}, apierr.E(op, apierr.GroupNotFound, "no such group")
				case !stored:
					if img, err = images.Draw(ctx, program, k); err != nil {
						return httpapi.Response{}, err
					}
				}
				return imageResponse(img, imageCachePublic), nil
			}
			// No mini-program: the room is read first, so an unknown room
			// is still GROUP_NOT_FOUND.
		}
		room, err := groups.RoomShown(ctx, id, asking)
		if err != nil {
			return httpapi.Response{}, err
		}
		return sceneImage(ctx, images, room.Tenant, images.Links().Group(room.Tenant, room.GroupID), imageCachePublic)
	}
}
