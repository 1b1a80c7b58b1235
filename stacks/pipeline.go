package stacks

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodecommit"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/pipelines"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ecs-anywhere-stretched/stretched/config"
	"github.com/ecs-anywhere-stretched/stretched/constructs/encryption"
	"github.com/ecs-anywhere-stretched/stretched/constructs/loggroup"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// Pinned versions of what `make test` needs beyond what the CodeBuild image
// has (aws/codebuild/standard:7.0: Go, Node.js, Python, Docker with buildx).
const (
	// GoToolchain is go.mod's Go; the image's go downloads it (GOTOOLCHAIN).
	// A test holds it equal to go.mod's go line: raising that line (go get
	// go@1.26.N) moves the pipeline with it.
	GoToolchain = "go1.26.8"
	// BuildxFlags leave out the attestation manifests buildx adds by
	// default (provenance, SBOM): each would be one more image in the
	// repository, counted by nothing and pulled by nobody.
	BuildxFlags = "--provenance=false --sbom=false"
	// Runtimes selected in the image.
	GoRuntime, NodeRuntime, PythonRuntime = "1.26", "22", "3.12"
	// CfnLintVersion and MotoVersion are the Python tools the tests run.
	CfnLintVersion = "1.51.0"
	MotoVersion    = "5.2.1"
	// CdkCliVersion is package.json's aws-cdk: the pipeline's own steps
	// (self-mutation, asset publishing) run it too, not the newest 2.x.
	CdkCliVersion = "2.1148.1"
	// CdkAssetsVersion is package.json's cdk-assets: the pipeline's asset
	// steps publish with it (the tests run it on the synthesized manifests).
	CdkAssetsVersion = "4.7.3"
)

// PipelineStackName is the pipeline stack's name.
func PipelineStackName(cfg config.Config) string { return cfg.StackPrefix + "-Pipeline" }

// Pipeline is the pipeline stack and the stage it deploys.
type Pipeline struct {
	Stack    awscdk.Stack
	Pipeline pipelines.CodePipeline
	// Stage holds exactly the stacks `make deploy` deploys, made by Build.
	Stage awscdk.Stage
	App   *App
	// Waves are the pipeline stages that deploy the sites, after the region.
	Waves []Wave
	// Cells and Layout, with cells or rings (Stage, App and Waves are
	// then empty): every cell's stacks, and the pipeline's stages ring by
	// ring.
	Cells  []CellApp
	Layout []RingStage
}

// imageTagCommand is the shell that sets TAG, the image tag of this commit:
// the synth and the image step derive the same one. Without a commit id
// the step fails: a build with no tag could neither deploy an image nor
// tell whether it did, and the after-first-run step would start the
// pipeline again on every run.
const imageTagCommand = `TAG=$(printf '%s' "${CODEBUILD_RESOLVED_SOURCE_VERSION:-}" | cut -c1-12); ` +
	`if [ -z "$TAG" ]; then echo "no commit id: CODEBUILD_RESOLVED_SOURCE_VERSION is empty, so this build has no image tag; stopping (check the pipeline's source action)" >&2; false; fi`

// imageStateCommand is the shell that sets IMAGE to present or absent:
// whether the regional repository holds the image of this commit. Any
// other answer from ECR (access denied, throttled, no network) fails the
// step instead of being taken for "absent".
const imageStateCommand = `IMAGE=""; if [ -n "$REPO" ]; then ` +
	`if ERR=$(aws ecr describe-images --repository-name "${REPO#*/}" --image-ids imageTag="$TAG" 2>&1 >/dev/null); then IMAGE=present; ` +
	`elif printf '%s' "$ERR" | grep -q ImageNotFoundException; then IMAGE=absent; ` +
	`else echo "cannot tell whether the image $REPO:$TAG exists: $ERR" >&2; false; fi; fi`

// BuildPipeline makes the pipeline stack: source, a synth step that runs
// the README's own `make test` and `make synth`, then a stage with the
// regional stack (a multi-arch image step before it and an optional manual
// approval after it), then the sites in waves of pipeline.waveSize, one
// stage each, the sites of a wave side by side.
func BuildPipeline(app awscdk.App, cfg config.Config) (*Pipeline, error) {
	p := cfg.Pipeline
	if p == nil {
		return nil, fmt.Errorf("pipeline: the configuration has no %q key", config.KeyPipeline)
	}
	stack := awscdk.NewStack(app, jsii.String(PipelineStackName(cfg)), &awscdk.StackProps{
		Env:         env(cfg),
		StackName:   jsii.String(PipelineStackName(cfg)),
		Description: jsii.String("ECS worker: the pipeline that builds the multi-arch image and deploys the region and every site"),
	})
	bound(stack, cfg.PermissionsBoundary)
	var source pipelines.CodePipelineSource
	if p.CodeCommitRepository != "" {
		repo := awscodecommit.Repository_FromRepositoryName(stack, jsii.String("Repository"), jsii.String(p.CodeCommitRepository))
		source = pipelines.CodePipelineSource_CodeCommit(repo, jsii.String(p.Branch), nil)
	} else {
		source = pipelines.CodePipelineSource_Connection(jsii.String(p.Repository), jsii.String(p.Branch),
			&pipelines.ConnectionSourceOptions{ConnectionArn: jsii.String(p.ConnectionArn)})
	}
	regionalName := RegionalStackName(cfg)
	readRegional := readStack(stack, regionalName)
	// With cells or rings, every cell is reached on its own (ringPipeline);
	// without, the one region as ever.
	ringed := len(cfg.Cells) > 0 || len(p.Rings) > 0
	var cells []ringCell
	firstRun := []string{regionalRepository(regionalName),
		fmt.Sprintf(`if [ -n "$TAG" ] && [ -n "$REPO" ]; then CTX="-c imageTag=$TAG"; else CTX=""; echo "first run: no repository in stack %s yet, the stacks deploy the worker's Dockerfile as an asset"; fi`, regionalName)}
	synthReads := []awsiam.PolicyStatement{readRegional}
	crossAccount := false
	if ringed {
		for _, c := range cfg.CellsOrOne() {
			rc := ringCell{Cell: c, Prefix: cfg.ForCell(c).StackPrefix, Remote: c.Name != "" && c.Account != cfg.Account}
			if c.Name == "" {
				rc.Account, rc.Region = cfg.Account, cfg.Region
			}
			cells = append(cells, rc)
			crossAccount = crossAccount || rc.Remote
		}
		firstRun = []string{firstRunCommand(cells)}
		synthReads = reach(cells)
		for _, c := range cells {
			if !c.Remote {
				synthReads = append(synthReads, readStackIn(stack, c.regional(), c.Region))
			}
		}
	}
	image := awscodebuild.LinuxBuildImage_STANDARD_7_0()
	synth := pipelines.NewCodeBuildStep(jsii.String("Synth"), &pipelines.CodeBuildStepProps{
		Input: source,
		BuildEnvironment: &awscodebuild.BuildEnvironment{
			BuildImage:  image,
			ComputeType: awscodebuild.ComputeType_MEDIUM,
		},
		PartialBuildSpec: awscodebuild.BuildSpec_FromObject(&map[string]any{
			"phases": map[string]any{"install": map[string]any{"runtime-versions": map[string]any{
				"golang": GoRuntime, "nodejs": NodeRuntime, "python": PythonRuntime,
			}}},
		}),
		Env: &map[string]*string{"CI": jsii.String("true"), "GOTOOLCHAIN": jsii.String(GoToolchain)},
		InstallCommands: jsii.Strings(
			fmt.Sprintf("pip install --no-cache-dir cfn-lint==%s 'moto[server]==%s'", CfnLintVersion, MotoVersion),
		),
		Commands: jsii.Strings(
			// The first run into an empty account has no regional
			// repository to hold an image yet: that run deploys the
			// Dockerfile as an asset, and starts the pipeline once more.
			// The same test as the image step's, so the stacks get the
			// tag exactly when that step builds it.
			slices.Concat([]string{"make test", imageTagCommand}, firstRun, []string{
				`make synth CDK_ARGS="$CTX"`,
				// The review of exactly what this run deploys, kept with the
				// cloud assembly in the artifact bucket (docs/review.md is the
				// default configuration's).
				"make review-report",
			})...,
		),
		PrimaryOutputDirectory: jsii.String("cdk.out"),
		RolePolicyStatements:   &synthReads,
		Timeout:                awscdk.Duration_Minutes(jsii.Number(60)),
	})
	pipelineName := PipelineStackName(cfg)
	pipelineKey, err := encryption.New(stack, "Key", encryption.Props{Description: "the pipeline's artifacts and build logs"})
	if err != nil {
		return nil, err
	}
	key := pipelineKey.Key()
	artifacts := artifactBucket(stack, key)
	buildLogs, err := loggroup.New(stack, "BuildLogs", loggroup.Props{Key: key, RetentionDays: cfg.LogRetentionDays})
	if err != nil {
		return nil, err
	}
	cp := pipelines.NewCodePipeline(stack, jsii.String("Pipeline"), &pipelines.CodePipelineProps{
		PipelineName: jsii.String(pipelineName),
		Synth:        synth,
		SelfMutation: jsii.Bool(true),
		CliVersion:   jsii.String(CdkCliVersion),
		// Pinned like the CLI: "latest" would change what publishes
		// assets without a commit.
		CdkAssetsCliVersion: jsii.String(CdkAssetsVersion),
		ArtifactBucket:      artifacts,
		CrossAccountKeys:    crossAccountKeys(crossAccount),
		UseChangeSets:       useChangeSets(ringed),
		CodeBuildDefaults: &pipelines.CodeBuildOptions{
			Logging: &awscodebuild.LoggingOptions{CloudWatch: &awscodebuild.CloudWatchLoggingOptions{LogGroup: buildLogs.LogGroup()}},
		},
	})

	if ringed {
		built, layout, err := ringPipeline(app, stack, cp, cfg, cells)
		if err != nil {
			return nil, err
		}
		return &Pipeline{Stack: stack, Pipeline: cp, Cells: built, Layout: layout}, finishPipeline(stack, p)
	}
	stage := awscdk.NewStage(app, jsii.String(cfg.StackPrefix), &awscdk.StageProps{Env: env(cfg)})
	built, err := Build(stage, cfg)
	if err != nil {
		return nil, err
	}
	Check(stage)

	regionalSteps := &pipelines.StackSteps{Stack: built.Regional.Stack, Pre: &[]pipelines.Step{imageStep(stack, regionalName)}}
	if p.ApproveSites {
		regionalSteps.Post = &[]pipelines.Step{pipelines.NewManualApprovalStep(jsii.String("ApproveSites"), &pipelines.ManualApprovalStepProps{
			Comment: jsii.String(fmt.Sprintf("the region is deployed: approve to deploy the %d site(s) of %s", len(built.Sites), cfg.StackPrefix)),
		})}
	}
	cp.AddStage(stage, &pipelines.AddStageOpts{
		StackSteps: &[]*pipelines.StackSteps{regionalSteps},
		Post:       &[]pipelines.Step{secondRunStep(stack, regionalName, pipelineName)},
	})
	cp.BuildPipeline()
	waves, err := deployInWaves(stack, cp, cfg.StackPrefix, siteNamesOf(cfg), p.WaveSize)
	if err != nil {
		return nil, err
	}
	return &Pipeline{Stack: stack, Pipeline: cp, Stage: stage, App: built, Waves: waves}, finishPipeline(stack, p)
}

// finishPipeline is what every pipeline gets once CDK Pipelines built it:
// the connection grant with the ARN's own prefix, the reasons of its
// cdk-nag suppressions.
func finishPipeline(stack awscdk.Stack, p *config.Pipeline) error {
	if p.ConnectionArn != "" {
		if err := matchConnectionPrefix(stack, p.ConnectionArn); err != nil {
			return err
		}
	}
	suppressPipeline(stack)
	return nil
}

// matchConnectionPrefix makes the source action's UseConnection name the
// service prefix of the connection ARN it is given: CDK Pipelines always
// grants codestar-connections:UseConnection, and IAM matches an action only
// to resources of its own service, so a codeconnections ARN (what the
// console creates since July 2024) would fail the Source stage.
func matchConnectionPrefix(stack awscdk.Stack, connectionArn string) error {
	prefix := strings.Split(connectionArn, ":")[2]
	if prefix == "codestar-connections" {
		return nil
	}
	found := 0
	for _, c := range *stack.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		pol, ok := c.(awsiam.CfnPolicy)
		if !ok {
			continue
		}
		doc, _ := stack.Resolve(pol.PolicyDocument()).(map[string]any)
		sts, _ := doc["Statement"].([]any)
		for i, st := range sts {
			m, _ := st.(map[string]any)
			if m["Action"] == "codestar-connections:UseConnection" && m["Resource"] == connectionArn {
				pol.AddPropertyOverride(jsii.String(fmt.Sprintf("PolicyDocument.Statement.%d.Action", i)), prefix+":UseConnection")
				found++
			}
		}
	}
	if found == 0 {
		return fmt.Errorf("pipeline: no codestar-connections:UseConnection grant on %s to turn into %s:UseConnection; has CDK Pipelines changed how it grants the connection?", connectionArn, prefix)
	}
	return nil
}

// readStack may read the outputs of the stack named name (its ARN ends
// with a generated id).
func readStack(stack awscdk.Stack, name string) awsiam.PolicyStatement {
	return readStackIn(stack, name, "")
}

// readStackIn is readStack in region of the pipeline's account ("": the
// pipeline's own).
func readStackIn(stack awscdk.Stack, name, region string) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("cloudformation:DescribeStacks"),
		Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("cloudformation"), Region: optional(region), Resource: jsii.String("stack"),
			ResourceName: jsii.String(name + "/*")})),
	})
}

// onRegionalRepository allows actions on the repository tagged as the
// regional stack's, and no other.
func onRegionalRepository(stack awscdk.Stack, regional string, actions ...string) awsiam.PolicyStatement {
	return onRepositoryIn(stack, regional, "", actions...)
}

// onRepositoryIn is onRegionalRepository in region of the pipeline's
// account ("": the pipeline's own).
func onRepositoryIn(stack awscdk.Stack, regional, region string, actions ...string) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings(actions...),
		Resources:  jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ecr"), Region: optional(region), Resource: jsii.String("repository"), ResourceName: jsii.String("*")})),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:ResourceTag/" + stackscontract.StackTagKey: regional}},
	})
}

// optional is s, or nil (the default) when it is empty.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return jsii.String(s)
}

// regionalRepository is the shell that sets REPO to the regional stack's
// repository URI, empty when the stack does not exist yet.
func regionalRepository(regional string) string {
	// Each buildspec command must end with status 0: no trailing `a && b`.
	return fmt.Sprintf(`REPO=$(aws cloudformation describe-stacks --stack-name %s --query "Stacks[0].Outputs[?OutputKey=='%s'].OutputValue" --output text 2>/dev/null || true); if [ "$REPO" = None ]; then REPO=""; fi`,
		regional, stackscontract.OutputRepositoryURI)
}

// imageStep builds worker/Dockerfile for linux/amd64 and linux/arm64 as one
// manifest, tagged with the commit, into the regional repository (before
// the regional stack deploys the tag). Privileged, because Docker runs; it
// may push only to the repository tagged as the regional stack's.
func imageStep(stack awscdk.Stack, regional string) pipelines.Step {
	return pipelines.NewCodeBuildStep(jsii.String("MultiArchImage"), &pipelines.CodeBuildStepProps{
		BuildEnvironment: &awscodebuild.BuildEnvironment{BuildImage: awscodebuild.LinuxBuildImage_STANDARD_7_0(), Privileged: jsii.Bool(true)},
		Commands: jsii.Strings(
			imageTagCommand,
			regionalRepository(regional),
			imageStateCommand,
			pushImageCommand("regional"),
		),
		RolePolicyStatements: &[]awsiam.PolicyStatement{
			readStack(stack, regional),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions: jsii.Strings("ecr:GetAuthorizationToken"), Resources: jsii.Strings("*"),
			}),
			onRegionalRepository(stack, regional, pushActions...),
		},
	})
}

// pushActions are what pushing the image (and checking it first) needs of
// a repository.
var pushActions = []string{"ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
	"ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:DescribeImages"}

// pushImageCommand is the shell that builds and pushes the image of this
// commit into $REPO, after imageStateCommand: nothing on a first run (no
// repository yet: which names it), nothing when the tag exists. One
// command, so that skipping needs no `exit`: the default docker driver
// builds one platform, a builder of the docker-container driver builds
// both (the Dockerfile cross-compiles, no emulation). No attestation
// manifests: the repository then holds one tagged image index per commit
// (and its untagged platform images), so its lifecycle rule counts
// commits.
func pushImageCommand(which string) string {
	return `if [ -z "$REPO" ]; then echo "first run: the ` + which + ` repository does not exist yet; this run deploys the Dockerfile asset and the next builds the image"; ` +
		`elif [ "$IMAGE" = present ]; then echo "image $REPO:$TAG exists (tags are immutable)"; ` +
		`else aws ecr get-login-password | docker login --username AWS --password-stdin "${REPO%%/*}" && ` +
		`docker buildx create --name multiarch --driver docker-container --use && ` +
		`docker buildx build --platform linux/amd64,linux/arm64 ` + BuildxFlags + ` -f worker/Dockerfile -t "$REPO:$TAG" --push .; fi`
}

// secondRunStep starts the pipeline once more after a first run, which
// deployed the Dockerfile asset (linux/amd64 only): the next run finds the
// repository, builds the multi-arch image and deploys it.
func secondRunStep(stack awscdk.Stack, regional, pipeline string) pipelines.Step {
	return pipelines.NewCodeBuildStep(jsii.String("MultiArchAfterFirstRun"), &pipelines.CodeBuildStepProps{
		Commands: jsii.Strings(
			imageTagCommand,
			regionalRepository(regional),
			imageStateCommand,
			// Only when ECR said "not found": any doubt fails the step
			// above instead of starting the pipeline again and again.
			fmt.Sprintf(`if [ "$IMAGE" = absent ]; then echo "first run done: starting the pipeline again for the multi-arch image"; aws codepipeline start-pipeline-execution --name %s; fi`, pipeline),
		),
		RolePolicyStatements: &[]awsiam.PolicyStatement{
			readStack(stack, regional),
			onRegionalRepository(stack, regional, "ecr:DescribeImages"),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings("codepipeline:StartPipelineExecution"),
				Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("codepipeline"), Resource: jsii.String(pipeline)})),
			}),
		},
	})
}

// artifactBucket holds the pipeline's artifacts: KMS-encrypted with the
// pipeline's key, TLS only, versioned, its old versions expired, access
// logged into a bucket of its own.
func artifactBucket(stack awscdk.Stack, key awskms.IKey) awss3.Bucket {
	return awss3.NewBucket(stack, jsii.String("Artifacts"), secureBucket(&awss3.BucketProps{
		Encryption:             awss3.BucketEncryption_KMS,
		EncryptionKey:          key,
		BucketKeyEnabled:       jsii.Bool(true),
		ServerAccessLogsBucket: accessLogBucket(stack, "ArtifactsAccessLogs"),
		ServerAccessLogsPrefix: jsii.String("artifacts/"),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(7)),
			NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(30)),
		}},
	}))
}

// secureBucket is p with what every bucket of the pipeline has: public
// access blocked, TLS only, versioned, kept with its stack, owned by the
// bucket owner.
func secureBucket(p *awss3.BucketProps) *awss3.BucketProps {
	p.BlockPublicAccess = awss3.BlockPublicAccess_BLOCK_ALL()
	p.EnforceSSL = jsii.Bool(true)
	p.Versioned = jsii.Bool(true)
	p.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	p.ObjectOwnership = awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED
	return p
}

// accessLogBucket is a bucket for S3 server access logs, kept a year.
func accessLogBucket(scope constructs.Construct, id string) awss3.Bucket {
	return awss3.NewBucket(scope, jsii.String(id), secureBucket(&awss3.BucketProps{
		// S3 server access logging delivers only to SSE-S3 buckets.
		Encryption: awss3.BucketEncryption_S3_MANAGED,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Expiration:                  awscdk.Duration_Days(jsii.Number(365)),
			NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(30)),
		}},
	}))
}

// appliesTo are the findings a cdk-nag suppression covers, as regular
// expressions.
func appliesTo(patterns ...string) *[]any {
	out := make([]any, len(patterns))
	for i, p := range patterns {
		out[i] = &cdknag.RegexAppliesTo{Regex: jsii.String(p)}
	}
	return &out
}

// suppressPipeline records, with reasons, the cdk-nag findings on the roles
// CDK Pipelines makes (after BuildPipeline: its constructs exist only then)
// and on the steps' own statements.
func suppressPipeline(stack awscdk.Stack) {
	re := appliesTo
	cdknag.NagSuppressions_AddStackSuppressions(stack, &[]*cdknag.NagPackSuppression{
		{
			Id: jsii.String("AwsSolutions-IAM5"),
			AppliesTo: re(`/^Action::s3:(Abort|DeleteObject|GetBucket|GetObject|List)\*$/`, `/^Action::kms:(GenerateDataKey|ReEncrypt)\*$/`,
				`/^Resource::<Artifacts[0-9A-F]+\.Arn>\/\*$/`),
			Reason: jsii.String("CDK Pipelines grants its roles read and write on the pipeline's own artifact bucket and its key only (objects under the bucket's ARN)"),
		},
		{
			Id:        jsii.String("AwsSolutions-IAM5"),
			AppliesTo: re(`/^Resource::arn:.+:logs:.+:log-group:\/aws\/codebuild\/.*$/`, `/^Resource::arn:.+:codebuild:.+:report-group\/.*$/`),
			Reason:    jsii.String("CodeBuild writes each project's logs and test reports under names it derives from the project: CDK Pipelines grants exactly those prefixes"),
		},
		{
			Id:        jsii.String("AwsSolutions-IAM5"),
			AppliesTo: re(`/^Resource::arn:\*:iam::[0-9]+:role\/\*$/`),
			Reason:    jsii.String("the self-mutation step assumes the cdk bootstrap roles of the target account (CDK Pipelines limits it with an iam:ResourceTag/aws-cdk:bootstrap-role condition)"),
		},
		{
			Id:        jsii.String("AwsSolutions-IAM5"),
			AppliesTo: re(`/^Resource::\*$/`),
			Reason:    jsii.String("ecr:GetAuthorizationToken (image steps) and CDK Pipelines' cloudformation:DescribeStacks/sts calls have no resource-level permissions"),
		},
		{
			Id:        jsii.String("AwsSolutions-IAM5"),
			AppliesTo: re(`/^Resource::arn:.+:cloudformation:.+:stack\/.+-Regional\/\*$/`),
			Reason:    jsii.String("a stack's ARN ends with its generated id: this names exactly the regional stack, whose outputs the steps read"),
		},
		{
			Id:        jsii.String("AwsSolutions-IAM5"),
			AppliesTo: re(`/^Resource::arn:.+:ecr:.+:repository\/\*$/`),
			Reason:    jsii.String("the regional repository's name is generated: pushing is limited to the repository tagged as the regional stack's (aws:ResourceTag condition)"),
		},
	}, jsii.Bool(false))
	// Privileged mode is accepted exactly where Docker runs, project by
	// project: a privileged project anywhere else stays a finding.
	for _, c := range *stack.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		project, ok := c.(awscodebuild.CfnProject)
		if !ok {
			continue
		}
		path := *project.Node().Path()
		if !strings.Contains(path, "/MultiArchImage/") && !strings.Contains(path, "/Assets/DockerAsset") {
			continue
		}
		cdknag.NagSuppressions_AddResourceSuppressions(project, &[]*cdknag.NagPackSuppression{{
			Id:     jsii.String("AwsSolutions-CB3"),
			Reason: jsii.String("privileged mode only where Docker runs: the multi-arch image step and CDK Pipelines' Docker asset publishing"),
		}}, jsii.Bool(false))
	}
}

// crossAccountKeys is CDK Pipelines' setting: set only for cells in other
// accounts (the pipeline's KMS-encrypted artifacts are then readable by
// their deployment roles); unset, the template stays as it was.
func crossAccountKeys(on bool) *bool {
	if !on {
		return nil
	}
	return jsii.Bool(true)
}

// useChangeSets is CDK Pipelines' setting: with cells or rings each stack
// deploys in one action (CREATE_UPDATE) instead of a change set's two, so
// that a fleet of 600 sites fits CloudFormation's template size in one
// pipeline (docs/pipeline.md: the review report is where a change is
// read); unset without, and the template stays as it was.
func useChangeSets(ringed bool) *bool {
	if !ringed {
		return nil
	}
	return jsii.Bool(false)
}
