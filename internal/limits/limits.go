// Package limits defines, once, the limits and defaults that the
// configuration, the constructs and the Lambdas share: a site's SSM
// activation, the scaling backlog and burst age, the patch schedule, the
// alarm e-mail pattern. It depends only on the standard library, so a
// command-line tool can import it too.
package limits

import (
	"regexp"
	"strconv"
	"strings"
)

// What SSM allows for an activation, and the defaults this project uses.
const (
	// MinRegistrationLimit and MaxRegistrationLimit bound the nodes that may
	// join with one activation (SSM's range).
	MinRegistrationLimit = 1
	MaxRegistrationLimit = 1000
	// DefaultRegistrationLimit is the tutorial's limit.
	DefaultRegistrationLimit = 10

	// MinExpiryDays and MaxExpiryDays bound how long an activation accepts new
	// nodes (SSM refuses more than 30 days).
	MinExpiryDays = 1
	MaxExpiryDays = 30
	// DefaultExpiryDays is how long a new activation accepts nodes.
	DefaultExpiryDays = 7

	// DefaultRenewDays: the renewer replaces an activation that expires within
	// this many days. 0 turns renewal off; it must be less than the expiry days.
	DefaultRenewDays = 2
	// DefaultRenewSchedule is when the renewer runs (an EventBridge expression).
	DefaultRenewSchedule = "rate(1 day)"
	// RenewSchedulePattern is what a renewal schedule must match: an
	// EventBridge rate(...) or cron(...) expression.
	RenewSchedulePattern = `^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\([^()]+\))$`

	// MinSerial, MaxSerial and DefaultSerial bound the activation serial, the
	// number a user changes to force a new activation.
	MinSerial     = 1
	MaxSerial     = 1000000
	DefaultSerial = 1

	// MaxDescription is SSM's limit on an activation's description.
	MaxDescription = 256
	// MaxInstanceName is SSM's limit on the default instance name.
	MaxInstanceName = 256
	// MaxTagValue is SSM's limit on a tag's value.
	MaxTagValue = 256
)

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

// Defaults the configuration and the constructs share.
const (
	// BacklogPerTask is the backlog one task is given: from this many
	// visible messages the region adds a task, and a site's agent wants one
	// task per this many.
	BacklogPerTask = 100
	// DefaultBurstAgeSeconds is the oldest message's age from which a burst
	// region adds a task.
	DefaultBurstAgeSeconds = 300
	// DefaultPatchSchedule is Sunday 03:00 UTC.
	DefaultPatchSchedule = "cron(0 3 ? * SUN *)"
	// EmailPattern is what an alarm e-mail address must match.
	EmailPattern = `^[^@\s]+@[^@\s]+\.[^@\s]+$`
)
