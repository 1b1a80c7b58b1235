package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	activationcontract "github.com/ecs-anywhere-stretched/stretched/constructs/activation/contract"
	fleetmanagercontract "github.com/ecs-anywhere-stretched/stretched/constructs/fleetmanager/contract"
	routercontract "github.com/ecs-anywhere-stretched/stretched/constructs/router/contract"
	siteagentcontract "github.com/ecs-anywhere-stretched/stretched/constructs/siteagent/contract"
)

// Setting is one row of the configuration table.
type Setting struct {
	Key, Default, Allowed string
}

// intDefaults are the defaults of the whole-number settings, for the table
// and for error messages.
var intDefaults = map[string]int{
	KeyMaxReceiveCount: DefaultMaxReceiveCount, KeyVisibilityTimeoutSeconds: DefaultVisibilityTimeoutSeconds,
	KeyLogRetentionDays: DefaultLogRetentionDays, KeyNatGateways: DefaultNatGateways, KeyMinTasks: DefaultMinTasks,
	KeyMaxTasks: DefaultMaxTasks, KeyBurstAgeSeconds: DefaultBurstAgeSeconds,
	KeyAlarmMessageAgeSeconds: DefaultAlarmMessageAgeSeconds, KeyEcrMaxImages: DefaultEcrMaxImages, KeyEntryTopics: DefaultEntryTopics,
	KeyIamRolesQuota: DefaultIamRolesQuota,
}

func defaultOf(key string) string { return strconv.Itoa(intDefaults[key]) }

func code(v any) string { return fmt.Sprintf("`%v`", v) }

func between(r span) string { return fmt.Sprintf("%d..%d", r.lo, r.hi) }

// Settings are the context keys, in the table's order.
func Settings() []Setting {
	days := make([]string, len(LogRetentionDays))
	for i, d := range LogRetentionDays {
		days[i] = strconv.Itoa(d)
	}
	return []Setting{
		{KeyAccount, "*(unset: environment-agnostic)*", "12-digit account id; with `region` set too, synth still makes no AWS lookup (the VPC takes the region's first two AZs from `Fn::GetAZs`)"},
		{KeyRegion, "*(unset: environment-agnostic)*", "region name, e.g. `eu-west-1`"},
		{KeyStackPrefix, code(DefaultStackPrefix), "letter + up to 31 letters/digits/`-`; stacks are `<prefix>-Regional`, `<prefix>-Anywhere-<site>`"},
		{KeyImageTag, "*(unset: build `worker/Dockerfile` as an asset)*", "ECR tag in the stack's repository; not with `imageUri`"},
		{KeyImageURI, "*(unset)*", "any image reference; not with `imageTag`"},
		{KeyMaxReceiveCount, code(DefaultMaxReceiveCount), between(intRanges[KeyMaxReceiveCount]) + " receives before the dead-letter queue"},
		{KeyVisibilityTimeoutSeconds, code(DefaultVisibilityTimeoutSeconds), between(intRanges[KeyVisibilityTimeoutSeconds]) + " (the worker extends it per message)"},
		{KeyLogRetentionDays, code(DefaultLogRetentionDays), "a CloudWatch Logs retention: " + strings.Join(days, ", ") + "; every log group the app makes (worker, Lambdas, VPC flow logs, pipeline builds)"},
		{KeyNatGateways, code(DefaultNatGateways), between(intRanges[KeyNatGateways])},
		{KeyMinTasks, fmt.Sprintf("`%d` (`%d` with `regionalScaling: %s`)", DefaultMinTasks, DefaultBurstMinTasks, ScalingBurst), between(intRanges[KeyMinTasks]) + " Fargate tasks at least"},
		{KeyMaxTasks, code(DefaultMaxTasks), between(intRanges[KeyMaxTasks]) + " Fargate tasks at most"},
		{KeyRegionalScaling, code(DefaultRegionalScaling), "`depth` (visible messages) or `burst` (age of the oldest message, from 0 tasks; needs `work: shared`)"},
		{KeyWork, code(DefaultWork), "`routed` (a queue per location, an entry that routes on `location`) or `shared` (one queue for every location, for workers that need no local data)"},
		{KeyEntryTopics, code(DefaultEntryTopics), between(intRanges[KeyEntryTopics]) + fmt.Sprintf(" SNS entry topics sharing the locations (routed work), each location on one by a hash of its name; a topic routes at most %d locations (SNS: 200 filter policies per topic, 150 combinations in the unrouted filter), so give about one per 100 locations; changing it moves locations between topics", routercontract.MaxLocationsPerTopic)},
		{KeyBurstAgeSeconds, code(DefaultBurstAgeSeconds), between(intRanges[KeyBurstAgeSeconds]) + ": the oldest message's age from which burst adds a task"},
		{KeyAlarmEmail, "*(none)*", "an e-mail address subscribed to the alarm topic"},
		{KeyAlarmMessageAgeSeconds, code(DefaultAlarmMessageAgeSeconds), between(intRanges[KeyAlarmMessageAgeSeconds]) + ": the oldest message older than this alarms"},
		{KeyEcrMaxImages, code(DefaultEcrMaxImages), between(intRanges[KeyEcrMaxImages]) + " tagged images kept by the lifecycle rule"},
		{KeyIamRolesQuota, code(DefaultIamRolesQuota), between(intRanges[KeyIamRolesQuota]) + " the account's IAM roles-per-account quota, once raised in Service Quotas (\"Roles per account\", at most 5,000): a site has three roles (its nodes', its tasks', its tasks' execution role; two with instanceRoleArn), and synth fails, naming this key, when the app's roles would exceed the quota"},
		{KeyPermissionsBoundary, "*(none)*", "managed policy ARN set as the permissions boundary of every IAM role of every stack (a site's own replaces it there)"},
		{KeyNodeTier, code(DefaultNodeTier), fmt.Sprintf("`%s` or `%s`: the Systems Manager tier of the account and region for hybrid nodes (without `cells`; each cell's default); with `%s`, synth fails when the sites' `expectedNodes` add up to more than %d in one account and region", NodeTierStandard, NodeTierAdvanced, NodeTierStandard, StandardTierNodes)},
		{KeySites, fmt.Sprintf("`[{\"name\": %q}]`", DefaultSiteName), "list of sites, below"},
		{KeyWorkerSecrets, "*(none)*", "worker variables from SSM or Secrets Manager, below"},
		{KeyPipeline, "*(none: deploy directly)*", "`{connectionArn, repository}` or `{codeCommitRepository}`, with `branch` (default `" + DefaultBranch + "`), `approveSites`, `waveSize` (sites deployed side by side per stage after the region, default " + fmt.Sprint(DefaultWaveSize) + ", at most " + fmt.Sprint(MaxWaveSize) + ") and `rings` (`[{name, sites, bakeMinutes}]`: the next `sites` sites, 0 for the rest, then a bake of `bakeMinutes`, default " + fmt.Sprint(DefaultBakeMinutes) + ", at most " + fmt.Sprint(MaxBakeMinutes) + ", gated on the fleet's alarms; docs/pipeline.md); needs `account` and `region` (the pipeline's own)"},
		{KeyCells, "*(none: one cell, the app's `account` and `region`)*", "`[{name, account, region, nodeTier, approve}]`: the accounts and regions the fleet is split into (docs/cells.md); `name` a lowercase letter + up to 11 of `a-z 0-9`, one cell per account and region; stacks become `<prefix>-<cell>-Regional` and `<prefix>-<cell>-Anywhere-<site>`; `approve: true` makes the pipeline wait for a manual approval before the cell"},
	}
}

// SiteSettings are a site's fields, in the table's order.
func SiteSettings() []Setting {
	rows := []Setting{
		{"name", "— (required)", "lowercase letter + up to 23 of `a-z 0-9 -`, unique, not `" + RegionLocation + "`"},
		{"cell", "*(none; required with `cells`)*", "the name of one of `cells`: the account and region the site's stack, queue, logs and keys are in"},
		{"expectedNodes", code(DefaultExpectedNodes), fmt.Sprintf("1..%d machines the site runs: the hybrid-node quota of its account and region counts them", StandardTierNodes)},
		{"clusterName", fmt.Sprintf("`%s` (one site) or `%s-<name>` (several: adding a second site renames the first one's cluster, which replaces it and its nodes must join again; pin `clusterName: %s` on it first)", DefaultClusterName, DefaultClusterName, DefaultClusterName), "1..255 of letters, digits, `-`, `_`; unique"},
	}
	// The features' own settings, then the site's.
	for _, d := range slices.Concat(siteagentcontract.SiteDocs(), fleetmanagercontract.SiteDocs(), activationcontract.SiteDocs()) {
		rows = append(rows, Setting(d))
	}
	return append(rows, []Setting{
		{"keepNodesOnDestroy", "`false`", "`true` leaves the site's nodes registered when its stack is deleted"},
		{"containerInsights", "`false`", "`true` turns on CloudWatch Container Insights for the site's cluster: per-task CPU and memory, at 16 or more custom metrics (at least USD 4.80 a month a site); the fleet's alarms need none of it"},
		{"instanceName", "the site name", "default name SSM gives a node"},
		{"instanceRoleArn", "*(none: the stack makes the role)*", "your own role for the site's nodes, by ARN (no path): it must trust `ssm.amazonaws.com` and have `AmazonSSMManagedInstanceCore` and `AmazonEC2ContainerServiceforEC2Role`; the app only passes it to SSM"},
		{"permissionsBoundary", "the top-level `" + KeyPermissionsBoundary + "`", "managed policy ARN set as the permissions boundary of every IAM role of the site's stack, the instance role among them"},
	}...)
}

// Table is the configuration table in Markdown: the context keys, then a
// site's fields.
func Table() string {
	var b strings.Builder
	row := func(s Setting) { fmt.Fprintf(&b, "| `%s` | %s | %s |\n", s.Key, s.Default, s.Allowed) }
	b.WriteString("| key | default | allowed |\n|---|---|---|\n")
	for _, s := range Settings() {
		row(s)
	}
	b.WriteString("\nEach site (one anywhere stack):\n\n| field | default | allowed |\n|---|---|---|\n")
	for _, s := range SiteSettings() {
		row(s)
	}
	return b.String()
}
