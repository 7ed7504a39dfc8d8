package api

import (
	"github.com/laoyou/laoyou/shared/share"
	"github.com/laoyou/laoyou/shared/tenant"
)

// Views that several answers share.

// clinicView is a clinic's public profile as the API shows it; a clinic
// with none saved shows null.
type clinicView struct {
	Name    string `json:"name"`
	Address string `json:"address,omitempty"`
	Phone   string `json:"phone,omitempty"`
}

func viewClinic(c *tenant.Clinic) *clinicView {
	if c == nil {
		return nil
	}
	return &clinicView{Name: c.Name, Address: c.Address, Phone: c.Phone}
}

// offerView is what a newcomer is offered; null when the clinic offers
// nothing.
type offerView struct {
	Title      string `json:"title"`
	TemplateID string `json:"templateId,omitempty"`
}

func viewOffer(o *tenant.Offer) *offerView {
	if o == nil {
		return nil
	}
	return &offerView{Title: o.Title, TemplateID: o.TemplateID}
}

// linkView is how a shareable thing is shared: the mini-program's scene
// and path, and the H5 page.
type linkView struct {
	Scene           string `json:"scene"`
	MiniProgramPath string `json:"miniProgramPath"`
	ShareURL        string `json:"shareUrl"`
}

func viewLink(l share.Link) linkView {
	return linkView{Scene: l.Scene, MiniProgramPath: l.MiniProgramPath, ShareURL: l.ShareURL}
}

// viewAll views each of xs; an empty list is [], never null.
func viewAll[T, V any](xs []T, view func(T) V) []V {
	out := make([]V, len(xs))
	for i, x := range xs {
		out[i] = view(x)
	}
	return out
}
