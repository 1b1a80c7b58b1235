package contract

import (
	"strings"
	"testing"
)

// Renewal 0 is off, not unset; renewal days must stay below the expiry.
func TestSiteSettings(t *testing.T) {
	off := 0
	if got := (ActivationInput{RenewDays: &off}).WithDefaults(); got.RenewDays != 0 || got.ExpiryDays != DefaultExpiryDays {
		t.Errorf("renewal off: %+v", got)
	}
	if p := DefaultSiteSettings().Problems(); len(p) != 0 {
		t.Errorf("the defaults have problems: %v", p)
	}
	s := DefaultSiteSettings()
	s.ExpiryDays, s.RenewDays, s.RenewSchedule = 3, 3, "daily"
	var got []string
	for _, p := range s.Problems() {
		got = append(got, p.Error())
	}
	want := []string{
		"activationRenewDays is 3: must be from 0 (no renewal) to 2, less than the site's activationExpiryDays (3), or every run would renew",
		`activationRenewSchedule is "daily": must be an EventBridge expression such as rate(1 day), rate(12 hours) or cron(0 3 * * ? *)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
