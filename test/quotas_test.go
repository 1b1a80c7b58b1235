package test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ecs-anywhere-stretched/stretched/internal/quota"
	"github.com/ecs-anywhere-stretched/stretched/stacks"
)

func TestTestAppsAreWithinQuotas(t *testing.T) {
	requireSynth(t)
	if err := quota.CheckAssembly(assemblyDir, nil); err != nil {
		t.Errorf("the test configurations cross a quota:\n%v", err)
	}
}

// With the quotas lowered below what the test app holds, each kind is
// reported for the template, stage or account that crosses it, one line
// each, with the exports CDK adds at synth counted.
func TestCrossedQuotasAreNamed(t *testing.T) {
	requireSynth(t)
	stacks, err := quota.ReadAssembly(assemblyDir)
	if err != nil {
		t.Fatal(err)
	}
	saved := []quota.Quota{quota.StackResources, quota.StackOutputs, quota.Roles, quota.Rules, quota.PipelineActions, quota.FilterPolicies, quota.ManagedPolicyChars}
	defer func() {
		quota.StackResources, quota.StackOutputs, quota.Roles, quota.Rules, quota.PipelineActions, quota.FilterPolicies, quota.ManagedPolicyChars = saved[0], saved[1], saved[2], saved[3], saved[4], saved[5], saved[6]
	}()
	quota.ManagedPolicyChars.Limit = 300
	quota.StackResources.Limit, quota.StackOutputs.Limit, quota.Roles.Limit, quota.Rules.Limit, quota.PipelineActions.Limit, quota.FilterPolicies.Limit = 60, 15, 20, 5, 3, 2
	err = quota.Check(quota.Uses(stacks)...)
	if err == nil {
		t.Fatal("no quota reported with every limit lowered")
	}
	msg := err.Error()
	outputs := len(defaults["EcsWorker-Regional"].template["Outputs"].(map[string]any))
	resourceCount := len(defaults["EcsWorker-Regional"].template["Resources"].(map[string]any))
	for _, want := range []string{
		fmt.Sprintf("quota: CloudFormation resources per stack is 60, and template EcsWorker-Regional.template.json would reach %d: %s", resourceCount, quota.FewerSites),
		fmt.Sprintf("quota: CloudFormation outputs per stack is 15, and template EcsWorker-Regional.template.json would reach %d: ", outputs),
		// Per account (cells eu and us share 111111111111: two regions'
		// 9 roles and three sites' 3) and per account and region.
		"quota: IAM roles per account is 20 by default, and account 111111111111 would reach 27: ",
		"quota: IAM roles per account is 20 by default, and account unknown-account would reach ",
		"quota: EventBridge rules per event bus is 5 by default, and account/region 123456789012/eu-west-1 would reach ",
		"quota: IAM managed policy size (characters) is 300, and managed policy EntryProducerPolicy4DC419C2 of template EcsWorker-Regional.template.json would reach ",
		"quota: CodePipeline actions per stage is 3, and stage Pipe of template Pipe-Pipeline.template.json would reach 4: lower pipeline.waveSize",
		`quota: SNS filter policies per topic is 2 by default, and topic {"Ref":"EntryTopic58AA9DC2"} of template EcsWorker-Regional.template.json would reach 3: `,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("report lacks %q:\n%s", want, msg)
		}
	}
	for _, line := range strings.Split(msg, "\n") {
		if !strings.HasPrefix(line, "quota: ") {
			t.Errorf("a report line that is not one quota: %q", line)
		}
	}
}

func TestTemplateSizeQuota(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(dir+"/assembly-Pipe", 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(dir+"/Small.template.json", []byte("{}"), 0o644)
	_ = os.WriteFile(dir+"/Stale.template.json", []byte("{}"+strings.Repeat(" ", 2_000_000)), 0o644) // an earlier synth's
	_ = os.WriteFile(dir+"/assembly-Pipe/Big.template.json", []byte("{}"+strings.Repeat(" ", 1_000_000)), 0o644)
	_ = os.WriteFile(dir+"/manifest.json", []byte(`{"artifacts": {"Small": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "Small.template.json"}},
		"Pipe": {"type": "cdk:cloud-assembly", "properties": {"directoryName": "assembly-Pipe"}}}}`), 0o644)
	_ = os.WriteFile(dir+"/assembly-Pipe/manifest.json", []byte(`{"artifacts": {"Big": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "Big.template.json"}}}}`), 0o644)
	err := quota.CheckAssembly(dir, nil)
	want := "quota: CloudFormation template body size in S3 is 1,000,000, and template Big.template.json would reach 1,000,002: " + quota.FewerSites
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want the one line %q", err, want)
	}
}

// Three roles a site: 400 sites cross IAM's default 1,000 roles per
// account, and the app stops before building, naming the key to set once
// the quota is raised.
func TestAppStopsAtTheRolesQuota(t *testing.T) {
	t.Parallel()
	var sites []string
	for i := range 400 {
		sites = append(sites, fmt.Sprintf(`{"name":"s%d"}`, i))
	}
	cmd := exec.Command("go", "run", ".")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), `CDK_CONTEXT_JSON={"entryTopics":5,"sites":[`+strings.Join(sites, ",")+`]}`, "CDK_OUTDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("400 sites synthesized within 1,000 roles:\n%s", out)
	}
	want := `quota: IAM roles per account is 1,000, and this app would reach 1,209: ` + quota.RolesWayOut +
		`, or raise "Roles per account" (IAM) in Service Quotas and set context key "iamRolesQuota" to at least 1,209`
	if first, _, _ := strings.Cut(string(out), "\n"); first != want {
		t.Errorf("output:\n%s\nwant the one line\n%s", out, want)
	}
}

// The roles check made before building counts the regional stack's roles
// as the default template has them, so the number it asks a user to set
// iamRolesQuota to is the one the synthesized app's check accepts.
func TestPlannedRolesCountTheRegionsRoles(t *testing.T) {
	requireSynth(t)
	n := 0
	for _, r := range defaults["EcsWorker-Regional"].template["Resources"].(map[string]any) {
		if r.(map[string]any)["Type"] == "AWS::IAM::Role" {
			n++
		}
	}
	if n != stacks.RegionRoles {
		t.Errorf("the default regional stack has %d IAM roles, stacks.RegionRoles says %d: set it to %d", n, stacks.RegionRoles, n)
	}
}

// A configuration far past a quota stops the app at once with one line,
// before it builds thousands of stacks (and never with a panic).
func TestAppStopsAtTheStacksQuota(t *testing.T) {
	t.Parallel()
	var sites []string
	for i := range 5000 {
		sites = append(sites, fmt.Sprintf(`{"name":"s%d"}`, i))
	}
	// Enough entry topics for 5,001 locations: the stacks quota is the first crossed.
	out := t.TempDir()
	cmd := exec.Command("go", "run", ".")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), `CDK_CONTEXT_JSON={"entryTopics":60,"sites":[`+strings.Join(sites, ",")+`]}`, "CDK_OUTDIR="+out)
	stderr, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("5,000 sites synthesized:\n%s", stderr)
	}
	want := `quota: CloudFormation stacks per account and region is 2,000 by default, and this app would reach 5,001: ` + quota.OtherAccounts + `, or raise "Stacks" (CloudFormation) in Service Quotas`
	if first, _, _ := strings.Cut(string(stderr), "\n"); first != want || strings.Contains(string(stderr), "panic") {
		t.Errorf("stderr:\n%s\nwant the one line\n%s", stderr, want)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("a configuration over a quota must not synthesize anything, found %d entries", len(entries))
	}
}

// quotaStacksLimit sets the stacks quota's limit and returns the one it had.
func quotaStacksLimit(n int) int {
	old := quota.Stacks.Limit
	quota.Stacks.Limit = n
	return old
}
