// Package config reads the app's settings from CDK context and validates them.
//
// Every setting has a documented default. Values may come from cdk.json (JSON
// types) or from `cdk synth -c key=value` (always strings), so numbers and lists
// are accepted in either form. Load reports every problem at once.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ecs-anywhere-stretched/stretched/internal/limits"
	"github.com/ecs-anywhere-stretched/stretched/internal/names"
	"github.com/ecs-anywhere-stretched/stretched/internal/workersecrets"
)

// Context keys. They are API: users put them in cdk.json or pass them with -c.
const (
	KeyAccount                  = "account"
	KeyRegion                   = "region"
	KeyStackPrefix              = "stackPrefix"
	KeyImageTag                 = "imageTag"
	KeyImageURI                 = "imageUri"
	KeyMaxReceiveCount          = "maxReceiveCount"
	KeyVisibilityTimeoutSeconds = "visibilityTimeoutSeconds"
	KeyLogRetentionDays         = "logRetentionDays"
	KeyNatGateways              = "natGateways"
	KeyMinTasks                 = "minTasks"
	KeyMaxTasks                 = "maxTasks"
	KeyRegionalScaling          = "regionalScaling"
	KeyWork                     = "work"
	KeyBurstAgeSeconds          = "burstAgeSeconds"
	KeyAlarmEmail               = "alarmEmail"
	KeyAlarmMessageAgeSeconds   = "alarmMessageAgeSeconds"
	KeyEcrMaxImages             = "ecrMaxImages"
	KeySites                    = "sites"
	KeyWorkerSecrets            = "workerSecrets"
	KeyPipeline                 = "pipeline"

	// keyDesiredCount was replaced by minTasks and maxTasks.
	keyDesiredCount = "desiredCount"
)

// Regional scaling modes (regionalScaling).
const (
	// ScalingDepth scales the Fargate service on the queue's visible messages.
	ScalingDepth = "depth"
	// ScalingBurst scales it on the age of the oldest message, from 0 tasks:
	// the sites do the work and the region helps when they fall behind.
	ScalingBurst = "burst"
)

// How work reaches the locations (work).
const (
	// WorkRouted gives the region and every site a queue of their own; a
	// producer names the location with the message attribute "location"
	// (the shipped worker's data is local to its location).
	WorkRouted = "routed"
	// WorkShared gives every location one queue: for a worker that needs no
	// local data (it reads its input from the message or from S3).
	WorkShared = "shared"
	// RegionLocation is the location name of the region's worker; no site
	// may take it.
	RegionLocation = "region"
)

// Patch operations of a site (patching).
const (
	PatchScan    = "scan"
	PatchInstall = "install"
	PatchOff     = "off"
)

// Defaults of the settings, documented in the README's configuration table.
const (
	DefaultStackPrefix              = names.DefaultStackPrefix
	DefaultMaxReceiveCount          = 5
	DefaultVisibilityTimeoutSeconds = 60
	DefaultLogRetentionDays         = 365
	DefaultNatGateways              = 0
	DefaultMinTasks                 = 1
	DefaultBurstMinTasks            = 0
	DefaultMaxTasks                 = 10
	DefaultBurstAgeSeconds          = limits.DefaultBurstAgeSeconds
	DefaultAlarmMessageAgeSeconds   = 900
	DefaultEcrMaxImages             = 20
	DefaultSiteName                 = "onprem"
	DefaultClusterName              = "ecsAnywhereCluster"
	DefaultSiteMinTasks             = 1
	DefaultSiteMaxTasks             = 3
	DefaultPatchSchedule            = limits.DefaultPatchSchedule
)

// LogRetentionDays lists the retention periods CloudWatch Logs accepts.
var LogRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// Config is the validated configuration of the whole app.
type Config struct {
	// Account and Region pin the stacks to an environment; empty means
	// environment-agnostic.
	Account, Region string
	// StackPrefix starts every stack name: <prefix>-Regional, <prefix>-Anywhere-<site>.
	StackPrefix string
	// ImageTag selects the image in the stack's own ECR repository; ImageURI any
	// image. With neither, the worker's Dockerfile is built as a CDK image asset
	// at deploy time.
	ImageTag, ImageURI string
	// MaxReceiveCount is how often a message is received before it moves to the
	// dead-letter queue.
	MaxReceiveCount int
	// VisibilityTimeoutSeconds is the queue's default visibility timeout.
	VisibilityTimeoutSeconds int
	// LogRetentionDays is the retention of the shared log group.
	LogRetentionDays int
	// NatGateways is the number of NAT gateways of the regional VPC; with 0 the
	// Fargate tasks run in public subnets with a public IP and no inbound rule.
	NatGateways int
	// MinTasks and MaxTasks bound the in-region Fargate tasks; scaling on the
	// queue chooses the count between them.
	MinTasks, MaxTasks int
	// RegionalScaling is ScalingDepth or ScalingBurst.
	RegionalScaling string
	// Work is WorkRouted (default) or WorkShared.
	Work string
	// BurstAgeSeconds is the oldest message's age from which burst scaling
	// adds a Fargate task.
	BurstAgeSeconds int
	// AlarmEmail, when set, is subscribed to the app's alarm topic.
	AlarmEmail string
	// AlarmMessageAgeSeconds: the oldest message older than this alarms.
	AlarmMessageAgeSeconds int
	// EcrMaxImages is how many images the ECR lifecycle rule keeps.
	EcrMaxImages int
	// Sites are the on-premises locations, one anywhere stack each.
	Sites []Site
	// WorkerSecrets are the worker's variables read from SSM parameters and
	// Secrets Manager secrets, sorted by name.
	WorkerSecrets []workersecrets.Secret
	// Pipeline, when set, makes the app a CodePipeline that deploys the
	// stacks; nil deploys them directly (make deploy).
	Pipeline *Pipeline
}

// Pipeline is the pipeline mode's source and options.
type Pipeline struct {
	// ConnectionArn and Repository ("owner/name") name a GitHub, GitLab or
	// Bitbucket repository through a CodeStar (CodeConnections) connection.
	ConnectionArn string `json:"connectionArn"`
	Repository    string `json:"repository"`
	// CodeCommitRepository names a CodeCommit repository instead.
	CodeCommitRepository string `json:"codeCommitRepository"`
	// Branch to deploy. Default: main.
	Branch string `json:"branch"`
	// ApproveSites adds a manual approval between the region and the sites.
	ApproveSites bool `json:"approveSites"`
}

// Site is one on-premises location joined through ECS Anywhere.
type Site struct {
	// Name identifies the site in stack names; lowercase letters, digits, '-'.
	Name string `json:"name"`
	// ClusterName of the external ECS cluster.
	ClusterName string `json:"clusterName"`
	// MinTasks and MaxTasks bound the EXTERNAL worker tasks; give MaxTasks
	// what the site's nodes can run.
	MinTasks *int `json:"minTasks"`
	MaxTasks *int `json:"maxTasks"`
	// DesiredCount was replaced by MinTasks and MaxTasks; it is read only to
	// say so.
	DesiredCount *int `json:"desiredCount"`
	// RegistrationLimit of the SSM activation (nodes that may join).
	RegistrationLimit *int `json:"registrationLimit"`
	// ActivationExpiryDays is how long the activation accepts new nodes.
	ActivationExpiryDays *int `json:"activationExpiryDays"`
	// InstanceName is the default name SSM gives a joined node.
	InstanceName string `json:"instanceName"`
	// PermissionsBoundary is the ARN of a managed policy set as the instance
	// role's permissions boundary.
	PermissionsBoundary string `json:"permissionsBoundary"`
	// ActivationSerial is a number to change when the site needs a new
	// activation with the same settings at the next deploy.
	ActivationSerial *int `json:"activationSerial"`
	// ActivationRenewDays: the renewer replaces the activation when it
	// expires within this many days (or is full); 0 turns renewal off.
	ActivationRenewDays *int `json:"activationRenewDays"`
	// ActivationRenewSchedule is when the renewer runs (EventBridge rate or cron).
	ActivationRenewSchedule string `json:"activationRenewSchedule"`
	// KeepNodesOnDestroy leaves the site's nodes registered when its stack is
	// deleted (then the cluster cannot be deleted while nodes remain).
	KeepNodesOnDestroy bool `json:"keepNodesOnDestroy"`
	// Patching is PatchScan, PatchInstall or PatchOff: what the site's patch
	// association does with AWS-RunPatchBaseline.
	Patching string `json:"patching"`
	// PatchSchedule is when the patch association runs (cron or rate).
	PatchSchedule string `json:"patchSchedule"`
}

// Keys lists every context key the app reads.
var Keys = []string{KeyAccount, KeyRegion, KeyStackPrefix, KeyImageTag, KeyImageURI, KeyMaxReceiveCount,
	KeyVisibilityTimeoutSeconds, KeyLogRetentionDays, KeyNatGateways, KeyMinTasks, KeyMaxTasks, KeyRegionalScaling, KeyWork, KeyBurstAgeSeconds, KeyAlarmEmail, KeyAlarmMessageAgeSeconds,
	KeyEcrMaxImages, KeySites, KeyWorkerSecrets, KeyPipeline}

var (
	accountRe  = regexp.MustCompile(`^[0-9]{12}$`)
	regionRe   = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$`)
	prefixRe   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,31}$`)
	tagRe      = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
	siteRe     = regexp.MustCompile(`^[a-z][a-z0-9-]{0,23}$`)
	clusterRe  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	instanceRe = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,256}$`)
	policyRe   = regexp.MustCompile(`^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$`)
	scheduleRe = regexp.MustCompile(limits.RenewSchedulePattern)
	connRe     = regexp.MustCompile(`^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:[0-9]{12}:connection/[0-9a-f-]{36}$`)
	repoRe     = regexp.MustCompile(`^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$`)
	commitRe   = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)
	branchRe   = regexp.MustCompile(`^[A-Za-z0-9._/-]{1,255}$`)
	emailRe    = regexp.MustCompile(limits.EmailPattern)
)

// Getter returns the context value of a key, or nil when it is not set.
type Getter func(key string) any

// Load reads and validates every setting. The error joins every problem found.
func Load(get Getter, keys []string) (Config, error) {
	l := loader{get: get}
	c := Config{
		Account:                  l.str(KeyAccount, "", accountRe, "a 12-digit AWS account id"),
		Region:                   l.str(KeyRegion, "", regionRe, "an AWS region such as eu-west-1"),
		StackPrefix:              l.str(KeyStackPrefix, DefaultStackPrefix, prefixRe, "a letter then up to 31 letters, digits or '-'"),
		ImageTag:                 l.str(KeyImageTag, "", tagRe, "an ECR image tag: letters, digits, '_', '.', '-', at most 128"),
		ImageURI:                 l.str(KeyImageURI, "", regexp.MustCompile(`^\S+$`), "an image reference without spaces, such as public.ecr.aws/org/worker:1.0"),
		MaxReceiveCount:          l.intIn(KeyMaxReceiveCount, DefaultMaxReceiveCount, 1, 1000),
		VisibilityTimeoutSeconds: l.intIn(KeyVisibilityTimeoutSeconds, DefaultVisibilityTimeoutSeconds, 1, 43200),
		LogRetentionDays:         l.intOneOf(KeyLogRetentionDays, DefaultLogRetentionDays, LogRetentionDays),
		NatGateways:              l.intIn(KeyNatGateways, DefaultNatGateways, 0, 2),
		RegionalScaling:          l.str(KeyRegionalScaling, ScalingDepth, regexp.MustCompile(`^(depth|burst)$`), `"depth" (scale on visible messages) or "burst" (on the oldest message's age, from 0 tasks)`),
		Work:                     l.str(KeyWork, WorkRouted, regexp.MustCompile(`^(routed|shared)$`), `"routed" (a queue per location; the default, for workers whose data is local) or "shared" (one queue for every location, for workers that need no local data)`),
		BurstAgeSeconds:          l.intIn(KeyBurstAgeSeconds, DefaultBurstAgeSeconds, 60, 43200),
		AlarmEmail:               l.str(KeyAlarmEmail, "", emailRe, "an e-mail address such as ops@example.com"),
		AlarmMessageAgeSeconds:   l.intIn(KeyAlarmMessageAgeSeconds, DefaultAlarmMessageAgeSeconds, 60, 1209600),
		EcrMaxImages:             l.intIn(KeyEcrMaxImages, DefaultEcrMaxImages, 1, 10000),
	}
	if c.RegionalScaling == ScalingBurst && c.Work == WorkRouted {
		l.fail("context key %q is %q with %q %q: burst scaling lets the region take over a backlog, but routed work waits in each location's own queue, next to its data, and the region cannot move a site's files; set %q to %q (the worker needs no local data) or %q to %q",
			KeyRegionalScaling, ScalingBurst, KeyWork, WorkRouted, KeyWork, WorkShared, KeyRegionalScaling, ScalingDepth)
	}
	minDefault := DefaultMinTasks
	if c.RegionalScaling == ScalingBurst {
		minDefault = DefaultBurstMinTasks
	}
	c.MinTasks = l.intIn(KeyMinTasks, minDefault, 0, 100)
	c.MaxTasks = l.intIn(KeyMaxTasks, DefaultMaxTasks, 1, 100)
	if c.MinTasks > c.MaxTasks {
		l.fail("context keys %q and %q are %d and %d: minTasks must not exceed maxTasks", KeyMinTasks, KeyMaxTasks, c.MinTasks, c.MaxTasks)
	}
	if get(keyDesiredCount) != nil {
		l.fail("context key %q was replaced by %q and %q (scaling on the queue owns the count): set those instead", keyDesiredCount, KeyMinTasks, KeyMaxTasks)
	}
	if c.ImageTag != "" && c.ImageURI != "" {
		l.fail("context keys %q and %q are both set (%q, %q): set at most one of them", KeyImageTag, KeyImageURI, c.ImageTag, c.ImageURI)
	}
	c.Sites = l.sites()
	c.WorkerSecrets = l.workerSecrets()
	c.Pipeline = l.pipeline(c)
	for _, k := range keys {
		if !strings.ContainsAny(k, ":@") && !slices.Contains(Keys, k) && k != keyDesiredCount {
			l.fail("unknown context key %q: the app reads only %s; fix the spelling or remove it", k, strings.Join(Keys, ", "))
		}
	}
	return c, errors.Join(l.errs...)
}

// SiteMinTasks and the other Site accessors return the value or its default.
func (s Site) SiteMinTasks() int { return deref(s.MinTasks, DefaultSiteMinTasks) }

// SiteMaxTasks returns the site's maximum task count or its default, 3.
func (s Site) SiteMaxTasks() int {
	return deref(s.MaxTasks, max(DefaultSiteMaxTasks, s.SiteMinTasks()))
}

// SitePatching returns the site's patch operation or its default, scan.
func (s Site) SitePatching() string {
	if s.Patching == "" {
		return PatchScan
	}
	return s.Patching
}

// SitePatchSchedule returns the patch association's schedule or its default.
func (s Site) SitePatchSchedule() string {
	if s.PatchSchedule == "" {
		return DefaultPatchSchedule
	}
	return s.PatchSchedule
}

// SiteRegistrationLimit returns the activation's node limit or its default, 10.
func (s Site) SiteRegistrationLimit() int {
	return deref(s.RegistrationLimit, limits.DefaultRegistrationLimit)
}
func (s Site) SiteExpiryDays() int { return deref(s.ActivationExpiryDays, limits.DefaultExpiryDays) }

// SiteActivationSerial returns the activation serial or its default, 1.
func (s Site) SiteActivationSerial() int { return deref(s.ActivationSerial, limits.DefaultSerial) }

// SiteRenewDays returns the renewal margin in days or its default, 2.
func (s Site) SiteRenewDays() int { return deref(s.ActivationRenewDays, limits.DefaultRenewDays) }

// SiteRenewSchedule returns the renewer's schedule or its default, daily.
func (s Site) SiteRenewSchedule() string {
	if s.ActivationRenewSchedule == "" {
		return limits.DefaultRenewSchedule
	}
	return s.ActivationRenewSchedule
}

func deref(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

type loader struct {
	get  Getter
	errs []error
}

func (l *loader) fail(format string, args ...any) {
	l.errs = append(l.errs, fmt.Errorf("config: "+format, args...))
}

func (l *loader) str(key, def string, re *regexp.Regexp, allowed string) string {
	v := l.get(key)
	if v == nil {
		return def
	}
	s, ok := v.(string)
	if !ok {
		l.fail("context key %q is %v (%T): must be a string, %s", key, v, v, allowed)
		return def
	}
	if s == "" {
		return def
	}
	if !re.MatchString(s) {
		l.fail("context key %q is %q: must be %s", key, s, allowed)
	}
	return s
}

// number accepts a JSON number or a string holding a whole number.
func number(v any) (int, bool) {
	switch n := v.(type) {
	case float64:
		if n != float64(int(n)) {
			return 0, false
		}
		return int(n), true
	case int:
		return n, true
	case string:
		i, err := strconv.Atoi(strings.TrimSpace(n))
		return i, err == nil
	}
	return 0, false
}

func (l *loader) intIn(key string, def, lo, hi int) int {
	return l.intCheck(key, l.get(key), def, lo, hi)
}

func (l *loader) intCheck(key string, v any, def, lo, hi int) int {
	if v == nil {
		return def
	}
	n, ok := number(v)
	if !ok || n < lo || n > hi {
		l.fail("context key %q is %v: must be a whole number from %d to %d (default %d)", key, v, lo, hi, def)
		return def
	}
	return n
}

func (l *loader) intOneOf(key string, def int, allowed []int) int {
	v := l.get(key)
	if v == nil {
		return def
	}
	n, ok := number(v)
	if !ok || !slices.Contains(allowed, n) {
		s := make([]string, len(allowed))
		for i, a := range allowed {
			s[i] = strconv.Itoa(a)
		}
		l.fail("context key %q is %v: must be one of %s (default %d)", key, v, strings.Join(s, ", "), def)
		return def
	}
	return n
}

func (l *loader) sites() []Site {
	v := l.get(KeySites)
	sites := []Site{{Name: DefaultSiteName}}
	raw, err := contextJSON(v)
	if v != nil && err == nil {
		sites = nil
		err = decodeStrict(raw, &sites)
	}
	if err != nil {
		l.fail(`context key %q is %v: must be a list of sites such as [{"name": "factory", "maxTasks": 2}] (%v)`, KeySites, v, err)
		return nil
	}
	if len(sites) == 0 {
		l.fail("context key %q is an empty list: give at least one site, such as [{\"name\": %q}]", KeySites, DefaultSiteName)
	}
	names, clusters := map[string]bool{}, map[string]bool{}
	for i := range sites {
		s := &sites[i]
		key := fmt.Sprintf("%s[%d]", KeySites, i)
		if !siteRe.MatchString(s.Name) {
			l.fail("context key %q has name %q: must be a lowercase letter then up to 23 lowercase letters, digits or '-'", key, s.Name)
		}
		if s.Name == RegionLocation {
			l.fail("context key %q has name %q: that is the region's location name (the message attribute location=%q routes to the region); choose another site name", key, s.Name, RegionLocation)
		}
		if names[s.Name] {
			l.fail("context key %q repeats the site name %q: give every site its own name", key, s.Name)
		}
		names[s.Name] = true
		if s.ClusterName == "" {
			s.ClusterName = DefaultClusterName
			if len(sites) > 1 {
				s.ClusterName = DefaultClusterName + "-" + s.Name
			}
		}
		if !clusterRe.MatchString(s.ClusterName) {
			l.fail("context key %q has clusterName %q: must be 1 to 255 letters, digits, '-' or '_'", key, s.ClusterName)
		}
		if clusters[s.ClusterName] {
			l.fail("context key %q repeats the clusterName %q: give every site its own cluster", key, s.ClusterName)
		}
		clusters[s.ClusterName] = true
		if s.InstanceName == "" {
			s.InstanceName = s.Name
		}
		if !instanceRe.MatchString(s.InstanceName) {
			l.fail("context key %q has instanceName %q: must be 1 to 256 letters, digits, '.', '-' or '_'", key, s.InstanceName)
		}
		if s.PermissionsBoundary != "" && !policyRe.MatchString(s.PermissionsBoundary) {
			l.fail("context key %q has permissionsBoundary %q: must be a managed policy ARN such as arn:aws:iam::123456789012:policy/boundary", key, s.PermissionsBoundary)
		}
		if s.DesiredCount != nil {
			l.fail("context key %q was replaced by minTasks and maxTasks (scaling on the queue owns the count): set those instead", key+".desiredCount")
		}
		l.siteInt(key+".minTasks", s.MinTasks, 0, 1000)
		l.siteInt(key+".maxTasks", s.MaxTasks, 1, 1000)
		if s.SiteMinTasks() > s.SiteMaxTasks() {
			l.fail("context key %q has minTasks %d above maxTasks %d: minTasks must not exceed maxTasks", key, s.SiteMinTasks(), s.SiteMaxTasks())
		}
		if p := s.Patching; p != "" && p != PatchScan && p != PatchInstall && p != PatchOff {
			l.fail("context key %q is %q: must be %q (report missing patches, the default), %q (install them) or %q", key+".patching", p, PatchScan, PatchInstall, PatchOff)
		}
		if sch := s.PatchSchedule; sch != "" {
			if problem := limits.PatchScheduleProblem(sch); problem != "" {
				l.fail("context key %q is %q: %s", key+".patchSchedule", sch, problem)
			}
		}
		l.siteInt(key+".registrationLimit", s.RegistrationLimit, limits.MinRegistrationLimit, limits.MaxRegistrationLimit)
		l.siteInt(key+".activationExpiryDays", s.ActivationExpiryDays, limits.MinExpiryDays, limits.MaxExpiryDays)
		l.siteInt(key+".activationSerial", s.ActivationSerial, limits.MinSerial, limits.MaxSerial)
		if d := s.SiteRenewDays(); d < 0 || d >= s.SiteExpiryDays() {
			l.fail("context key %q is %d: must be from 0 (no renewal) to %d, less than the site's activationExpiryDays (%d)", key+".activationRenewDays", d, s.SiteExpiryDays()-1, s.SiteExpiryDays())
		}
		if sch := s.ActivationRenewSchedule; sch != "" && !scheduleRe.MatchString(sch) {
			l.fail("context key %q is %q: must be an EventBridge expression such as rate(1 day), rate(12 hours) or cron(0 3 * * ? *)", key+".activationRenewSchedule", sch)
		}
	}
	return sites
}

func (l *loader) siteInt(key string, p *int, lo, hi int) {
	if p != nil && (*p < lo || *p > hi) {
		l.fail("context key %q is %d: must be a whole number from %d to %d", key, *p, lo, hi)
	}
}

// contextJSON turns a context value (JSON from cdk.json, or a string from
// -c key='...') into JSON text.
// decodeStrict decodes raw into v, refusing keys v does not have (a typo in
// a key must not be ignored).
func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func contextJSON(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	if s, ok := v.(string); ok {
		return []byte(s), nil
	}
	return json.Marshal(v)
}

// workerSecrets reads {"ENV": {"parameter": "/name"} | {"secretArn": "arn", "jsonKey": "k"}, ...}.
func (l *loader) workerSecrets() []workersecrets.Secret {
	v := l.get(KeyWorkerSecrets)
	if v == nil {
		return nil
	}
	example := `{"API_TOKEN": {"secretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/token-AbCdEf", "jsonKey": "token"}, "API_URL": {"parameter": "/app/api-url"}}`
	raw, err := contextJSON(v)
	var entries map[string]json.RawMessage
	if err == nil {
		err = json.Unmarshal(raw, &entries)
	}
	if err != nil {
		l.fail("context key %q is %v: must be an object of variables such as %s (%v)", KeyWorkerSecrets, v, example, err)
		return nil
	}
	var out []workersecrets.Secret
	for _, env := range slices.Sorted(maps.Keys(entries)) {
		var s workersecrets.Secret
		if err := decodeStrict(entries[env], &s); err != nil {
			l.fail("context key %q has %s = %s: must be {\"parameter\": ...} or {\"secretArn\": ..., \"jsonKey\": ...}, optionally with \"kmsKeyArn\" (%v)", KeyWorkerSecrets, env, entries[env], err)
			continue
		}
		s.Env = env
		out = append(out, s)
	}
	if err := workersecrets.Validate(fmt.Sprintf("config: context key %q", KeyWorkerSecrets), out); err != nil {
		l.errs = append(l.errs, err)
	}
	return out
}

// DefaultBranch is the branch a pipeline deploys.
const DefaultBranch = "main"

// pipeline reads the pipeline settings.
func (l *loader) pipeline(c Config) *Pipeline {
	v := l.get(KeyPipeline)
	if v == nil {
		return nil
	}
	example := `{"connectionArn": "arn:aws:codeconnections:eu-west-1:123456789012:connection/...", "repository": "owner/repo", "branch": "main"}`
	raw, err := contextJSON(v)
	var p Pipeline
	if err == nil {
		err = decodeStrict(raw, &p)
	}
	if err != nil {
		l.fail("context key %q is %v: must be an object such as %s (%v)", KeyPipeline, v, example, err)
		return nil
	}
	if p.Branch == "" {
		p.Branch = DefaultBranch
	}
	key := func(field string) string { return KeyPipeline + "." + field }
	switch {
	case p.CodeCommitRepository != "" && (p.ConnectionArn != "" || p.Repository != ""):
		l.fail("context key %q names both a connection and a CodeCommit repository: keep one source", KeyPipeline)
	case p.CodeCommitRepository != "":
		if !commitRe.MatchString(p.CodeCommitRepository) {
			l.fail("context key %q is %q: must be a CodeCommit repository name (letters, digits, '.', '_', '-')", key("codeCommitRepository"), p.CodeCommitRepository)
		}
	case p.ConnectionArn == "" || p.Repository == "":
		l.fail("context key %q needs a source: connectionArn and repository (GitHub, GitLab, Bitbucket through a CodeConnections connection), or codeCommitRepository; such as %s", KeyPipeline, example)
	}
	if p.ConnectionArn != "" && !connRe.MatchString(p.ConnectionArn) {
		l.fail("context key %q is %q: must be a connection ARN such as arn:aws:codeconnections:eu-west-1:123456789012:connection/<uuid> (create it in the console: Developer Tools, Connections)", key("connectionArn"), p.ConnectionArn)
	}
	if p.Repository != "" && !repoRe.MatchString(p.Repository) {
		l.fail("context key %q is %q: must be owner/name, such as my-org/stretched", key("repository"), p.Repository)
	}
	if !branchRe.MatchString(p.Branch) || strings.Contains(p.Branch, "..") {
		l.fail("context key %q is %q: must be a branch name such as main", key("branch"), p.Branch)
	}
	if c.Account == "" || c.Region == "" {
		l.fail("context key %q needs %q and %q too: a pipeline deploys into one account and region, give both (such as -c account=123456789012 -c region=eu-west-1)", KeyPipeline, KeyAccount, KeyRegion)
	}
	return &p
}
