package test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/config"
	"github.com/ecs-anywhere-stretched/stretched/stacks"
)

// settingCase is one setting changed from the default configuration; its
// golden (testdata/settings/<name>.diff) is what that setting alone changes
// in the default stacks' templates.
type settingCase struct {
	name string
	ctx  map[string]any
}

// against names, for a case whose golden is not against the default
// configuration, the case it is against.
var against = map[string]string{"regionalScaling": "work", "burstAgeSeconds": "regionalScaling"}

// site is the default configuration's one site with one field set.
func site(field string, value any) map[string]any {
	raw, _ := json.Marshal([]map[string]any{{"name": config.DefaultSiteName, field: value}})
	return map[string]any{"sites": string(raw)}
}

// settingCases change one setting each (regionalScaling burst needs work:
// shared, so its case sets both and its golden is against work's; likewise
// burstAgeSeconds against regionalScaling's).
var settingCases = []settingCase{
	{"imageTag", map[string]any{"imageTag": "v1.2.3"}},
	{"imageUri", map[string]any{"imageUri": "public.ecr.aws/org/worker:1.0"}},
	{"natGateways", map[string]any{"natGateways": 1}},
	{"maxReceiveCount", map[string]any{"maxReceiveCount": 3}},
	{"visibilityTimeoutSeconds", map[string]any{"visibilityTimeoutSeconds": 120}},
	{"logRetentionDays", map[string]any{"logRetentionDays": 731}},
	{"minTasks", map[string]any{"minTasks": 2}},
	{"maxTasks", map[string]any{"maxTasks": 6}},
	{"work", map[string]any{"work": "shared"}},
	{"regionalScaling", map[string]any{"work": "shared", "regionalScaling": "burst"}},
	{"burstAgeSeconds", map[string]any{"work": "shared", "regionalScaling": "burst", "burstAgeSeconds": 120}},
	{"entryTopics", map[string]any{"entryTopics": 2}},
	{"alarmEmail", map[string]any{"alarmEmail": "ops@example.com"}},
	{"alarmMessageAgeSeconds", map[string]any{"alarmMessageAgeSeconds": 600}},
	{"ecrMaxImages", map[string]any{"ecrMaxImages": 5}},
	{"permissionsBoundary", map[string]any{"permissionsBoundary": "arn:aws:iam::123456789012:policy/org-boundary"}},
	{"workerSecrets", map[string]any{"workerSecrets": map[string]any{"API_URL": map[string]any{"parameter": "/app/api-url"}}}},
	{"site.clusterName", site("clusterName", "dc1Cluster")},
	{"site.minTasks", site("minTasks", 2)},
	{"site.maxTasks", site("maxTasks", 5)},
	{"site.patching", site("patching", "install")},
	{"site.patchSchedule", site("patchSchedule", "cron(0 2 ? * SAT *)")},
	{"site.ecsAgentUpdateSchedule", site("ecsAgentUpdateSchedule", "cron(0 4 ? * MON *)")},
	{"site.registrationLimit", site("registrationLimit", 25)},
	{"site.activationExpiryDays", site("activationExpiryDays", 30)},
	{"site.activationSerial", site("activationSerial", 2)},
	{"site.activationRenewDays", site("activationRenewDays", 0)},
	{"site.activationRenewSchedule", site("activationRenewSchedule", "rate(12 hours)")},
	{"site.instanceName", site("instanceName", "node")},
	{"site.instanceRoleArn", site("instanceRoleArn", "arn:aws:iam::123456789012:role/factoryNodes")},
	{"site.permissionsBoundary", site("permissionsBoundary", "arn:aws:iam::123456789012:policy/boundary")},
	{"site.keepNodesOnDestroy", site("keepNodesOnDestroy", true)},
	{"site.containerInsights", site("containerInsights", true)},
}

// synthCases synthesizes every case into an app of its own, with the
// default stack names (no cdk-nag: the checkers run over the tested
// configurations), and returns each case's templates, normalized, by stack.
func synthCases(ctx map[string]any) ([]map[string]string, error) {
	out, err := os.MkdirTemp("", "cdk-cases-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(out)
	// The templates are what is compared: the assets need no copies (33
	// copies of the worker's folder took a fifth of the time).
	ctx["aws:cdk:disable-asset-staging"] = true
	got := make([]map[string]string, len(settingCases))
	for i, c := range settingCases {
		app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(filepath.Join(out, fmt.Sprint(i)))})
		cfg, err := config.Load(func(k string) any { return c.ctx[k] }, nil)
		if err != nil {
			return nil, fmt.Errorf("case %s: %w", c.name, err)
		}
		if _, err := stacks.Build(app, cfg); err != nil {
			return nil, fmt.Errorf("case %s: %w", c.name, err)
		}
		got[i] = map[string]string{}
		for _, st := range *app.Synth(nil).Stacks() {
			var tmpl map[string]any
			raw, err := os.ReadFile(*st.TemplateFullPath())
			if err == nil {
				err = json.Unmarshal(raw, &tmpl)
			}
			if err != nil {
				return nil, fmt.Errorf("case %s: %w", c.name, err)
			}
			if got[i][*st.StackName()], err = normalized(tmpl); err != nil {
				return nil, err
			}
		}
	}
	return got, nil
}

// TestEachSettingAlone compares what each setting alone changes in the
// default stacks with its golden in testdata/settings/: one small diff per
// setting, so a change to what a setting does shows under its own name.
// make golden rewrites them. A setting that changes nothing fails: it
// would be a setting the app ignores.
func TestEachSettingAlone(t *testing.T) {
	t.Parallel() // its own app; reads the default templates only
	requireSynth(t)
	ctx, err := cdkJSONContext()
	if err != nil {
		t.Fatal(err)
	}
	cases, err := synthCases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	base := map[string]string{}
	for name, s := range defaults {
		if base[name], err = normalized(s.template); err != nil {
			t.Fatal(err)
		}
	}
	byName := map[string]int{}
	for i, c := range settingCases {
		byName[c.name] = i
	}
	for i, c := range settingCases {
		t.Run(c.name, func(t *testing.T) {
			got, base := cases[i], base
			if other, ok := against[c.name]; ok {
				base = cases[byName[other]]
			}
			var b strings.Builder
			changed := false
			for _, name := range slices.Sorted(maps.Keys(base)) {
				d := lineDiff(base[name], got[name])
				if d == "" {
					d = "(no change)\n"
				} else {
					changed = true
				}
				fmt.Fprintf(&b, "## %s\n%s\n", name, d)
			}
			if !changed {
				t.Errorf("%s changes nothing in the default stacks: %v", c.name, c.ctx)
			}
			matchGolden(t, filepath.Join("testdata", "settings", c.name+".diff"), b.String(), "what the setting alone changes")
		})
	}
}

// noCase are the settings without a case of their own, and why.
var noCase = map[string]string{
	config.KeyAccount:       "the pinned configuration sets account and region together (a pipeline needs both)",
	config.KeyRegion:        "the pinned configuration sets account and region together (a pipeline needs both)",
	config.KeyStackPrefix:   "it names the stacks: every tested configuration but the default sets it",
	config.KeySites:         "each site field has a case (site.<field>); the variant has two sites",
	config.KeyPipeline:      "the three pipeline configurations",
	config.KeyIamRolesQuota: "it changes no template, only what synth accepts: TestAppStopsAtTheRolesQuota",
	"site.name":             "required; every site case names its site",
	config.KeyCells:         "it splits the stacks between accounts and regions (new stack names): the cells configuration (cellsContext) and TestEveryStackIsInItsCellsEnvironment, TestNoReferenceCrossesACell",
	"site.cell":             "with cells only: the cells configuration",
	config.KeyNodeTier:      "it changes no template, only what synth accepts: TestQuotasArePerCell",
	"site.expectedNodes":    "it changes no template, only what synth accepts: TestQuotasArePerCell",
}

// Every setting of the configuration table has a case, or says why not:
// a new setting gets its small golden.
func TestEverySettingHasACase(t *testing.T) {
	cases := map[string]bool{}
	for _, c := range settingCases {
		cases[c.name] = true
	}
	var keys []string
	for _, s := range config.Settings() {
		keys = append(keys, s.Key)
	}
	for _, s := range config.SiteSettings() {
		keys = append(keys, "site."+s.Key)
	}
	for _, k := range keys {
		if !cases[k] && noCase[k] == "" {
			t.Errorf("setting %s has no case in settingCases: add one that changes it alone", k)
		}
		delete(cases, k)
	}
	for name := range cases {
		t.Errorf("case %s is no setting of the configuration table", name)
	}
}
