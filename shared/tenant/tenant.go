// Package tenant holds a clinic's (or clinic group's) program settings and a
// short-lived cache of them, so a warm request reads no configuration.
package tenant

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/laoyou/laoyou/shared/apierr"
	"github.com/laoyou/laoyou/shared/auth"
	"github.com/laoyou/laoyou/shared/cache"
	"github.com/laoyou/laoyou/shared/idempotency"
)

// Offer is what a newcomer is promised on a referral landing page.
type Offer struct {
	Title      string
	TemplateID string
}

// Clinic is the clinic's public profile, shown on landing pages so a
// patient knows where to go and whom to call.
type Clinic struct {
	Name    string
	Address string
	Phone   string
}

// Milestone is a bonus coupon to a referrer when their Count-th referred
// friend qualifies.
type Milestone struct {
	Count      int
	TemplateID string
}

// Defaults and bounds of the referral program's settings.
const (
	DefaultBindingWindowDays = 30
	DefaultHoldDays          = 7
	MaxBindingWindowDays     = 365
	MaxHoldDays              = 90
	MaxMonthlyCap            = 1000
	MaxMilestones            = 10
	MaxMilestoneCount        = 1000
	MaxOfferTitle            = 60 // characters
	MaxClinicName            = 60 // characters
	MaxClinicAddress         = 120
	MaxClinicPhone           = 32
)

// Settings are one tenant's program rules. Zero values mean the defaults,
// except HoldDays, where 0 is a choice (release at the next run) and nil the
// default.
type Settings struct {
	// Clinic is the public profile; nil until an admin sets it.
	Clinic        *Clinic
	NewcomerOffer *Offer
	// BindingWindowDays is how long after binding a friend's first visit
	// still qualifies the referral; an expired binding may be replaced.
	BindingWindowDays int
	// HoldDays is how long referral rewards stay PENDING, the treatment's
	// refund window.
	HoldDays *int
	// MonthlyCap bounds the rewarded referrals of one referrer per calendar
	// month; 0 means no cap.
	MonthlyCap int
	Milestones []Milestone
}

// BindingWindow is how long a binding can qualify.
func (s Settings) BindingWindow() time.Duration {
	days := s.BindingWindowDays
	if days <= 0 {
		days = DefaultBindingWindowDays
	}
	return time.Duration(days) * 24 * time.Hour
}

// Hold is how long referral rewards stay on hold.
func (s Settings) Hold() time.Duration {
	days := DefaultHoldDays
	if s.HoldDays != nil {
		days = *s.HoldDays
	}
	return time.Duration(days) * 24 * time.Hour
}

// WithDefaults spells every default out, as the admin route shows them.
func (s Settings) WithDefaults() Settings {
	if s.BindingWindowDays <= 0 {
		s.BindingWindowDays = DefaultBindingWindowDays
	}
	if s.HoldDays == nil {
		d := DefaultHoldDays
		s.HoldDays = &d
	}
	if s.Milestones == nil {
		s.Milestones = []Milestone{}
	}
	return s
}

// Validate checks settings as an admin sets them; errors are BAD_REQUEST
// and name the field.
func (s Settings) Validate() error {
	if err := s.Clinic.validate(); err != nil {
		return err
	}
	if o := s.NewcomerOffer; o != nil {
		title := strings.TrimSpace(o.Title)
		switch {
		case title == "":
			return apierr.Missing("newcomerOffer.title")
		case utf8.RuneCountInString(title) > MaxOfferTitle:
			return apierr.Invalid("newcomerOffer.title", fmt.Sprintf("must be at most %d characters", MaxOfferTitle))
		case o.TemplateID != "" && !auth.ValidID(o.TemplateID):
			return auth.InvalidID("newcomerOffer.templateId")
		}
	}
	switch {
	case s.BindingWindowDays < 1 || s.BindingWindowDays > MaxBindingWindowDays:
		return apierr.Invalid("bindingWindowDays", fmt.Sprintf("must be 1 to %d", MaxBindingWindowDays))
	case s.HoldDays != nil && (*s.HoldDays < 0 || *s.HoldDays > MaxHoldDays):
		return apierr.Invalid("holdDays", fmt.Sprintf("must be 0 to %d", MaxHoldDays))
	case s.MonthlyCap < 0 || s.MonthlyCap > MaxMonthlyCap:
		return apierr.Invalid("monthlyCap", fmt.Sprintf("must be 0 (no cap) to %d", MaxMonthlyCap))
	case len(s.Milestones) > MaxMilestones:
		return apierr.Invalid("milestones", fmt.Sprintf("must hold at most %d milestones", MaxMilestones))
	}
	seen := map[int]bool{}
	for i, m := range s.Milestones {
		field := fmt.Sprintf("milestones[%d]", i)
		switch {
		case m.Count < 1 || m.Count > MaxMilestoneCount:
			return apierr.Invalid(field+".count", fmt.Sprintf("must be 1 to %d", MaxMilestoneCount))
		case seen[m.Count]:
			return apierr.Invalid(field+".count", "must differ from every other milestone's count")
		case m.TemplateID == "":
			return apierr.Missing(field + ".templateId")
		case !auth.ValidID(m.TemplateID):
			return auth.InvalidID(field + ".templateId")
		}
		seen[m.Count] = true
	}
	return nil
}

// validate checks the profile: a name, and every field short enough for a
// landing page; a phone only of what a phone number is written with.
func (c *Clinic) validate() error {
	if c == nil {
		return nil
	}
	name, addr, phone := strings.TrimSpace(c.Name), strings.TrimSpace(c.Address), strings.TrimSpace(c.Phone)
	switch {
	case name == "":
		return apierr.Missing("clinic.name")
	case utf8.RuneCountInString(name) > MaxClinicName:
		return apierr.Invalid("clinic.name", fmt.Sprintf("must be at most %d characters", MaxClinicName))
	case utf8.RuneCountInString(addr) > MaxClinicAddress:
		return apierr.Invalid("clinic.address", fmt.Sprintf("must be at most %d characters", MaxClinicAddress))
	case utf8.RuneCountInString(phone) > MaxClinicPhone:
		return apierr.Invalid("clinic.phone", fmt.Sprintf("must be at most %d characters", MaxClinicPhone))
	case strings.Trim(phone, "+-() 0123456789") != "":
		return apierr.Invalid("clinic.phone", "may hold only digits, spaces and + - ( )")
	}
	return nil
}

// Normalized is s as stored: texts trimmed, milestones by count.
func (s Settings) Normalized() Settings {
	if s.Clinic != nil {
		s.Clinic = &Clinic{
			Name:    strings.TrimSpace(s.Clinic.Name),
			Address: strings.TrimSpace(s.Clinic.Address),
			Phone:   strings.TrimSpace(s.Clinic.Phone),
		}
	}
	if s.NewcomerOffer != nil {
		o := *s.NewcomerOffer
		o.Title = strings.TrimSpace(o.Title)
		s.NewcomerOffer = &o
	}
	s.Milestones = slices.Clone(s.Milestones)
	slices.SortFunc(s.Milestones, func(a, b Milestone) int { return a.Count - b.Count })
	return s
}

// TemplateIDs lists the coupon templates the settings name, each once.
func (s Settings) TemplateIDs() []string {
	var ids []string
	if s.NewcomerOffer != nil && s.NewcomerOffer.TemplateID != "" {
		ids = append(ids, s.NewcomerOffer.TemplateID)
	}
	for _, m := range s.Milestones {
		ids = append(ids, m.TemplateID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// Source loads a tenant's settings; nil settings mean none were saved.
type Source interface {
	Settings(ctx context.Context, tenant string) (*Settings, error)
}

// Cache keeps settings for TTL, none saved as the zero settings. A stale
// read for a few seconds is fine for configuration (docs/DESIGN.md, data
// rules).
type Cache struct {
	Source Source
	Now    func() time.Time

	cache.Map[string, Settings] // TTL, and Forget for a change made here
}

// NewCache caches src for ttl.
func NewCache(src Source, ttl time.Duration) *Cache {
	return &Cache{Source: src, Now: time.Now, Map: cache.Map[string, Settings]{TTL: ttl}}
}

// Get returns the tenant's settings, loading them when the cached copy is
// older than TTL.
func (c *Cache) Get(ctx context.Context, tenant string) (Settings, error) {
	return c.Load(ctx, tenant, c.Now(), func(ctx context.Context) (Settings, error) {
		s, err := c.Source.Settings(ctx, tenant)
		if err != nil || s == nil {
			return Settings{}, err
		}
		return *s, nil
	})
}

// Fresh returns the tenant's cached settings if they are younger than TTL,
// so a caller that must read anyway can fetch them with its own read.
func (c *Cache) Fresh(tenant string) (Settings, bool) {
	return c.Map.Get(tenant, c.Now())
}

// GetWith returns the tenant's settings beside a read the caller makes
// anyway: from the cache where fresh (read runs alone), else from readWith,
// which reads them in the same call, and the cache keeps what came. So a
// route whose settings are not cached still makes one call.
func (c *Cache) GetWith(tenant string, read func() error, readWith func() (*Settings, error)) (Settings, error) {
	if s, ok := c.Fresh(tenant); ok {
		return s, read()
	}
	s, err := readWith()
	if err != nil {
		return Settings{}, err
	}
	var v Settings
	if s != nil {
		v = *s
	}
	c.Put(tenant, v)
	return v, nil
}

// Put caches s as the tenant's settings now, so this process sees an admin's
// change at once; others see it within TTL.
func (c *Cache) Put(tenant string, s Settings) {
	c.Map.Put(tenant, s, c.Now())
}

// Store keeps settings.
type Store interface {
	Source
	SaveSettings(ctx context.Context, tenant string, s Settings) error
}

// TemplateChecker says which of a tenant's coupon templates do not exist.
type TemplateChecker interface {
	MissingTemplates(ctx context.Context, tenant string, ids []string) ([]string, error)
}

// Admin is what a clinic's admin does with the settings.
type Admin struct {
	Store     Store
	Templates TemplateChecker
	// Cache is this process's settings cache, told of a change so it is
	// seen here at once; other processes see it within their TTL.
	Cache *Cache
}

// Get reads the tenant's settings, defaults spelled out.
func (a *Admin) Get(ctx context.Context, tenant string) (Settings, error) {
	s, err := a.Store.Settings(ctx, tenant)
	if err != nil {
		return Settings{}, apierr.E(apierr.Op("tenant.Get"), err)
	}
	if s == nil {
		s = &Settings{}
	}
	return s.WithDefaults(), nil
}

// Save replaces the tenant's settings. Every template they name must exist:
// one read for all of them, then one write.
func (a *Admin) Save(ctx context.Context, tenant string, s Settings) (Settings, error) {
	const op = apierr.Op("tenant.Save")
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	s = s.Normalized()
	if ids := s.TemplateIDs(); len(ids) > 0 {
		missing, err := a.Templates.MissingTemplates(ctx, tenant, ids)
		if err != nil {
			return Settings{}, apierr.E(op, err)
		}
		if len(missing) > 0 {
			return Settings{}, apierr.Errorf(op, apierr.TemplateNotFound, "field %q names no coupon template of this clinic", s.fieldNaming(missing[0]))
		}
	}
	saved := s.WithDefaults()
	if err := idempotency.Prepare(ctx, saved); err != nil {
		return Settings{}, apierr.E(op, err)
	}
	if err := a.Store.SaveSettings(ctx, tenant, s); err != nil {
		return Settings{}, apierr.E(op, err)
	}
	if a.Cache != nil {
		a.Cache.Put(tenant, s)
	}
	return saved, nil
}

// fieldNaming is the first field that names template id.
func (s Settings) fieldNaming(id string) string {
	if s.NewcomerOffer != nil && s.NewcomerOffer.TemplateID == id {
		return "newcomerOffer.templateId"
	}
	for i, m := range s.Milestones {
		if m.TemplateID == id {
			return fmt.Sprintf("milestones[%d].templateId", i)
		}
	}
	return "templateId"
}
