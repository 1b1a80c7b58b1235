// Package contract is what the fleetmanager construct and the configuration
// agree on: the State Manager schedules a site's associations take. It
// links no CDK.
package contract

import (
	"regexp"
	"strconv"
	"strings"
)

// DefaultPatchSchedule is Sunday 03:00 UTC.
const DefaultPatchSchedule = "cron(0 3 ? * SUN *)"

// PatchScheduleProblem says what is wrong with a State Manager association
// schedule ("" when nothing is): cron(...) or rate(N minutes|hours|days), and
// State Manager runs an association at most every 30 minutes.
func PatchScheduleProblem(s string) string {
	m := patchScheduleRe.FindStringSubmatch(s)
	switch {
	case m == nil:
		return "must be a State Manager schedule such as cron(0 3 ? * SUN *) or rate(7 days)"
	case m[2] != "" && strings.HasPrefix(m[3], "minute"):
		if n, _ := strconv.Atoi(m[2]); n < 30 {
			return "must be at least rate(30 minutes): State Manager runs an association at most every 30 minutes"
		}
	}
	return ""
}

var patchScheduleRe = regexp.MustCompile(`^(cron\([^()]+\)|rate\((\d+) (minutes|hour|hours|day|days)\))$`)
