package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	activationcontract "github.com/ecs-anywhere-stretched/stretched/constructs/activation/contract"
	alertscontract "github.com/ecs-anywhere-stretched/stretched/constructs/alerts/contract"
	routercontract "github.com/ecs-anywhere-stretched/stretched/constructs/router/contract"
	workerspeccontract "github.com/ecs-anywhere-stretched/stretched/constructs/workerspec/contract"
	"github.com/ecs-anywhere-stretched/stretched/internal/quota"
	"github.com/ecs-anywhere-stretched/stretched/internal/setting"
)

// stringRule is what a string setting must look like.
type stringRule struct {
	re      *regexp.Regexp
	allowed string // for people: the error message and the configuration table
}

// stringRules check every string setting that is set (empty means unset).
var stringRules = map[string]stringRule{
	KeyAccount:             {regexp.MustCompile(`^[0-9]{12}$`), "a 12-digit AWS account id"},
	KeyRegion:              {regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$`), "an AWS region such as eu-west-1"},
	KeyStackPrefix:         {regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,31}$`), "a letter then up to 31 letters, digits or '-'"},
	KeyImageTag:            {regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`), "an ECR image tag: letters, digits, '_', '.', '-', at most 128"},
	KeyImageURI:            {regexp.MustCompile(`^\S+$`), "an image reference without spaces, such as public.ecr.aws/org/worker:1.0"},
	KeyRegionalScaling:     {regexp.MustCompile(`^(depth|burst)$`), `"depth" (scale on visible messages) or "burst" (on the oldest message's age, from 0 tasks)`},
	KeyWork:                {regexp.MustCompile(`^(routed|shared)$`), `"routed" (a queue per location; the default, for workers whose data is local) or "shared" (one queue for every location, for workers that need no local data)`},
	KeyAlarmEmail:          {regexp.MustCompile(alertscontract.EmailPattern), "an e-mail address such as ops@example.com"},
	KeyPermissionsBoundary: {policyRe, "a managed policy ARN such as arn:aws:iam::123456789012:policy/boundary"},
	KeyNodeTier:            {regexp.MustCompile(`^(standard|advanced)$`), `"standard" (at most 1,000 hybrid nodes in an account and region, free) or "advanced" (paid; set it in Systems Manager's settings first)`},
}

// span is the allowed range of a whole-number setting.
type span struct{ lo, hi int }

// intRanges check every whole-number setting except logRetentionDays (one
// of LogRetentionDays).
var intRanges = map[string]span{
	KeyMaxReceiveCount:          {1, 1000},
	KeyVisibilityTimeoutSeconds: {1, 43200},
	KeyNatGateways:              {0, 2},
	KeyMinTasks:                 {0, 100},
	KeyMaxTasks:                 {1, 100},
	KeyBurstAgeSeconds:          {60, 43200},
	KeyAlarmMessageAgeSeconds:   {60, 1209600},
	KeyEcrMaxImages:             {1, 10000},
	KeyIamRolesQuota:            {1000, 5000},
	KeyEntryTopics:              {1, 100},
}

// LogRetentionDays lists the retention periods CloudWatch Logs accepts
// (stacks maps each to CDK's enum; a test holds the two together).
var LogRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

var (
	siteRe     = regexp.MustCompile(`^[a-z][a-z0-9-]{0,23}$`)
	clusterRe  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	instanceRe = regexp.MustCompile(activationcontract.InstanceNamePattern)
	policyRe   = regexp.MustCompile(`^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$`)
	roleRe     = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_-]{1,64}$`)
	connRe     = regexp.MustCompile(`^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:[0-9]{12}:connection/[0-9a-f-]{36}$`)
	repoRe     = regexp.MustCompile(`^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$`)
	commitRe   = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)
	branchRe   = regexp.MustCompile(`^[A-Za-z0-9._/-]{1,255}$`)
)

// intProblem says what is wrong with a whole-number setting's value.
func intProblem(key string, v any) error {
	if key == KeyLogRetentionDays {
		s := make([]string, len(LogRetentionDays))
		for i, a := range LogRetentionDays {
			s[i] = strconv.Itoa(a)
		}
		return fmt.Errorf("config: context key %q is %v: must be one of %s (default %d)", key, v, strings.Join(s, ", "), DefaultLogRetentionDays)
	}
	r := intRanges[key]
	return fmt.Errorf("config: context key %q is %v: must be a whole number from %d to %d (default %s)", key, v, r.lo, r.hi, defaultOf(key))
}

type checker struct{ errs []error }

func (c *checker) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("config: "+format, args...))
}

// validate checks a configuration with its defaults applied; in says what
// the user set.
func validate(c Config, in input) []error {
	v := &checker{}
	strs := map[string]string{KeyAccount: c.Account, KeyRegion: c.Region, KeyStackPrefix: c.StackPrefix,
		KeyImageTag: c.ImageTag, KeyImageURI: c.ImageURI, KeyRegionalScaling: c.RegionalScaling, KeyWork: c.Work,
		KeyAlarmEmail: c.AlarmEmail, KeyPermissionsBoundary: c.PermissionsBoundary, KeyNodeTier: c.NodeTier}
	ints := map[string]int{KeyMaxReceiveCount: c.MaxReceiveCount, KeyVisibilityTimeoutSeconds: c.VisibilityTimeoutSeconds,
		KeyNatGateways: c.NatGateways, KeyMinTasks: c.MinTasks, KeyMaxTasks: c.MaxTasks, KeyBurstAgeSeconds: c.BurstAgeSeconds,
		KeyAlarmMessageAgeSeconds: c.AlarmMessageAgeSeconds, KeyEcrMaxImages: c.EcrMaxImages, KeyEntryTopics: c.EntryTopics,
		KeyIamRolesQuota: c.IamRolesQuota}
	for _, key := range Keys { // in the table's order
		if value, ok := strs[key]; ok && value != "" && !stringRules[key].re.MatchString(value) {
			v.fail("context key %q is %q: must be %s", key, value, stringRules[key].allowed)
		}
		if value, ok := ints[key]; ok {
			if r := intRanges[key]; value < r.lo || value > r.hi {
				v.errs = append(v.errs, intProblem(key, value))
			}
		}
		if key == KeyLogRetentionDays && !slices.Contains(LogRetentionDays, c.LogRetentionDays) {
			v.errs = append(v.errs, intProblem(key, c.LogRetentionDays))
		}
	}
	if c.RegionalScaling == ScalingBurst && c.Work == WorkRouted {
		v.fail("context key %q is %q with %q %q: burst scaling lets the region take over a backlog, but routed work waits in each location's own queue, next to its data, and the region cannot move a site's files; set %q to %q (the worker needs no local data) or %q to %q",
			KeyRegionalScaling, ScalingBurst, KeyWork, WorkRouted, KeyWork, WorkShared, KeyRegionalScaling, ScalingDepth)
	}
	// Each cell routes its own locations (its region and its sites).
	for _, cell := range c.CellsOrOne() {
		if c.Work != WorkRouted || c.EntryTopics < 1 {
			break
		}
		locations := []string{RegionLocation}
		for _, s := range c.ForCell(cell).Sites {
			locations = append(locations, s.Name)
		}
		of := ""
		if cell.Name != "" {
			of = " of cell " + cell.Name
		}
		if i, n, over := routercontract.Overfull(locations, c.EntryTopics); over {
			v.errs = append(v.errs, quota.Use{Quota: quota.FilterCombinations, Value: n + 1,
				Where:  fmt.Sprintf("the unrouted filter of entry topic %d of %d%s (1 + %d locations; a topic routes at most %d)", i+1, c.EntryTopics, of, n, routercontract.MaxLocationsPerTopic),
				WayOut: fmt.Sprintf("set context key %q to at least %d (about one topic per 100 locations)", KeyEntryTopics, routercontract.SuggestedTopics(len(locations)))})
		}
	}
	if c.MinTasks > c.MaxTasks {
		v.fail("context keys %q and %q are %d and %d: minTasks must not exceed maxTasks", KeyMinTasks, KeyMaxTasks, c.MinTasks, c.MaxTasks)
	}
	if c.ImageTag != "" && c.ImageURI != "" {
		v.fail("context keys %q and %q are both set (%q, %q): set at most one of them", KeyImageTag, KeyImageURI, c.ImageTag, c.ImageURI)
	}
	if in.Sites != nil && len(in.Sites) == 0 {
		v.fail("context key %q is an empty list: give at least one site, such as [{\"name\": %q}]", KeySites, DefaultSiteName)
	}
	v.sites(c.Sites)
	v.cells(c, in)
	if err := workerspeccontract.ValidateSecrets(fmt.Sprintf("config: context key %q", KeyWorkerSecrets), c.WorkerSecrets); err != nil {
		v.errs = append(v.errs, err)
	}
	if c.Pipeline != nil {
		v.pipeline(c)
	}
	return v.errs
}

func (v *checker) sites(sites []Site) {
	names, clusters := map[string]bool{}, map[string]bool{}
	for i, s := range sites {
		key := fmt.Sprintf("%s[%d]", KeySites, i)
		if !siteRe.MatchString(s.Name) {
			v.fail("context key %q has name %q: must be a lowercase letter then up to 23 lowercase letters, digits or '-'", key, s.Name)
		}
		if s.Name == RegionLocation {
			v.fail("context key %q has name %q: that is the region's location name (the message attribute location=%q routes to the region); choose another site name", key, s.Name, RegionLocation)
		}
		if names[s.Name] {
			v.fail("context key %q repeats the site name %q: give every site its own name", key, s.Name)
		}
		names[s.Name] = true
		if !clusterRe.MatchString(s.ClusterName) {
			v.fail("context key %q has clusterName %q: must be 1 to 255 letters, digits, '-' or '_'", key, s.ClusterName)
		}
		if clusters[s.ClusterName] {
			v.fail("context key %q repeats the clusterName %q: give every site its own cluster", key, s.ClusterName)
		}
		clusters[s.ClusterName] = true
		if s.ExpectedNodes < 1 || s.ExpectedNodes > StandardTierNodes {
			v.fail("context key %q is %d: must be how many machines the site runs, from 1 to %d", key+".expectedNodes", s.ExpectedNodes, StandardTierNodes)
		}
		if !instanceRe.MatchString(s.InstanceName) {
			v.fail("context key %q has instanceName %q: must be 1 to 256 letters, digits, '.', '-' or '_'", key, s.InstanceName)
		}
		if s.PermissionsBoundary != "" && !policyRe.MatchString(s.PermissionsBoundary) {
			v.fail("context key %q has permissionsBoundary %q: must be a managed policy ARN such as arn:aws:iam::123456789012:policy/boundary", key, s.PermissionsBoundary)
		}
		if s.InstanceRoleArn != "" && !roleRe.MatchString(s.InstanceRoleArn) {
			v.fail("context key %q is %q: must be the ARN of a role without a path, such as arn:aws:iam::123456789012:role/ecsAnywhereInstanceRole (SSM takes the role's name)", key+".instanceRoleArn", s.InstanceRoleArn)
		}
		for _, p := range slices.Concat(s.Tasks.Problems(), s.Fleet.Problems(), s.Activation.Problems()) {
			v.fail("context key %q is %s: %s", key+"."+p.Key, setting.Show(p.Value), p.Want)
		}
	}
}

func (v *checker) pipeline(c Config) {
	p := c.Pipeline
	key := func(field string) string { return KeyPipeline + "." + field }
	switch {
	case p.CodeCommitRepository != "" && (p.ConnectionArn != "" || p.Repository != ""):
		v.fail("context key %q names both a connection and a CodeCommit repository: keep one source", KeyPipeline)
	case p.CodeCommitRepository != "":
		if !commitRe.MatchString(p.CodeCommitRepository) {
			v.fail("context key %q is %q: must be a CodeCommit repository name (letters, digits, '.', '_', '-')", key("codeCommitRepository"), p.CodeCommitRepository)
		}
	case p.ConnectionArn == "" || p.Repository == "":
		v.fail("context key %q needs a source: connectionArn and repository (GitHub, GitLab, Bitbucket through a CodeConnections connection), or codeCommitRepository; such as %s", KeyPipeline, pipelineExample)
	}
	if p.ConnectionArn != "" && !connRe.MatchString(p.ConnectionArn) {
		v.fail("context key %q is %q: must be a connection ARN such as arn:aws:codeconnections:eu-west-1:123456789012:connection/<uuid> (create it in the console: Developer Tools, Connections)", key("connectionArn"), p.ConnectionArn)
	}
	if p.Repository != "" && !repoRe.MatchString(p.Repository) {
		v.fail("context key %q is %q: must be owner/name, such as my-org/stretched", key("repository"), p.Repository)
	}
	if !branchRe.MatchString(p.Branch) || strings.Contains(p.Branch, "..") {
		v.fail("context key %q is %q: must be a branch name such as main", key("branch"), p.Branch)
	}
	if p.WaveSize < 1 || p.WaveSize > MaxWaveSize {
		v.fail("context key %q is %d: must be from 1 to %d (each site is 2 of CodePipeline's 50 actions per stage)", key("waveSize"), p.WaveSize, MaxWaveSize)
	}
	v.rings(c)
	if c.Account == "" || c.Region == "" {
		v.fail("context key %q needs %q and %q too: a pipeline deploys into one account and region, give both (such as -c account=123456789012 -c region=eu-west-1)", KeyPipeline, KeyAccount, KeyRegion)
	}
}

// joinErrs keeps the order problems were found in.
func joinErrs(lists ...[]error) error {
	var all []error
	for _, l := range lists {
		all = append(all, l...)
	}
	return errors.Join(all...)
}
