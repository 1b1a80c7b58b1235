package contract

import (
	"fmt"

	"github.com/ecs-anywhere-stretched/stretched/internal/setting"
)

// What a site's patch association does (the site setting patching).
const (
	PatchScan    = "scan"
	PatchInstall = "install"
	PatchOff     = "off"
)

// SiteSettings are a site's fleet management settings, every default
// applied: fields of a site in the sites context key
// (docs/configuration.md) and the fleetmanager construct's Props.Site.
type SiteSettings struct {
	// Patching is PatchScan, PatchInstall or PatchOff: what the site's patch
	// association does with AWS-RunPatchBaseline.
	Patching string
	// PatchSchedule is when the patch association runs (cron or rate).
	PatchSchedule string
	// EcsAgentUpdateSchedule, when set (cron or rate), updates the nodes'
	// ECS agent on that schedule, one node at a time (as fleet node
	// update-agents does, without draining: an agent update leaves running
	// tasks running); empty for none.
	EcsAgentUpdateSchedule string
}

// FleetInput is a site's fleet management settings as the user gave them:
// nil where not set.
type FleetInput struct {
	Patching               *string `json:"patching"`
	PatchSchedule          *string `json:"patchSchedule"`
	EcsAgentUpdateSchedule *string `json:"ecsAgentUpdateSchedule"`
}

// DefaultPatching reports missing patches without installing them.
const DefaultPatching = PatchScan

// DefaultSiteSettings are the settings of a site that sets none.
func DefaultSiteSettings() SiteSettings { return FleetInput{}.WithDefaults() }

// WithDefaults is the one place the defaults are applied.
func (in FleetInput) WithDefaults() SiteSettings {
	return SiteSettings{
		Patching:               setting.Or(in.Patching, DefaultPatching),
		PatchSchedule:          setting.Or(in.PatchSchedule, DefaultPatchSchedule),
		EcsAgentUpdateSchedule: setting.Or(in.EcsAgentUpdateSchedule, ""),
	}
}

// Problems are every bad setting, by its key; it changes nothing.
func (s SiteSettings) Problems() []setting.Problem {
	var p []setting.Problem
	if v := s.Patching; v != PatchScan && v != PatchInstall && v != PatchOff {
		p = append(p, setting.Problem{Key: "patching", Value: v,
			Want: fmt.Sprintf("must be %q (report missing patches, the default), %q (install them) or %q", PatchScan, PatchInstall, PatchOff)})
	}
	if problem := PatchScheduleProblem(s.PatchSchedule); problem != "" {
		p = append(p, setting.Problem{Key: "patchSchedule", Value: s.PatchSchedule, Want: problem})
	}
	if s.EcsAgentUpdateSchedule != "" {
		if problem := PatchScheduleProblem(s.EcsAgentUpdateSchedule); problem != "" {
			p = append(p, setting.Problem{Key: "ecsAgentUpdateSchedule", Value: s.EcsAgentUpdateSchedule, Want: problem})
		}
	}
	return p
}

// SiteDocs are the rows of the configuration table.
func SiteDocs() []setting.Doc {
	return []setting.Doc{
		{Key: "patching", Default: "`" + DefaultPatching + "`", Allowed: fmt.Sprintf("`%s`, `%s` or `%s`: what the weekly patch association does", PatchScan, PatchInstall, PatchOff)},
		{Key: "patchSchedule", Default: "`" + DefaultPatchSchedule + "`", Allowed: "a State Manager `cron(…)` or `rate(…)` expression, at least `rate(30 minutes)`"},
		{Key: "ecsAgentUpdateSchedule", Default: "*(none)*", Allowed: "a State Manager `cron(…)` or `rate(…)` expression: update the nodes' ECS agent (ecs-init) then, one node at a time; `fleet node update-agents` does it on demand, draining each node first"},
	}
}
