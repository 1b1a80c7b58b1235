package contract

import (
	"fmt"

	"github.com/ecs-anywhere-stretched/stretched/internal/setting"
)

// Defaults and bounds of a site's EXTERNAL task count.
const (
	DefaultMinTasks = 1
	// DefaultMaxTasks is the maximum of a site that sets none, or its
	// minTasks when that is higher.
	DefaultMaxTasks = 3
	MaxTasksLimit   = 1000
)

// SiteSettings are the bounds the agent scales a site's EXTERNAL service
// between, every default applied: fields of a site in the sites context
// key (docs/configuration.md) and the siteagent construct's SiteProps.Site.
type SiteSettings struct {
	MinTasks, MaxTasks int
}

// TasksInput is a site's task bounds as the user gave them: nil where not set.
type TasksInput struct {
	MinTasks *int `json:"minTasks"`
	MaxTasks *int `json:"maxTasks"`
}

// DefaultSiteSettings are the settings of a site that sets none.
func DefaultSiteSettings() SiteSettings { return TasksInput{}.WithDefaults() }

// WithDefaults is the one place the defaults are applied: a site's maximum
// is at least its minimum unless the user set both.
func (in TasksInput) WithDefaults() SiteSettings {
	lo := setting.Or(in.MinTasks, DefaultMinTasks)
	return SiteSettings{MinTasks: lo, MaxTasks: setting.Or(in.MaxTasks, max(DefaultMaxTasks, lo))}
}

// Problems are every bad setting, by its key; it changes nothing.
func (s SiteSettings) Problems() []setting.Problem {
	var p []setting.Problem
	p = setting.Between(p, "minTasks", s.MinTasks, 0, MaxTasksLimit)
	p = setting.Between(p, "maxTasks", s.MaxTasks, 1, MaxTasksLimit)
	if s.MinTasks > s.MaxTasks {
		p = append(p, setting.Problem{Key: "minTasks", Value: s.MinTasks, Want: fmt.Sprintf("must not exceed maxTasks (%d)", s.MaxTasks)})
	}
	return p
}

// SiteDocs are the rows of the configuration table.
func SiteDocs() []setting.Doc {
	return []setting.Doc{
		{Key: "minTasks", Default: fmt.Sprintf("`%d`", DefaultMinTasks), Allowed: fmt.Sprintf("0..%d EXTERNAL tasks at least", MaxTasksLimit)},
		{Key: "maxTasks", Default: fmt.Sprintf("`%d` (at least `minTasks`)", DefaultMaxTasks), Allowed: fmt.Sprintf("1..%d EXTERNAL tasks at most: what the site's nodes can run", MaxTasksLimit)},
	}
}
