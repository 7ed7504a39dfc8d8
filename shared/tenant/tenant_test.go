package tenant

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/shared/apierr"
)

func TestDefaults(t *testing.T) {
	var s Settings
	require.Equal(t, 30*24*time.Hour, s.BindingWindow())
	require.Equal(t, 7*24*time.Hour, s.Hold())
	zero := 0
	s.HoldDays = &zero
	require.Zero(t, s.Hold(), "0 is a choice: release at the next run")
	d := Settings{}.WithDefaults()
	require.Equal(t, 30, d.BindingWindowDays)
	require.Equal(t, 7, *d.HoldDays)
	require.NotNil(t, d.Milestones)
}

func TestValidate(t *testing.T) {
	n := func(i int) *int { return &i }
	ok := Settings{BindingWindowDays: 30}
	tests := []struct {
		name  string
		edit  func(s *Settings)
		field string // "" when valid
	}{
		{"defaults", func(*Settings) {}, ""},
		{"everything", func(s *Settings) {
			s.HoldDays, s.MonthlyCap = n(14), 10
			s.NewcomerOffer = &Offer{Title: "到院礼", TemplateID: "gift"}
			s.Milestones = []Milestone{{Count: 3, TemplateID: "b3"}, {Count: 10, TemplateID: "b10"}}
		}, ""},
		{"no window", func(s *Settings) { s.BindingWindowDays = 0 }, "bindingWindowDays"},
		{"long window", func(s *Settings) { s.BindingWindowDays = 366 }, "bindingWindowDays"},
		{"negative hold", func(s *Settings) { s.HoldDays = n(-1) }, "holdDays"},
		{"long hold", func(s *Settings) { s.HoldDays = n(91) }, "holdDays"},
		{"negative cap", func(s *Settings) { s.MonthlyCap = -1 }, "monthlyCap"},
		{"huge cap", func(s *Settings) { s.MonthlyCap = 1001 }, "monthlyCap"},
		{"offer without title", func(s *Settings) { s.NewcomerOffer = &Offer{Title: "  "} }, "newcomerOffer.title"},
		{"offer's bad template", func(s *Settings) { s.NewcomerOffer = &Offer{Title: "x", TemplateID: "a b"} }, "newcomerOffer.templateId"},
		{"milestone at 0", func(s *Settings) { s.Milestones = []Milestone{{Count: 0, TemplateID: "b"}} }, "milestones[0].count"},
		{"same count twice", func(s *Settings) {
			s.Milestones = []Milestone{{Count: 2, TemplateID: "a"}, {Count: 2, TemplateID: "b"}}
		}, "milestones[1].count"},
		{"milestone without template", func(s *Settings) { s.Milestones = []Milestone{{Count: 2}} }, "milestones[0].templateId"},
		{"too many milestones", func(s *Settings) { s.Milestones = make([]Milestone, 11) }, "milestones"},
		{"clinic", func(s *Settings) {
			s.Clinic = &Clinic{Name: "悦颜医疗美容门诊部", Address: "上海市静安区南京西路1266号", Phone: "+86 21-6288 0000"}
		}, ""},
		{"clinic by name alone", func(s *Settings) { s.Clinic = &Clinic{Name: "悦颜"} }, ""},
		{"clinic without name", func(s *Settings) { s.Clinic = &Clinic{Name: " ", Phone: "021-62880000"} }, "clinic.name"},
		{"clinic's long name", func(s *Settings) { s.Clinic = &Clinic{Name: strings.Repeat("悦", 61)} }, "clinic.name"},
		{"clinic's long address", func(s *Settings) { s.Clinic = &Clinic{Name: "悦颜", Address: strings.Repeat("路", 121)} }, "clinic.address"},
		{"clinic's long phone", func(s *Settings) { s.Clinic = &Clinic{Name: "悦颜", Phone: strings.Repeat("1", 33)} }, "clinic.phone"},
		{"clinic's phone with letters", func(s *Settings) { s.Clinic = &Clinic{Name: "悦颜", Phone: "call us"} }, "clinic.phone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			tt.edit(&s)
			err := s.Validate()
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			require.Equal(t, apierr.BadRequest, apierr.KindOf(err))
			require.Contains(t, apierr.Message(err), `"`+tt.field+`"`)
		})
	}
}

func TestNormalized(t *testing.T) {
	s := Settings{
		Clinic:        &Clinic{Name: " 悦颜 ", Address: " 南京西路1266号 ", Phone: " 021-62880000 "},
		NewcomerOffer: &Offer{Title: " 到院礼 ", TemplateID: "gift"},
		Milestones:    []Milestone{{Count: 5, TemplateID: "b"}, {Count: 2, TemplateID: "gift"}},
	}.Normalized()
	require.Equal(t, "到院礼", s.NewcomerOffer.Title)
	require.Equal(t, &Clinic{Name: "悦颜", Address: "南京西路1266号", Phone: "021-62880000"}, s.Clinic)
	require.Equal(t, []Milestone{{Count: 2, TemplateID: "gift"}, {Count: 5, TemplateID: "b"}}, s.Milestones)
	require.Equal(t, []string{"b", "gift"}, s.TemplateIDs())
}
