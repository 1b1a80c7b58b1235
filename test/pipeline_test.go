package test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/stacks"
)

func pipelineStack(t *testing.T, name string) *synthesized {
	t.Helper()
	requireSynth(t)
	s := pipes[name]
	if s == nil {
		t.Fatalf("no pipeline stack %s", name)
	}
	return s
}

// action is one action of the pipeline, with its stage.
type action struct {
	stage, name, category, provider string
	runOrder                        float64
	config                          map[string]any
}

func actions(t *testing.T, s *synthesized) []action {
	t.Helper()
	var out []action
	for _, st := range only(t, s, "AWS::CodePipeline::Pipeline")["Stages"].([]any) {
		stage := st.(map[string]any)
		for _, a := range stage["Actions"].([]any) {
			m := a.(map[string]any)
			id := m["ActionTypeId"].(map[string]any)
			cfg, _ := m["Configuration"].(map[string]any)
			ro, _ := m["RunOrder"].(float64)
			out = append(out, action{stage: stage["Name"].(string), name: m["Name"].(string), category: id["Category"].(string),
				provider: id["Provider"].(string), runOrder: ro, config: cfg})
		}
	}
	return out
}

// buildSpec is the buildspec of the CodeBuild project whose commands hold want.
func buildSpec(t *testing.T, s *synthesized, want string) (spec string, project map[string]any) {
	t.Helper()
	for _, r := range resources(s, "AWS::CodeBuild::Project") {
		p := props(r)
		src, _ := p["Source"].(map[string]any)
		if b, ok := src["BuildSpec"].(string); ok && strings.Contains(b, want) {
			return b, p
		}
	}
	t.Fatalf("%s: no CodeBuild project runs %q", s.name, want)
	return "", nil
}

func TestPipelineSourceFromTheConnection(t *testing.T) {
	s := pipelineStack(t, "Pipe-Pipeline")
	src := actions(t, s)[0]
	if src.stage != "Source" || src.provider != "CodeStarSourceConnection" || src.config["ConnectionArn"] != testConnArn ||
		src.config["FullRepositoryId"] != "my-org/stretched" || src.config["BranchName"] != "release" {
		t.Errorf("source action %+v", src)
	}
	c := actions(t, pipelineStack(t, "Commit-Pipeline"))[0]
	if c.provider != "CodeCommit" || c.config["RepositoryName"] != "stretched" || c.config["BranchName"] != "main" {
		t.Errorf("CodeCommit source %+v", c)
	}
	// A V2 pipeline named for the prefix, with KMS-encrypted artifacts.
	assertTemplate(t, s, func(tmpl assertions.Template) {
		tmpl.HasResourceProperties(jsii.String("AWS::CodePipeline::Pipeline"), map[string]any{
			"PipelineType": "V2",
			"Name":         "Pipe-Pipeline",
			"ArtifactStore": assertions.Match_ObjectLike(&map[string]any{
				"Type":          "S3",
				"EncryptionKey": assertions.Match_ObjectLike(&map[string]any{"Type": "KMS"}),
			}),
		})
	})
}

func TestPipelineSynthRunsTheReadmeCommands(t *testing.T) {
	s := pipelineStack(t, "Pipe-Pipeline")
	spec, project := buildSpec(t, s, "make test")
	var doc struct {
		Phases map[string]struct {
			RuntimeVersions map[string]string `json:"runtime-versions"`
			Commands        []string
		}
		Artifacts map[string]any
	}
	if err := json.Unmarshal([]byte(spec), &doc); err != nil {
		t.Fatalf("buildspec is not JSON: %v", err)
	}
	install, build := doc.Phases["install"], doc.Phases["build"]
	if install.RuntimeVersions["golang"] != "1.26" || !slices.Contains(install.Commands, "pip install --no-cache-dir cfn-lint==1.51.0 'moto[server]==5.2.1'") {
		t.Errorf("install phase must pin what make test needs: %+v", install)
	}
	cmds := strings.Join(build.Commands, "\n")
	if !strings.HasPrefix(cmds, "make test\n") || !strings.Contains(cmds, `make synth CDK_ARGS="$CTX"`) || !strings.Contains(cmds, "-c imageTag=$TAG") {
		t.Errorf("the synth must run make test, then make synth with the commit's image tag:\n%s", cmds)
	}
	env := jsonOf(project["Environment"])
	for _, want := range []string{`"Name":"CI","Type":"PLAINTEXT","Value":"true"`, `"Name":"GOTOOLCHAIN","Type":"PLAINTEXT","Value":"go1.26.8"`, `"PrivilegedMode":false`, "aws/codebuild/standard:7.0"} {
		if !strings.Contains(env, want) {
			t.Errorf("synth environment lacks %s: %s", want, env)
		}
	}
}

func TestPipelineImageStepBuildsBothPlatformsIntoTheRegionalRepository(t *testing.T) {
	s := pipelineStack(t, "Pipe-Pipeline")
	spec, project := buildSpec(t, s, "docker buildx build")
	for _, want := range []string{"docker buildx create --name multiarch --driver docker-container --use",
		`--platform linux/amd64,linux/arm64 --provenance=false --sbom=false -f worker/Dockerfile -t \"$REPO:$TAG\" --push .`, "Pipe-Regional", "RepositoryUri"} {
		if !strings.Contains(spec, want) {
			t.Errorf("image step lacks %q:\n%s", want, spec)
		}
	}
	if env, _ := project["Environment"].(map[string]any); env["PrivilegedMode"] != true {
		t.Error("the image step runs Docker: it must be privileged")
	}
	// Privileged exactly where Docker runs: the image step and the Docker
	// asset publishing, no file asset, synth or self-mutation project.
	var privileged []string
	for id, r := range resources(s, "AWS::CodeBuild::Project") {
		if env, _ := props(r)["Environment"].(map[string]any); env["PrivilegedMode"] == true {
			privileged = append(privileged, id)
		}
	}
	slices.Sort(privileged)
	if len(privileged) != 2 || !strings.HasPrefix(privileged[0], "PipelineAssetsDockerAsset") || !strings.HasPrefix(privileged[1], "PipelinePipeRegionalMultiArchImage") {
		t.Errorf("privileged projects %v, want only the Docker asset and the multi-arch image projects", privileged)
	}
	role := ""
	for id, r := range resources(s, "AWS::IAM::Role") {
		if strings.Contains(id, "MultiArchImageRole") {
			role = id
			_ = r
		}
	}
	var push *statement
	for _, st := range statements(s, role) {
		if slices.Contains(st.actions, "ecr:PutImage") {
			push = &st
		}
	}
	if push == nil || jsonOf(push.raw["Condition"]) != `{"StringEquals":{"aws:ResourceTag/stretched:stack":"Pipe-Regional"}}` {
		t.Fatalf("the image step may push only to the regional repository: %+v", push)
	}
	for _, a := range push.actions {
		if strings.Contains(a, "*") {
			t.Errorf("wildcard action %s", a)
		}
	}
}

// The region deploys in its own stage (image first, the approval after);
// then each wave of sites in a stage of its own, the sites of a wave side
// by side, the second-run check after the last; a failed site fails its
// wave's stage, so later waves wait and the region stays deployed.
func TestPipelineDeploysTheRegionThenTheSitesInWaves(t *testing.T) {
	type step struct {
		stage string
		order float64
	}
	at := map[string]step{}
	var stages []string
	for _, a := range actions(t, pipelineStack(t, "Pipe-Pipeline")) {
		at[a.name] = step{a.stage, a.runOrder}
		if len(stages) == 0 || stages[len(stages)-1] != a.stage {
			stages = append(stages, a.stage)
		}
	}
	if want := []string{"Source", "Build", "UpdatePipeline", "Assets", "Pipe", "Pipe-Sites-1", "Pipe-Sites-2"}; !slices.Equal(stages, want) {
		t.Fatalf("stages %v, want %v (waveSize 1: one site per wave)", stages, want)
	}
	image, regional, approve := at["Regional.MultiArchImage"], at["Regional.Deploy"], at["Regional.ApproveSites"]
	if image.stage != "Pipe" || regional.stage != "Pipe" || approve.stage != "Pipe" || !(image.order < regional.order && regional.order < approve.order) {
		t.Errorf("want image < regional deploy < approval, in the region's stage: %v", at)
	}
	for site, stage := range map[string]string{"factory": "Pipe-Sites-1", "pi": "Pipe-Sites-2"} {
		prep, dep := at["Anywhere-"+site+".Prepare"], at["Anywhere-"+site+".Deploy"]
		if prep.stage != stage || dep.stage != stage || prep.order != 1 || dep.order != 2 {
			t.Errorf("site %s: prepare %v, deploy %v; want runs 1 and 2 in %s", site, prep, dep, stage)
		}
	}
	if after := at["MultiArchAfterFirstRun"]; after.stage != "Pipe-Sites-2" || after.order != 3 {
		t.Errorf("the second-run check comes after the last wave's sites: %v", after)
	}
	var commitStages []string
	for _, a := range actions(t, pipelineStack(t, "Commit-Pipeline")) {
		if a.category == "Approval" {
			t.Errorf("no approval without approveSites: %+v", a)
		}
		if a.name == "Anywhere-onprem.Deploy" {
			commitStages = append(commitStages, a.stage)
		}
	}
	if !slices.Equal(commitStages, []string{"Commit-Sites-1"}) {
		t.Errorf("with the default wave size one site is one wave: deployed in %v", commitStages)
	}
}

func TestWaves(t *testing.T) {
	var sites []string
	for i := range 45 {
		sites = append(sites, fmt.Sprint("s", i))
	}
	waves := stacks.Waves("P", sites, 20)
	var sizes []int
	for i, w := range waves {
		sizes = append(sizes, len(w.Sites))
		if w.Stage != fmt.Sprintf("P-Sites-%d", i+1) {
			t.Errorf("wave %d is stage %s", i, w.Stage)
		}
	}
	if !slices.Equal(sizes, []int{20, 20, 5}) || waves[2].Sites[4] != "s44" {
		t.Errorf("45 sites in waves of 20: %v", waves)
	}
}

func TestPipelineStageStacksAreTheAppsStacks(t *testing.T) {
	requireSynth(t)
	got := []string{*pipeApp.App.Regional.StackName()}
	for _, s := range pipeApp.App.Sites {
		got = append(got, *s.StackName())
	}
	if want := []string{"Pipe-Regional", "Pipe-Anywhere-factory", "Pipe-Anywhere-pi"}; !slices.Equal(got, want) {
		t.Errorf("stage stacks %v, want %v (the names make deploy uses)", got, want)
	}
}

// TestPipelinePinsAreTheProjectsOwn: the versions the pipeline installs are
// the ones this checkout pins (go.mod's Go, package.json's aws-cdk), so the
// pipeline tests and deploys with what `make test` ran here.
func TestPipelinePinsAreTheProjectsOwn(t *testing.T) {
	t.Parallel() // runs processes over the synthesized templates, which nothing changes
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if want := "\ngo " + strings.TrimPrefix(stacks.GoToolchain, "go") + "\n"; !strings.Contains(string(mod), want) {
		t.Errorf("GOTOOLCHAIN %s is not go.mod's go line", stacks.GoToolchain)
	}
	var pkg struct {
		DevDependencies map[string]string `json:"devDependencies"`
	}
	b, err := os.ReadFile("../package.json")
	if err == nil {
		err = json.Unmarshal(b, &pkg)
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := pkg.DevDependencies["aws-cdk"]; got != stacks.CdkCliVersion {
		t.Errorf("pipeline's cdk CLI %s, package.json pins %s", stacks.CdkCliVersion, got)
	}
	if got := pkg.DevDependencies["cdk-assets"]; got != stacks.CdkAssetsVersion {
		t.Errorf("pipeline's cdk-assets %s, package.json pins %s", stacks.CdkAssetsVersion, got)
	}
	s := pipelineStack(t, "Pipe-Pipeline")
	if n := strings.Count(jsonOf(s.template), "cdk-assets@latest") + strings.Count(jsonOf(s.template), "aws-cdk@2\""); n != 0 {
		t.Errorf("%d pipeline steps install an unpinned cdk CLI or cdk-assets", n)
	}
	// The pinned cdk-assets reads what this aws-cdk-lib writes.
	bin, err := filepath.Abs(filepath.Join("..", "node_modules", ".bin"))
	if err != nil {
		t.Fatal(err)
	}
	cdkAssets := tool(t, filepath.Join(bin, "cdk-assets"), "make tools installs the pinned cdk-assets")
	dir := filepath.Dir(s.file)
	manifests, _ := filepath.Glob(filepath.Join(dir, "*.assets.json"))
	staged, _ := filepath.Glob(filepath.Join(dir, "assembly-*", "*.assets.json"))
	manifests = append(manifests, staged...)
	if len(staged) == 0 {
		t.Fatalf("no asset manifests next to %s", s.file)
	}
	for _, m := range manifests {
		cmd := exec.Command(cdkAssets, "ls", "-p", m)
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("cdk-assets %s cannot read %s: %v\n%s", stacks.CdkAssetsVersion, filepath.Base(m), err, out)
		}
	}
}

// TestConnectionGrantMatchesArnPrefix: IAM matches an action only to
// resources of its own service, so the source action must use the
// connection with the prefix of the ARN it is given, for both forms.
func TestConnectionGrantMatchesArnPrefix(t *testing.T) {
	for stack, arn := range map[string]string{"Pipe-Pipeline": testConnArn, "Star-Pipeline": testStarConnArn} {
		s := pipelineStack(t, stack)
		want := strings.Split(arn, ":")[2] + ":UseConnection"
		var got []string
		for _, st := range statements(s, "") {
			if jsonOf(st.resource) == jsonOf(arn) {
				got = append(got, st.actions...)
			}
		}
		if !slices.Equal(got, []string{want}) {
			t.Errorf("%s: the grants on %s are %v, want exactly [%s]", stack, arn, got, want)
		}
	}
}

// CDK Pipelines splits a stage of more than 50 actions into <name>.1, .2, …
// (seen at 50 sites): the waves take the sites from every part.
func TestWavesFromAStageCDKPipelinesSplit(t *testing.T) {
	action := func(name string, order int) any { return map[string]any{"name": name, "runOrder": float64(order)} }
	stages := []any{
		map[string]any{"name": "Source", "actions": []any{action("src", 1)}},
		map[string]any{"name": "P.1", "actions": []any{action("Regional.MultiArchImage", 1), action("Regional.Prepare", 2), action("Regional.Deploy", 3),
			action("Anywhere-a.Prepare", 4), action("Anywhere-b.Prepare", 4), action("Anywhere-a.Deploy", 5)}},
		map[string]any{"name": "P.2", "actions": []any{action("Anywhere-b.Deploy", 1), action("Anywhere-c.Prepare", 1), action("Anywhere-c.Deploy", 2), action("MultiArchAfterFirstRun", 3)}},
	}
	out, waves, err := stacks.SplitStages(stages, "P", []string{"a", "b", "c"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range out {
		m := st.(map[string]any)
		var names []string
		for _, a := range m["actions"].([]any) {
			names = append(names, fmt.Sprintf("%v@%v", a.(map[string]any)["name"], a.(map[string]any)["runOrder"]))
		}
		got = append(got, fmt.Sprintf("%v: %s", m["name"], strings.Join(names, " ")))
	}
	want := []string{
		"Source: src@1",
		"P: Regional.MultiArchImage@1 Regional.Prepare@2 Regional.Deploy@3",
		"P-Sites-1: Anywhere-a.Prepare@1 Anywhere-a.Deploy@2 Anywhere-b.Prepare@1 Anywhere-b.Deploy@2",
		"P-Sites-2: Anywhere-c.Prepare@1 Anywhere-c.Deploy@2 MultiArchAfterFirstRun@3",
	}
	if !slices.Equal(got, want) || len(waves) != 2 {
		t.Errorf("stages\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, _, err := stacks.SplitStages(stages, "Q", []string{"a"}, 2); err == nil || !strings.Contains(err.Error(), `no stage "Q"`) || !strings.Contains(err.Error(), "P.1, P.2") {
		t.Errorf("a missing stage: %v", err)
	}
	if _, _, err := stacks.SplitStages(stages, "P", []string{"a", "b", "c", "d"}, 2); err == nil || !strings.Contains(err.Error(), "site d has no Anywhere-d.Prepare") {
		t.Errorf("a site without actions: %v", err)
	}
}
