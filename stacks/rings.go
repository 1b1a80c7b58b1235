package stacks

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/pipelines"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ecs-anywhere-stretched/stretched/config"
	"github.com/ecs-anywhere-stretched/stretched/constructs/ringgate"
	"github.com/ecs-anywhere-stretched/stretched/internal/quota"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// Kinds of the stages of a pipeline of rings.
const (
	StageRegions = "regions"
	StageSites   = "sites"
	StageBake    = "bake"
)

// RingStage is one CodePipeline stage of a pipeline of rings.
type RingStage struct {
	// Name is the CodePipeline stage's name.
	Name string
	// Ring is the ring's name ("" without rings).
	Ring string
	// Kind is StageRegions, StageSites or StageBake.
	Kind string
	// Cells are the cells whose regional stacks the stage deploys
	// (regions), whose sites it deploys (sites: one cell) or whose
	// fleet-health alarms it watches (bake).
	Cells []string
	// Sites are the sites the stage deploys.
	Sites []string
	// BakeMinutes is how long a bake stage watches.
	BakeMinutes int
}

// CellPlan is what the layout needs of a cell.
type CellPlan struct {
	Name  string
	Sites []string
}

// RegionsPerStage bounds the cells whose regional stacks deploy side by
// side in one stage: each is up to six actions (approval, image, prepare,
// deploy, approval of its sites, the first-run step) within CodePipeline's
// 50 a stage, and five is what one stage condition's rules can watch.
const RegionsPerStage = 5

// PlanRings lays the pipeline's deployment stages out: ring after ring,
// each deploys the regional stacks of the cells it reaches first (a cell's
// region goes with the first ring that has one of its sites, a cell without
// sites with the last), then its sites in waves of at most waveSize, one
// cell a wave, then, when the ring has a bake time, a bake stage that
// watches every cell the ring touched. Sites join rings in configuration
// order (sites), the next ring.Sites each, 0 for the rest. Without rings
// there is one ring, unnamed, without a bake.
func PlanRings(prefix string, cells []CellPlan, sites []string, rings []config.Ring, waveSize int) []RingStage {
	if len(rings) == 0 {
		zero := 0
		rings = []config.Ring{{BakeMinutes: &zero}}
	}
	cellOf := map[string]string{}
	for _, c := range cells {
		for _, s := range c.Sites {
			cellOf[s] = c.Name
		}
	}
	deployed := map[string]bool{}
	var out []RingStage
	next := 0
	for i, r := range rings {
		name := func(part string) string {
			if r.Name == "" {
				return prefix + "-" + part
			}
			return prefix + "-" + r.Name + "-" + part
		}
		n := r.Sites
		if n == 0 || next+n > len(sites) {
			n = len(sites) - next
		}
		mine := sites[next : next+n]
		next += n
		var touched, fresh []string
		for _, c := range cells {
			has := slices.ContainsFunc(mine, func(s string) bool { return cellOf[s] == c.Name })
			last := i == len(rings)-1 && !deployed[c.Name]
			if !has && !last {
				continue
			}
			touched = append(touched, c.Name)
			if !deployed[c.Name] {
				fresh = append(fresh, c.Name)
				deployed[c.Name] = true
			}
		}
		for k := 0; k < len(fresh); k += RegionsPerStage {
			part := "Regions"
			if k > 0 {
				part = fmt.Sprintf("Regions-%d", k/RegionsPerStage+1)
			}
			out = append(out, RingStage{Name: name(part), Ring: r.Name, Kind: StageRegions, Cells: fresh[k:min(k+RegionsPerStage, len(fresh))]})
		}
		wave := 0
		for _, c := range cells {
			var of []string
			for _, s := range mine {
				if cellOf[s] == c.Name {
					of = append(of, s)
				}
			}
			for k := 0; k < len(of); k += waveSize {
				wave++
				out = append(out, RingStage{Name: name(fmt.Sprintf("Sites-%d", wave)), Ring: r.Name, Kind: StageSites, Cells: []string{c.Name}, Sites: of[k:min(k+waveSize, len(of))]})
			}
		}
		if b := *r.BakeMinutes; b > 0 && len(touched) > 0 {
			out = append(out, RingStage{Name: name("Bake"), Ring: r.Name, Kind: StageBake, Cells: touched, BakeMinutes: b})
		}
	}
	return out
}

// ringCell is a cell as the pipeline reaches it.
type ringCell struct {
	config.Cell
	// Prefix is the cell's stack prefix, and the name of the CDK Pipelines
	// stage of its stacks.
	Prefix string
	// Remote: the cell is in another account than the pipeline's, which
	// reaches it through the cell's pipeline role (ringgate).
	Remote bool
}

// suffix names the cell in step ids ("" for the one cell of an app
// without cells).
func (c ringCell) suffix() string {
	if c.Name == "" {
		return ""
	}
	return "-" + c.Name
}

// regional is the cell's regional stack.
func (c ringCell) regional() string { return stackscontract.RegionalStack(c.Prefix) }

// anyLocal says whether a cell is in the pipeline's own account.
func anyLocal(cells []ringCell) bool {
	return slices.ContainsFunc(cells, func(c ringCell) bool { return !c.Remote })
}

// roleArn is the cell's pipeline role (ringgate).
func (c ringCell) roleArn() string {
	return fmt.Sprintf("arn:aws:iam::%s:role/%s", c.Account, ringgate.RoleName(c.Prefix))
}

// alarmArn is the cell's fleet-health alarm.
func (c ringCell) alarmArn() string {
	return fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", c.Region, c.Account, ringgate.AlarmName(c.Prefix))
}

// describeAlarms reads the fleet-health alarms of the cells in the
// pipeline's own account (a remote cell's is read through its role).
func describeAlarms(cells []ringCell) awsiam.PolicyStatement {
	var arns []string
	for _, c := range cells {
		if !c.Remote {
			arns = append(arns, c.alarmArn())
		}
	}
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("cloudwatch:DescribeAlarms"), Resources: jsii.Strings(arns...),
	})
}

// inCell is shell that runs body in a subshell with the cell's region and,
// for a remote cell, its pipeline role's credentials: what body exports
// stays in the subshell. The subshell fails when the role cannot be
// assumed.
func (c ringCell) inCell(body string) string {
	assume := ""
	if c.Remote {
		assume = fmt.Sprintf(`CREDS=$(aws sts assume-role --role-arn %s --role-session-name pipeline --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text) || { echo "cannot assume %s: is the cell's regional stack deployed and the account bootstrapped with --trust?" >&2; exit 1; }; set -- $CREDS; export AWS_ACCESS_KEY_ID="$1" AWS_SECRET_ACCESS_KEY="$2" AWS_SESSION_TOKEN="$3"; `, c.roleArn(), c.roleArn())
	}
	return fmt.Sprintf(`( export AWS_REGION=%s AWS_DEFAULT_REGION=%s; %s%s )`, c.Region, c.Region, assume, body)
}

// reach are the statements a step's role needs to run inCell in every
// cell: assume the remote cells' roles; the rest is what the caller grants
// in the pipeline's own account.
func reach(cells []ringCell) []awsiam.PolicyStatement {
	var roles []string
	for _, c := range cells {
		if c.Remote {
			roles = append(roles, c.roleArn())
		}
	}
	if len(roles) == 0 {
		return nil
	}
	return []awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("sts:AssumeRole"), Resources: jsii.Strings(roles...),
	})}
}

// bakeRollback is what a failed bake rolls back: the pipeline and the
// stages its ring deployed.
type bakeRollback struct {
	Pipeline string
	Stages   []string
}

// bakeCommand is the shell of a bake: for minutes, once a minute, it reads
// every cell's fleet-health alarm (as inCell) and fails, naming the cell,
// as soon as one is in ALARM or cannot be read; it succeeds when the time
// is up with every alarm quiet. On an ALARM it rolls the ring's stages
// back, last first, to the pipeline's last execution that succeeded
// (RollbackStage), and prints the command for any stage CodePipeline
// does not roll back.
func bakeCommand(cells []ringCell, minutes int, rb bakeRollback) string {
	stages := slices.Clone(rb.Stages)
	slices.Reverse(stages)
	rollback := fmt.Sprintf(`rollback() { ID=$(aws codepipeline list-pipeline-executions --pipeline-name %[1]s --query "pipelineExecutionSummaries[?status=='Succeeded'] | [0].pipelineExecutionId" --output text) || ID=""; `+
		`if [ -z "$ID" ] || [ "$ID" = None ]; then echo "no earlier execution of %[1]s succeeded: nothing to roll the ring back to; fix forward" >&2; return; fi; `+
		`for S in %[2]s; do if aws codepipeline rollback-stage --pipeline-name %[1]s --stage-name "$S" --target-pipeline-execution-id "$ID" >/dev/null; then echo "rolled stage $S back to execution $ID" >&2; `+
		`else echo "could not roll stage $S back: run aws codepipeline rollback-stage --pipeline-name %[1]s --stage-name $S --target-pipeline-execution-id $ID" >&2; fi; done; }`,
		rb.Pipeline, strings.Join(stages, " "))
	var checks []string
	for _, c := range cells {
		read := fmt.Sprintf(`S=$(aws cloudwatch describe-alarms --alarm-names %s --alarm-types CompositeAlarm --query 'CompositeAlarms[0].StateValue' --output text) || exit 1; echo "$S"`, ringgate.AlarmName(c.Prefix))
		checks = append(checks, fmt.Sprintf(`S=$( %s ) || { echo "cell %s: cannot read its alarm %s" >&2; exit 1; }; `+
			`case "$S" in ALARM) echo "cell %s: %s is in ALARM: stopping the rollout and rolling the ring back" >&2; rollback; exit 1;; OK|INSUFFICIENT_DATA) ;; *) echo "cell %s: alarm %s is missing (state $S)" >&2; exit 1;; esac`,
			c.inCell(read), c.Name, ringgate.AlarmName(c.Prefix), c.Name, ringgate.AlarmName(c.Prefix), c.Name, ringgate.AlarmName(c.Prefix)))
	}
	return fmt.Sprintf(`%s; END=$(( $(date +%%s) + %d * 60 )); while :; do %s; [ "$(date +%%s)" -ge "$END" ] && break; sleep "${BAKE_POLL_SECONDS:-60}"; done; echo "bake of %d minute(s) done: every alarm quiet"`,
		rollback, minutes, strings.Join(checks, "; "), minutes)
}

// bakeStep watches the cells' fleet-health alarms for the ring's bake
// time, and rolls the ring's stages back on an alarm.
func bakeStep(stack awscdk.Stack, id string, cells []ringCell, minutes int, rb bakeRollback) pipelines.Step {
	statements := reach(cells)
	if anyLocal(cells) {
		statements = append(statements, describeAlarms(cells))
	}
	pipelineArn := *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("codepipeline"), Resource: jsii.String(rb.Pipeline)})
	var stageArns []string
	for _, s := range rb.Stages {
		stageArns = append(stageArns, pipelineArn+"/"+s)
	}
	statements = append(statements,
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings("codepipeline:ListPipelineExecutions"), Resources: jsii.Strings(pipelineArn)}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings("codepipeline:RollbackStage"), Resources: jsii.Strings(stageArns...)}))
	return pipelines.NewCodeBuildStep(jsii.String(id), &pipelines.CodeBuildStepProps{
		Commands:             jsii.Strings(bakeCommand(cells, minutes, rb)),
		RolePolicyStatements: &statements,
		Timeout:              awscdk.Duration_Minutes(jsii.Number(float64(minutes + 30))),
	})
}

// cellImageStep is imageStep for a cell: the image is pushed into the
// cell's own repository, in its region (through its pipeline role when
// the cell is in another account).
func cellImageStep(stack awscdk.Stack, c ringCell) pipelines.Step {
	regional := c.regional()
	statements := reach([]ringCell{c})
	if !c.Remote {
		statements = append(statements,
			readStackIn(stack, regional, c.Region),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings("ecr:GetAuthorizationToken"), Resources: jsii.Strings("*")}),
			onRepositoryIn(stack, regional, c.Region, pushActions...))
	}
	return pipelines.NewCodeBuildStep(jsii.String("MultiArchImage"+c.suffix()), &pipelines.CodeBuildStepProps{
		BuildEnvironment: &awscodebuild.BuildEnvironment{BuildImage: awscodebuild.LinuxBuildImage_STANDARD_7_0(), Privileged: jsii.Bool(true)},
		Commands: jsii.Strings(
			imageTagCommand,
			c.inCell(regionalRepository(regional)+" && "+imageStateCommand+" && "+pushImageCommand("cell's")),
		),
		RolePolicyStatements: &statements,
	})
}

// cellSecondRunStep starts the pipeline again after a first run into the
// cell (its image asset was single-platform).
func cellSecondRunStep(stack awscdk.Stack, c ringCell, pipeline string) pipelines.Step {
	regional := c.regional()
	statements := reach([]ringCell{c})
	if !c.Remote {
		statements = append(statements, readStackIn(stack, regional, c.Region), onRepositoryIn(stack, regional, c.Region, "ecr:DescribeImages"))
	}
	statements = append(statements, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("codepipeline:StartPipelineExecution"),
		Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("codepipeline"), Resource: jsii.String(pipeline)})),
	}))
	return pipelines.NewCodeBuildStep(jsii.String("MultiArchAfterFirstRun"+c.suffix()), &pipelines.CodeBuildStepProps{
		Commands: jsii.Strings(
			imageTagCommand,
			`IMAGE=$( `+c.inCell(regionalRepository(regional)+" && "+imageStateCommand+` && echo "$IMAGE"`)+` )`,
			fmt.Sprintf(`if [ "$IMAGE" = absent ]; then echo "first run into cell %s done: starting the pipeline again for the multi-arch image"; aws codepipeline start-pipeline-execution --name %s; fi`, c.Name, pipeline),
		),
		RolePolicyStatements: &statements,
	})
}

// firstRunCommand is the synth's shell that sets CTX: the image tag of
// this commit when every cell's repository exists (the image steps push
// it before each cell deploys), none (the Dockerfile as an asset) while
// one does not yet.
func firstRunCommand(cells []ringCell) string {
	var checks []string
	for _, c := range cells {
		checks = append(checks, fmt.Sprintf(`if ! %s; then FIRST="$FIRST %s"; fi`, c.inCell(regionalRepository(c.regional())+`; [ -n "$REPO" ]`), c.Name))
	}
	return `FIRST=""; ` + strings.Join(checks, "; ") +
		`; if [ -z "$FIRST" ] && [ -n "$TAG" ]; then CTX="-c imageTag=$TAG"; else CTX=""; echo "first run into cell(s)$FIRST: the stacks deploy the worker's Dockerfile as an asset"; fi`
}

// ringPipeline adds every cell to the pipeline and lays its stages out in
// rings (PlanRings): it returns the layout.
func ringPipeline(app awscdk.App, stack awscdk.Stack, cp pipelines.CodePipeline, cfg config.Config, cells []ringCell) ([]CellApp, []RingStage, error) {
	p := cfg.Pipeline
	pipelineName := PipelineStackName(cfg)
	var built []CellApp
	gated := len(p.Rings) > 0
	layout := PlanRings(cfg.StackPrefix, cellPlans(cfg, cells), siteNamesOf(cfg), p.Rings, p.WaveSize)
	for i, c := range cells {
		cc := cfg.ForCell(c.Cell)
		if c.Name == "" {
			cc.Pipeline = nil
		}
		stage := awscdk.NewStage(app, jsii.String(c.Prefix), &awscdk.StageProps{Env: env(cc)})
		a, err := build(stage, cc, &GateProps{PipelineAccount: cfg.Account, PipelineStack: pipelineName})
		if err != nil {
			return nil, nil, err
		}
		Check(stage)
		built = append(built, CellApp{Cell: c.Cell, Config: cc, App: a})
		steps := &pipelines.StackSteps{Stack: a.Regional.Stack, Pre: &[]pipelines.Step{cellImageStep(stack, c)}}
		if p.ApproveSites {
			steps.Post = &[]pipelines.Step{pipelines.NewManualApprovalStep(jsii.String("ApproveSites"+c.suffix()), &pipelines.ManualApprovalStepProps{
				Comment: jsii.String(fmt.Sprintf("cell %s's region is deployed: approve to deploy its %d site(s)", c.Name, len(cc.Sites))),
			})}
		}
		opts := &pipelines.AddStageOpts{StackSteps: &[]*pipelines.StackSteps{steps}, Post: &[]pipelines.Step{cellSecondRunStep(stack, c, pipelineName)}}
		if c.Approve {
			opts.Pre = &[]pipelines.Step{pipelines.NewManualApprovalStep(jsii.String("Approve"+c.suffix()), &pipelines.ManualApprovalStepProps{
				Comment: jsii.String(fmt.Sprintf("approve to deploy into cell %s (account %s, region %s)", c.Name, c.Account, c.Region)),
			})}
		}
		if i == len(cells)-1 {
			// The bakes ride on the last cell's stage; the layout moves
			// each to its ring.
			for _, st := range layout {
				if st.Kind != StageBake {
					continue
				}
				var in []ringCell
				for _, name := range st.Cells {
					in = append(in, cellNamed(cells, name))
				}
				rb := bakeRollback{Pipeline: pipelineName}
				for _, other := range layout {
					if other.Ring == st.Ring && other.Kind != StageBake {
						rb.Stages = append(rb.Stages, other.Name)
					}
				}
				*opts.Post = append(*opts.Post, bakeStep(stack, "Bake-"+st.Ring, in, st.BakeMinutes, rb))
			}
		}
		cp.AddStage(stage, opts)
	}
	cp.BuildPipeline()
	cdknag.NagSuppressions_AddStackSuppressions(stack, &[]*cdknag.NagPackSuppression{
		{
			Id:        jsii.String("AwsSolutions-IAM5"),
			AppliesTo: appliesTo(`/^Resource::arn:aws[a-z-]*:s3:::[a-z0-9-]*plicationbucket[a-z0-9]*\/\*$/`),
			Reason:    jsii.String("CDK Pipelines replicates the artifacts into a bucket of its own in each other region the pipeline deploys to: the pipeline's role reads and writes objects of exactly those buckets"),
		},
	}, jsii.Bool(false))
	if n := hardenReplicationStacks(app); n == 0 && hasOtherRegions(cfg) {
		return nil, nil, fmt.Errorf("pipeline: no cross-region-stack-… for the cells in other regions than the pipeline's: has CDK renamed its replication stacks?")
	}
	cfn, ok := cp.Pipeline().Node().DefaultChild().(awscodepipeline.CfnPipeline)
	if !ok {
		return nil, nil, fmt.Errorf("pipeline: no CfnPipeline under the pipeline")
	}
	stages, _ := stack.Resolve(cfn.Stages()).([]any)
	out, err := RingStages(stages, cells, layout, gated)
	if err != nil {
		return nil, nil, err
	}
	cfn.AddPropertyOverride(jsii.String("Stages"), cfnNames(out, false))
	// The gates' rules read the cells' alarms as the pipeline's role (a
	// remote cell's through its role).
	if gated && anyLocal(cells) {
		cp.Pipeline().Role().AddToPrincipalPolicy(describeAlarms(cells))
	}
	if gated {
		if r := reach(cells); len(r) > 0 {
			cp.Pipeline().Role().AddToPrincipalPolicy(r[0])
		}
	}
	return built, layout, nil
}

// cellPlans are what the layout needs of the cells: their sites.
func cellPlans(cfg config.Config, cells []ringCell) []CellPlan {
	var out []CellPlan
	for _, c := range cells {
		var names []string
		for _, s := range cfg.ForCell(c.Cell).Sites {
			names = append(names, s.Name)
		}
		out = append(out, CellPlan{Name: c.Name, Sites: names})
	}
	return out
}

// siteNamesOf are the sites' names, in configuration order.
func siteNamesOf(cfg config.Config) []string {
	out := make([]string, 0, len(cfg.Sites))
	for _, s := range cfg.Sites {
		out = append(out, s.Name)
	}
	return out
}

// cellNamed is the cell called name (the zero cell when none is).
func cellNamed(cells []ringCell, name string) ringCell {
	for _, c := range cells {
		if c.Name == name {
			return c
		}
	}
	return ringCell{}
}

// cellActions are one cell's actions from its CDK Pipelines stage.
type cellActions struct {
	// region: approval, image, the regional stack's, its sites' approval,
	// in pipeline order; after: what followed the sites (first-run step,
	// bakes).
	region, after []map[string]any
	sites         map[string]siteActions
}

// RingStages rewrites the pipeline's stages (as CDK holds them: camelCase)
// into the layout: the stages before the cells' (source, build, self-
// mutation, assets) stay; each cell's stage's actions move into the
// layout's stages. With gates, every deploying stage rolls back on a
// failure and on its cells' fleet-health alarms (CodePipeline stage
// conditions), and each bake step gets a stage of its own.
func RingStages(stages []any, cells []ringCell, layout []RingStage, gated bool) ([]any, error) {
	byStage := map[string]string{}
	for _, c := range cells {
		byStage[c.Prefix] = c.Name
	}
	acts := map[string]*cellActions{}
	var out []any
	for _, st := range stages {
		stage, _ := st.(map[string]any)
		name := fmt.Sprint(stage["name"])
		base, _, _ := strings.Cut(name, ".") // CDK Pipelines splits a stage of more than 50 actions into <name>.1, .2, …
		cell, ok := byStage[base]
		if !ok {
			out = append(out, stage)
			continue
		}
		if acts[cell] == nil {
			acts[cell] = &cellActions{sites: map[string]siteActions{}}
		}
		ca := acts[cell]
		list, _ := stage["actions"].([]any)
		seenSite := false
		for _, a := range list {
			act, _ := a.(map[string]any)
			an, _ := act["name"].(string)
			stackID, step, _ := strings.Cut(an, ".")
			if site, isSite := strings.CutPrefix(stackID, "Anywhere-"); isSite {
				sa := ca.sites[site]
				if step == "Prepare" {
					sa.prepare = act
				} else {
					sa.deploy = act
				}
				ca.sites[site] = sa
				seenSite = true
				continue
			}
			bake := strings.HasPrefix(an, "Bake-")
			if cell != "" && !bake && !strings.HasSuffix(an, "-"+cell) {
				act["name"] = cell + "-" + an // the regional stack's actions, unique across cells
			}
			if seenSite || bake || strings.HasPrefix(an, "MultiArchAfterFirstRun") {
				ca.after = append(ca.after, act)
			} else {
				ca.region = append(ca.region, act)
			}
		}
	}
	rules := func(names []string) []any {
		var out []any
		for _, n := range names {
			c := cellNamed(cells, n)
			rule := map[string]any{
				"name":       "FleetHealth-" + n,
				"ruleTypeId": map[string]any{"category": "Rule", "owner": "AWS", "provider": "CloudWatchAlarm", "version": "1"},
				"configuration": map[string]any{
					"AlarmName": ringgate.AlarmName(c.Prefix), "AlarmStates": "ALARM", "WaitTime": "5",
				},
				"region": c.Region,
			}
			if c.Remote {
				rule["roleArn"] = c.roleArn()
			}
			out = append(out, rule)
		}
		return out
	}
	gate := func(stage map[string]any, cells []string) {
		if !gated {
			return
		}
		stage["onFailure"] = map[string]any{"result": "ROLLBACK"}
		stage["onSuccess"] = map[string]any{"conditions": []any{map[string]any{"result": "ROLLBACK", "rules": rules(cells)}}}
	}
	lastOf := map[string]int{}
	for i, st := range layout {
		for _, c := range st.Cells {
			if st.Kind != StageBake {
				lastOf[c] = i
			}
		}
	}
	for i, st := range layout {
		stage := map[string]any{"name": st.Name}
		var actions []any
		switch st.Kind {
		case StageRegions:
			for _, c := range st.Cells {
				ca := acts[c]
				if ca == nil {
					return nil, fmt.Errorf("pipeline: cell %s has no stage of its own to take its actions from (has CDK Pipelines renamed it?)", c)
				}
				for k, a := range ca.region {
					actions = append(actions, withRunOrder(a, k+1))
				}
			}
			gate(stage, st.Cells)
		case StageSites:
			ca := acts[st.Cells[0]]
			for _, s := range st.Sites {
				sa := ca.sites[s]
				switch {
				case sa.deploy == nil:
					return nil, fmt.Errorf("pipeline: site %s has no Anywhere-%s.Deploy action to put in a wave (has CDK Pipelines renamed it?)", s, s)
				case sa.prepare == nil: // no change sets: one action a stack
					actions = append(actions, withRunOrder(sa.deploy, 1))
				default:
					actions = append(actions, withRunOrder(sa.prepare, 1), withRunOrder(sa.deploy, 2))
				}
			}
			gate(stage, st.Cells)
		case StageBake:
			for _, c := range cells {
				ca := acts[c.Name]
				if ca == nil {
					continue
				}
				for _, a := range ca.after {
					if a["name"] == "Bake-"+st.Ring {
						actions = append(actions, withRunOrder(a, 1))
					}
				}
			}
			if len(actions) != 1 {
				return nil, fmt.Errorf("pipeline: ring %s has %d bake actions, want 1", st.Ring, len(actions))
			}
		}
		// A cell's first-run step goes after its last deploying stage.
		for _, c := range cells {
			if lastOf[c.Name] != i || st.Kind == StageBake {
				continue
			}
			last := 0
			for _, a := range actions {
				last = max(last, a.(map[string]any)["runOrder"].(int))
			}
			for _, a := range acts[c.Name].after {
				if n, _ := a["name"].(string); strings.Contains(n, "MultiArchAfterFirstRun") {
					actions = append(actions, withRunOrder(a, last+1))
				}
			}
		}
		if len(actions) > quota.PipelineActions.Limit {
			return nil, fmt.Errorf("pipeline: stage %s would have %d actions, CodePipeline allows %d: lower pipeline.waveSize", st.Name, len(actions), quota.PipelineActions.Limit)
		}
		stage["actions"] = shortArns(actions)
		out = append(out, stage)
	}
	for name, ca := range acts {
		for s := range ca.sites {
			if !slices.ContainsFunc(layout, func(st RingStage) bool { return slices.Contains(st.Sites, s) }) {
				return nil, fmt.Errorf("pipeline: cell %q deploys site %s, which no ring has", name, s)
			}
		}
	}
	return out, nil
}

// hardenReplicationStacks brings the stacks CDK makes for a pipeline's
// actions in other regions (cross-region-stack-<account>:<region>: an
// artifact replication bucket and its key) to the app's own standard:
// the key rotates, the bucket's access is logged into a bucket beside it.
func hardenReplicationStacks(app awscdk.App) int {
	n := 0
	for _, child := range *app.Node().Children() {
		st, ok := child.(awscdk.Stack)
		if !ok || !strings.HasPrefix(*st.Node().Id(), "cross-region-stack-") {
			continue
		}
		n++
		for _, c := range *st.Node().FindAll(constructs.ConstructOrder_PREORDER) {
			switch r := c.(type) {
			case awskms.CfnKey:
				r.SetEnableKeyRotation(jsii.Bool(true))
				// cdk-nag also reads these resources before this runs
				// (CDK Pipelines synthesizes while it builds): the
				// template has the rotation (test/pipeline_rings_test.go).
				cdknag.NagSuppressions_AddResourceSuppressions(r, &[]*cdknag.NagPackSuppression{{
					Id: jsii.String("AwsSolutions-KMS5"), Reason: jsii.String("rotation is on (EnableKeyRotation set on CDK's replication key after CDK Pipelines made it)"),
				}}, jsii.Bool(false))
			case awss3.CfnBucket:
				if *r.Node().Path() == *st.Node().Path()+"/ReplicationAccessLogs/Resource" {
					continue
				}
				// Versioned, old versions and stale uploads expire, as the
				// pipeline's own artifact bucket.
				r.SetVersioningConfiguration(&awss3.CfnBucket_VersioningConfigurationProperty{Status: jsii.String("Enabled")})
				r.SetLifecycleConfiguration(&awss3.CfnBucket_LifecycleConfigurationProperty{Rules: &[]any{&awss3.CfnBucket_RuleProperty{
					Status:                         jsii.String("Enabled"),
					AbortIncompleteMultipartUpload: &awss3.CfnBucket_AbortIncompleteMultipartUploadProperty{DaysAfterInitiation: jsii.Number(7)},
					NoncurrentVersionExpiration:    &awss3.CfnBucket_NoncurrentVersionExpirationProperty{NoncurrentDays: jsii.Number(30)},
				}}})
				// The same access log bucket as the artifacts', with the
				// grant to S3's logging service that CDK writes for a
				// bucket's ServerAccessLogsBucket (set here on the L1, so
				// written here too).
				logs := accessLogBucket(st, "ReplicationAccessLogs")
				logs.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
					Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("logging.s3.amazonaws.com"), nil)},
					Actions:    jsii.Strings("s3:PutObject"),
					Resources:  jsii.Strings(*logs.ArnForObjects(jsii.String("replication/*"))),
					Conditions: &map[string]any{
						"ArnLike":      map[string]any{"aws:SourceArn": r.AttrArn()},
						"StringEquals": map[string]any{"aws:SourceAccount": st.Account()},
					},
				}))
				r.SetLoggingConfiguration(&awss3.CfnBucket_LoggingConfigurationProperty{DestinationBucketName: logs.BucketName(), LogFilePrefix: jsii.String("replication/")})
				cdknag.NagSuppressions_AddResourceSuppressions(r, &[]*cdknag.NagPackSuppression{{
					Id: jsii.String("AwsSolutions-S1"), Reason: jsii.String("access is logged (LoggingConfiguration set on CDK's replication bucket after CDK Pipelines made it)"),
				}}, jsii.Bool(false))
				cdknag.NagSuppressions_AddResourceSuppressions(logs, &[]*cdknag.NagPackSuppression{{
					Id: jsii.String("AwsSolutions-S1"), Reason: jsii.String("the access log bucket of the replication bucket: logging it too would never end"),
				}}, jsii.Bool(true))
			}
		}
	}
	return n
}

// hasOtherRegions says whether a cell is in another region than the
// pipeline.
func hasOtherRegions(cfg config.Config) bool {
	return slices.ContainsFunc(cfg.Cells, func(c config.Cell) bool { return c.Region != cfg.Region })
}

// shortArns writes each Fn::Join of strings and pseudo parameters (CDK's
// form of an ARN with the partition) as the equal, shorter Fn::Sub: a
// pipeline of 600 sites names the same deployment roles 1,800 times.
func shortArns(v any) []any {
	out, _ := subJoins(v).([]any)
	return out
}

func subJoins(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if j, ok := t["Fn::Join"].([]any); ok && len(t) == 1 && len(j) == 2 && j[0] == "" {
			if parts, ok := j[1].([]any); ok {
				var b strings.Builder
				for _, p := range parts {
					switch x := p.(type) {
					case string:
						if strings.Contains(x, "${") {
							return t
						}
						b.WriteString(x)
					case map[string]any:
						ref, ok := x["Ref"].(string)
						if !ok || len(x) != 1 || !strings.HasPrefix(ref, "AWS::") {
							return t
						}
						b.WriteString("${" + ref + "}")
					default:
						return t
					}
				}
				return map[string]any{"Fn::Sub": b.String()}
			}
		}
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = subJoins(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = subJoins(x)
		}
		return out
	}
	return v
}
