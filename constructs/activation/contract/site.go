package contract

import (
	"fmt"
	"regexp"

	"github.com/ecs-anywhere-stretched/stretched/internal/setting"
)

// SiteSettings are a site's activation settings, every default applied:
// fields of a site in the sites context key (docs/configuration.md) and the
// activation construct's Props.Site.
type SiteSettings struct {
	// RegistrationLimit is how many nodes may join with one activation.
	RegistrationLimit int
	// ExpiryDays is how long an activation accepts new nodes; nodes that
	// joined stay registered after it.
	ExpiryDays int
	// Serial is part of the activation's properties: changing it makes a
	// new activation with the same settings at the next deploy.
	Serial int
	// RenewDays: the renewal replaces the activation when it expires within
	// this many days, or when it is full; 0 turns renewal off.
	RenewDays int
	// RenewSchedule is when the renewal runs (an EventBridge expression).
	RenewSchedule string
}

// ActivationInput is a site's activation settings as the user gave them: nil
// where not set.
type ActivationInput struct {
	RegistrationLimit *int    `json:"registrationLimit"`
	ExpiryDays        *int    `json:"activationExpiryDays"`
	Serial            *int    `json:"activationSerial"`
	RenewDays         *int    `json:"activationRenewDays"`
	RenewSchedule     *string `json:"activationRenewSchedule"`
}

// DefaultSiteSettings are the settings of a site that sets none.
func DefaultSiteSettings() SiteSettings { return ActivationInput{}.WithDefaults() }

// WithDefaults is the one place the defaults are applied.
func (in ActivationInput) WithDefaults() SiteSettings {
	return SiteSettings{
		RegistrationLimit: setting.Or(in.RegistrationLimit, DefaultRegistrationLimit),
		ExpiryDays:        setting.Or(in.ExpiryDays, DefaultExpiryDays),
		Serial:            setting.Or(in.Serial, DefaultSerial),
		RenewDays:         setting.Or(in.RenewDays, DefaultRenewDays),
		RenewSchedule:     setting.Or(in.RenewSchedule, DefaultRenewSchedule),
	}
}

var renewScheduleRe = regexp.MustCompile(RenewSchedulePattern)

// Problems are every bad setting, by its key; it changes nothing.
func (s SiteSettings) Problems() []setting.Problem {
	var p []setting.Problem
	p = setting.Between(p, "registrationLimit", s.RegistrationLimit, MinRegistrationLimit, MaxRegistrationLimit)
	p = setting.Between(p, "activationExpiryDays", s.ExpiryDays, MinExpiryDays, MaxExpiryDays)
	p = setting.Between(p, "activationSerial", s.Serial, MinSerial, MaxSerial)
	if d := s.RenewDays; d < 0 || d >= s.ExpiryDays {
		p = append(p, setting.Problem{Key: "activationRenewDays", Value: d,
			Want: fmt.Sprintf("must be from 0 (no renewal) to %d, less than the site's activationExpiryDays (%d), or every run would renew", s.ExpiryDays-1, s.ExpiryDays)})
	}
	if !renewScheduleRe.MatchString(s.RenewSchedule) {
		p = append(p, setting.Problem{Key: "activationRenewSchedule", Value: s.RenewSchedule,
			Want: "must be an EventBridge expression such as rate(1 day), rate(12 hours) or cron(0 3 * * ? *)"})
	}
	return p
}

// SiteDocs are the rows of the configuration table.
func SiteDocs() []setting.Doc {
	code := func(v any) string { return fmt.Sprintf("`%v`", v) }
	return []setting.Doc{
		{Key: "registrationLimit", Default: code(DefaultRegistrationLimit), Allowed: fmt.Sprintf("%d..%d nodes", MinRegistrationLimit, MaxRegistrationLimit)},
		{Key: "activationExpiryDays", Default: code(DefaultExpiryDays), Allowed: fmt.Sprintf("%d..%d", MinExpiryDays, MaxExpiryDays)},
		{Key: "activationSerial", Default: code(DefaultSerial), Allowed: fmt.Sprintf("%d..%d; change it for a new activation at the next deploy", MinSerial, MaxSerial)},
		{Key: "activationRenewDays", Default: code(DefaultRenewDays), Allowed: "0 (no renewal) .. `activationExpiryDays`−1: renew when the activation expires within this many days, or is full"},
		{Key: "activationRenewSchedule", Default: code(DefaultRenewSchedule), Allowed: "a `rate(…)` or `cron(…)` expression: when the site's renewal runs (its EventBridge Scheduler schedule)"},
	}
}
