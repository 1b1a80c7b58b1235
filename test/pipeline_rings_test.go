package test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// ringPipelineStack is the pipeline of ringContext.
func ringPipelineStack(t *testing.T) *synthesized {
	t.Helper()
	requireSynth(t)
	s := ringed["Ring-Pipeline"]
	if s == nil {
		t.Fatal("no Ring-Pipeline stack")
	}
	return s
}

// ringCells are ringContext's cells: region and whether the pipeline's
// account is another.
var ringCells = map[string]struct {
	region, account string
	remote          bool
}{"eu": {"eu-west-1", "123456789012", false}, "us": {"us-east-1", "123456789012", false}, "de": {"eu-central-1", "444455556666", true}}

// The pipeline of cells in rings: the stages ring by ring, every
// deploying stage gated by its cells' fleet-health alarms (rolled back on
// an alarm or a failure), a bake after the canary ring and after the
// rest, the approval before cell us, every site deployed once, in its
// cell's region, and no stage over CodePipeline's 50 actions.
func TestRingPipelineLayoutAndGates(t *testing.T) {
	s := ringPipelineStack(t)
	stages := only(t, s, "AWS::CodePipeline::Pipeline")["Stages"].([]any)
	var names []string
	deployed := map[string]int{}
	for _, st := range stages {
		stage := st.(map[string]any)
		name := stage["Name"].(string)
		names = append(names, name)
		acts := stage["Actions"].([]any)
		if len(acts) > 50 {
			t.Errorf("stage %s has %d actions", name, len(acts))
		}
		var cellsOf []string
		for _, a := range acts {
			m := a.(map[string]any)
			an := m["Name"].(string)
			if site, ok := strings.CutPrefix(strings.TrimSuffix(an, ".Deploy"), "Anywhere-"); ok {
				deployed[site]++
				cell := map[string]string{"lyon": "eu", "nice": "eu", "ohio": "us", "berlin": "de"}[site]
				if want := ringCells[cell].region; want != "eu-west-1" && m["Region"] != want {
					t.Errorf("site %s deploys in region %v, want its cell's %s", site, m["Region"], want)
				}
				cellsOf = append(cellsOf, cell)
			}
			for c := range ringCells {
				if strings.HasPrefix(an, c+"-Regional.") {
					cellsOf = append(cellsOf, c)
				}
			}
		}
		if !strings.Contains(name, "-Regions") && !strings.Contains(name, "-Sites-") {
			if stage["OnSuccess"] != nil {
				t.Errorf("stage %s deploys nothing but has a condition", name)
			}
			continue
		}
		if fmt.Sprint(stage["OnFailure"]) != "map[Result:ROLLBACK]" {
			t.Errorf("stage %s: OnFailure %v, want a rollback", name, stage["OnFailure"])
		}
		conds := stage["OnSuccess"].(map[string]any)["Conditions"].([]any)
		cond := conds[0].(map[string]any)
		if len(conds) != 1 || cond["Result"] != "ROLLBACK" {
			t.Errorf("stage %s: conditions %v", name, conds)
		}
		var gated []string
		for _, r := range cond["Rules"].([]any) {
			rule := r.(map[string]any)
			cfg := rule["Configuration"].(map[string]any)
			cell := strings.TrimSuffix(strings.TrimPrefix(cfg["AlarmName"].(string), "Ring-"), "-fleet-health")
			gated = append(gated, cell)
			rc := ringCells[cell]
			if rule["RuleTypeId"].(map[string]any)["Provider"] != "CloudWatchAlarm" || rule["Region"] != rc.region || cfg["AlarmStates"] != "ALARM" {
				t.Errorf("stage %s: rule %v", name, rule)
			}
			wantRole := ""
			if rc.remote {
				wantRole = "arn:aws:iam::" + rc.account + ":role/Ring-" + cell + "-pipeline"
			}
			if role, _ := rule["RoleArn"].(string); role != wantRole {
				t.Errorf("stage %s: rule for cell %s has RoleArn %q, want %q", name, cell, role, wantRole)
			}
		}
		for _, c := range cellsOf {
			if !slices.Contains(gated, c) {
				t.Errorf("stage %s deploys into cell %s but its condition watches %v", name, c, gated)
			}
		}
	}
	want := []string{"Source", "Build", "UpdatePipeline", "Assets", "Ring-canary-Regions", "Ring-canary-Sites-1", "Ring-canary-Bake",
		"Ring-rest-Regions", "Ring-rest-Sites-1", "Ring-rest-Sites-2", "Ring-rest-Sites-3", "Ring-rest-Bake"}
	if !slices.Equal(names, want) {
		t.Errorf("stages %v, want %v", names, want)
	}
	for _, site := range []string{"lyon", "nice", "ohio", "berlin"} {
		if deployed[site] != 1 {
			t.Errorf("site %s is deployed %d times", site, deployed[site])
		}
	}
	acts := actions(t, s)
	order := map[string]action{}
	for _, a := range acts {
		order[a.name] = a
	}
	if a := order["Approve-us"]; a.stage != "Ring-rest-Regions" || a.provider != "Manual" || a.runOrder >= order["us-Regional.Deploy"].runOrder {
		t.Errorf("the approval of cell us: %+v, its deploy %+v", a, order["us-Regional.Deploy"])
	}
	if a := order["Bake-canary"]; a.stage != "Ring-canary-Bake" || a.provider != "CodeBuild" {
		t.Errorf("the canary's bake: %+v", a)
	}
	if a := order["Regional.ApproveSites-de"]; a.stage != "Ring-rest-Regions" || a.runOrder <= order["de-Regional.Deploy"].runOrder {
		t.Errorf("cell de's sites' approval: %+v", a)
	}
	if a := order["MultiArchAfterFirstRun-de"]; a.stage != "Ring-rest-Sites-3" || a.runOrder != 2 {
		t.Errorf("cell de's first-run step, after its last sites: %+v", a)
	}
}

// A cell's regional stack in this mode: its fleet-health alarm (any of
// the region's alarms) and the pipeline's role, assumable only by the
// pipeline stack's own roles in the tooling account.
func TestRingCellHasItsGate(t *testing.T) {
	requireSynth(t)
	s := ringed["Ring-de-Regional"]
	if s == nil {
		t.Fatal("no Ring-de-Regional")
	}
	alarm := only(t, s, "AWS::CloudWatch::CompositeAlarm")
	if alarm["AlarmName"] != "Ring-de-fleet-health" || strings.Count(fmt.Sprint(alarm["AlarmRule"]), "ALARM(") < 5 ||
		!strings.Contains(fmt.Sprint(alarm["AlarmRule"]), "SiteAgentSitesWithDeadLetters") || !strings.Contains(fmt.Sprint(alarm["AlarmRule"]), "SiteAgentSitesOffline") {
		t.Errorf("fleet-health alarm: %v", alarm)
	}
	var role map[string]any
	for _, r := range resources(s, "AWS::IAM::Role") {
		if p := props(r); p["RoleName"] == "Ring-de-pipeline" {
			role = p
		}
	}
	if role == nil {
		t.Fatal("no role Ring-de-pipeline")
	}
	trust := jsonOf(role["AssumeRolePolicyDocument"])
	if !strings.Contains(trust, `:iam::123456789012:root`) || !strings.Contains(trust, `"aws:PrincipalArn":"arn:aws:iam::123456789012:role/Ring-Pipeline-*"`) {
		t.Errorf("the pipeline role's trust: %s", trust)
	}
	// Its key and bucket in each other region of the pipeline: rotated,
	// versioned, access logged.
	for _, region := range []string{"us-east-1", "eu-central-1"} {
		r := ringed["Ring-Pipeline-support-"+region]
		if r == nil {
			t.Fatalf("no replication stack for %s", region)
		}
		key := only(t, r, "AWS::KMS::Key")
		if key["EnableKeyRotation"] != true {
			t.Errorf("%s: replication key without rotation", region)
		}
		for id, b := range resources(r, "AWS::S3::Bucket") {
			if strings.HasPrefix(id, "CrossRegion") && (props(b)["LoggingConfiguration"] == nil || fmt.Sprint(props(b)["VersioningConfiguration"]) != "map[Status:Enabled]") {
				t.Errorf("%s: replication bucket %s: %v", region, id, props(b))
			}
		}
		// S3 may deliver the access logs: the log bucket's policy lets its
		// logging service write under the prefix, for this bucket only.
		delivers := false
		for id, p := range resources(r, "AWS::S3::BucketPolicy") {
			if !strings.HasPrefix(id, "ReplicationAccessLogs") {
				continue
			}
			doc := jsonOf(props(p)["PolicyDocument"])
			delivers = strings.Contains(doc, `"Service":"logging.s3.amazonaws.com"`) && strings.Contains(doc, `"s3:PutObject"`) &&
				strings.Contains(doc, `/replication/*`) && strings.Contains(doc, `"aws:SourceArn":{"Fn::GetAtt":["CrossRegionCodePipelineReplicationBucket`)
		}
		if !delivers {
			t.Errorf("%s: the replication bucket's access log bucket grants S3's logging service nothing: its logs cannot be delivered", region)
		}
	}
}

// ringStubs: aws logs each call with its region and key, assumes roles
// (unless STUB_NO_ROLE), answers a regional stack's RepositoryUri when
// STUB_STACKS names it, and ECR as the image steps expect.
const ringAWSStub = `#!/bin/sh
echo "${AWS_REGION:-none} ${AWS_ACCESS_KEY_ID:-pipeline} aws $*" >> "$STUB_LOG"
case "$*" in
"sts assume-role"*) [ -z "$STUB_NO_ROLE" ] || { echo AccessDenied >&2; exit 254; }; printf 'ASIACELL\tsecret\ttoken\n';;
"cloudformation describe-stacks --stack-name "*)
  case " $STUB_STACKS " in *" $4 "*) echo "$AWS_REGION.dkr.ecr/$4-repo";; *) exit 254;; esac;;
"ecr describe-images"*) [ -n "$STUB_IMAGE" ] && { echo '{}'; exit 0; }; echo "ImageNotFoundException" >&2; exit 254;;
"ecr get-login-password") echo password;;
"codepipeline start-pipeline-execution"*) echo '{}';;
*) echo "unexpected aws call: $*" >&2; exit 99;;
esac`

func ringCommands(t *testing.T, want ...string) []string {
	t.Helper()
	for _, r := range resources(ringPipelineStack(t), "AWS::CodeBuild::Project") {
		src, _ := props(r)["Source"].(map[string]any)
		spec, _ := src["BuildSpec"].(string)
		if !slices.ContainsFunc(want, func(w string) bool { return !strings.Contains(spec, w) }) {
			var doc struct {
				Phases map[string]struct{ Commands []string }
			}
			if err := json.Unmarshal([]byte(spec), &doc); err != nil {
				t.Fatal(err)
			}
			return doc.Phases["build"].Commands
		}
	}
	t.Fatalf("no project of Ring-Pipeline runs %q", want)
	return nil
}

func runRing(t *testing.T, cmds []string, env ...string) (string, bool) {
	t.Helper()
	return runWithStubs(t, map[string]string{"aws": ringAWSStub, "docker": shellStubs["docker"], "make": shellStubs["make"]}, cmds, env...)
}

const allRingStacks = "STUB_STACKS=Ring-eu-Regional Ring-us-Regional Ring-de-Regional"

// The ring pipeline's synth, image and first-run steps, run as CodeBuild
// runs them against a stub aws: each cell is read in its own region, the
// remote cell through its role; the tag is used only when every cell's
// repository exists; the pipeline restarts itself with its own
// credentials, never a cell's.
func TestRingPipelineSteps(t *testing.T) {
	synth := ringCommands(t, "make test")
	calls, ok := runRing(t, synth, "STUB_STACKS=Ring-eu-Regional")
	if !ok || !strings.Contains(calls, "make synth CDK_ARGS=\n") {
		t.Errorf("cells us and de not deployed yet: synth without a tag: ok %v\n%s", ok, calls)
	}
	calls, ok = runRing(t, synth, allRingStacks)
	if !ok || !strings.Contains(calls, "make synth CDK_ARGS=-c imageTag=0123456789ab\n") ||
		!strings.Contains(calls, "eu-central-1 pipeline aws sts assume-role --role-arn arn:aws:iam::444455556666:role/Ring-de-pipeline") ||
		!strings.Contains(calls, "eu-central-1 ASIACELL aws cloudformation describe-stacks --stack-name Ring-de-Regional") ||
		!strings.Contains(calls, "us-east-1 pipeline aws cloudformation describe-stacks --stack-name Ring-us-Regional") {
		t.Errorf("every cell deployed: synth with the tag, each cell read in its region: ok %v\n%s", ok, calls)
	}

	image := ringCommands(t, "docker buildx build", "Ring-de-pipeline")
	calls, ok = runRing(t, image, allRingStacks)
	if !ok || !strings.Contains(calls, "docker buildx build --platform linux/amd64,linux/arm64 --provenance=false --sbom=false -f worker/Dockerfile -t eu-central-1.dkr.ecr/Ring-de-Regional-repo:0123456789ab --push .") ||
		!strings.Contains(calls, "eu-central-1 ASIACELL aws ecr get-login-password") {
		t.Errorf("cell de's image: built and pushed into its repository with its role: ok %v\n%s", ok, calls)
	}
	if calls, ok := runRing(t, image, allRingStacks, "STUB_NO_ROLE=1"); ok || strings.Contains(calls, "docker buildx build") {
		t.Errorf("cell de's role cannot be assumed: the step must fail before building: ok %v\n%s", ok, calls)
	}

	second := ringCommands(t, "start-pipeline-execution", "Ring-de-pipeline")
	calls, ok = runRing(t, second, allRingStacks)
	if !ok || !strings.Contains(calls, "none pipeline aws codepipeline start-pipeline-execution --name Ring-Pipeline") {
		t.Errorf("after a first run into cell de, the pipeline starts again as itself: ok %v\n%s", ok, calls)
	}
	calls, ok = runRing(t, second, allRingStacks, "STUB_IMAGE=1")
	if !ok || strings.Contains(calls, "start-pipeline-execution") {
		t.Errorf("cell de has this commit's image: no restart: ok %v\n%s", ok, calls)
	}
	if _, ok := runRing(t, second, allRingStacks, "STUB_NO_ROLE=1"); ok {
		t.Error("cell de's role cannot be assumed: the first-run step must fail, not guess")
	}
}

// The pipeline's role in a cell reaches that cell's fleet-health alarm,
// regional stack and repository, and nothing else: evaluated by the
// policy simulator on Ring-eu-Regional, which is in the simulated
// account and region.
func TestRingGateRoleReachesOnlyItsCell(t *testing.T) {
	requireSynth(t)
	s := ringed["Ring-eu-Regional"]
	if s == nil {
		t.Fatal("no Ring-eu-Regional")
	}
	w := newWorld(all)
	var role, repo, alarm string
	for id, r := range s.template["Resources"].(map[string]any) {
		switch typ := r.(map[string]any)["Type"]; {
		case typ == "AWS::IAM::Role" && props(r.(map[string]any))["RoleName"] == "Ring-eu-pipeline":
			role = id
		case typ == "AWS::ECR::Repository":
			repo = fmt.Sprint(w.getAtt(s, id, "Arn"))
		case typ == "AWS::CloudWatch::CompositeAlarm":
			alarm = fmt.Sprint(w.getAtt(s, id, "Arn"))
		}
	}
	if role == "" || repo == "" || alarm == "" {
		t.Fatalf("Ring-eu-Regional: role %q, repository %q, alarm %q", role, repo, alarm)
	}
	ref := &roleRef{stack: s, id: role}
	stack := func(name string) string {
		return arn("cloudformation", "stack/"+name+"/0f0e0d0c-0b0a-0908-0706-050403020100")
	}
	edges := []edge{
		{what: "reads its cell's fleet-health alarm", role: ref, action: "cloudwatch:DescribeAlarms", resource: alarm, allow: true},
		{what: "reads no other alarm", role: ref, action: "cloudwatch:DescribeAlarms", resource: arn("cloudwatch", "alarm:Ring-de-fleet-health"), allow: false},
		{what: "reads its cell's regional stack", role: ref, action: "cloudformation:DescribeStacks", resource: stack("Ring-eu-Regional"), allow: true},
		{what: "reads no site's stack", role: ref, action: "cloudformation:DescribeStacks", resource: stack("Ring-eu-Anywhere-lyon"), allow: false},
		{what: "pushes the image into its cell's repository", role: ref, action: "ecr:PutImage", resource: repo, allow: true},
		{what: "pushes into no other repository", role: ref, action: "ecr:PutImage", resource: arn("ecr", "repository/someone-else"), allow: false},
		{what: "updates no stack", role: ref, action: "cloudformation:UpdateStack", resource: stack("Ring-eu-Regional"), allow: false},
		{what: "changes no alarm", role: ref, action: "cloudwatch:PutCompositeAlarm", resource: alarm, allow: false},
		{what: "reads no message", role: ref, action: "sqs:ReceiveMessage", resource: arn("sqs", "ring-eu-regional-workqueue"), allow: false},
	}
	w.check(t, edges)
}
