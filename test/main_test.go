// Package test synthesizes the app once and checks every template: golden
// snapshots, assertions on the properties users rely on, cdk-nag, cfn-lint and
// cfn-guard with the Control Tower proactive rules.
package test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/config"
	"github.com/ecs-anywhere-stretched/stretched/internal/synthenv"
	"github.com/ecs-anywhere-stretched/stretched/stacks"
)

var update = flag.Bool("update", false, "rewrite the golden templates in testdata/")

// synthesized is one stack of the test app after synthesis.
type synthesized struct {
	name     string
	file     string         // the template file in the cloud assembly
	template map[string]any // the parsed template
	messages []*cxapi.SynthesisMessage
	// account and region of the stack's environment (unknown-account,
	// unknown-region when not pinned).
	account, region string
}

var (
	// defaults are the stacks of the default configuration (golden-tested).
	defaults = map[string]*synthesized{}
	// variant are the stacks of a non-default configuration: an image tag, a
	// NAT gateway, two sites, a permissions boundary.
	variant = map[string]*synthesized{}
	// pinned are the stacks of a configuration with an account and region
	// and three sites, each with its own queue (pinnedSites): the
	// isolation tests try each site's identities against the others.
	pinned = map[string]*synthesized{}
	// pipes are the pipeline stacks: one with a connection source and the
	// approval before the sites, one from CodeCommit without it.
	pipes = map[string]*synthesized{}
	// cells are the stacks of a configuration of three cells in two
	// accounts and two regions (cellsContext).
	cells = map[string]*synthesized{}
	// cellsApp are the cells' stacks, by cell.
	cellsApp []stacks.CellApp
	// ringPipe is the pipeline of cells in rings (ringContext); ringed are
	// the stacks its cells' stages deploy.
	ringPipe *stacks.Pipeline
	ringed   = map[string]*synthesized{}
	// pipeApp is the stage the first pipeline deploys.
	pipeApp *stacks.Pipeline
	// missing lists the context lookups synthesis could not answer offline.
	missing []string
	// every stack, in synthesis order.
	all []*synthesized
	// the apps' stacks, for assertions on construct values.
	defaultApp, variantApp *stacks.App
	synthErr               error
	// assemblyDir is the test app's cloud assembly.
	assemblyDir string
)

const (
	variantPrefix = "Variant"
	pinnedPrefix  = "Pinned"
	pipePrefix    = "Pipe"
	commitPrefix  = "Commit"
	starPrefix    = "Star"
	cellsPrefix   = "Cells"
	ringPrefix    = "Ring"
	// The connection ARN forms: codeconnections (the console's since July
	// 2024) and codestar-connections (older connections).
	testConnArn     = "arn:aws:codeconnections:eu-west-1:123456789012:connection/0f0e0d0c-0b0a-0908-0706-050403020100"
	testStarConnArn = "arn:aws:codestar-connections:eu-west-1:123456789012:connection/0f0e0d0c-0b0a-0908-0706-050403020100"
)

// pipeContext is the pinned sample pipeline configuration.
var pipeContext = map[string]any{
	"stackPrefix": pipePrefix, "account": "123456789012", "region": "eu-west-1",
	"sites":            `[{"name":"factory"},{"name":"pi"}]`,
	"logRetentionDays": 731,
	"pipeline":         map[string]any{"connectionArn": testConnArn, "repository": "my-org/stretched", "branch": "release", "approveSites": true, "waveSize": 1},
}

// cellsContext is three cells: eu and us in one account, de in another;
// two sites in eu, one in each other cell.
var cellsContext = map[string]any{
	"stackPrefix": cellsPrefix,
	"cells": `[{"name":"eu","account":"111111111111","region":"eu-west-1"},
	           {"name":"us","account":"111111111111","region":"us-east-1"},
	           {"name":"de","account":"222222222222","region":"eu-central-1","nodeTier":"advanced"}]`,
	"sites": `[{"name":"lyon","cell":"eu"},{"name":"paris","cell":"eu","expectedNodes":4},{"name":"ohio","cell":"us"},{"name":"berlin","cell":"de"}]`,
}

// ringContext is a pipeline in account 123456789012, eu-west-1, that
// deploys three cells (one in its own account and region, one in another
// region, one in another account and region) in two rings: a canary site
// with a 30-minute bake, then the rest with the default bake.
var ringContext = map[string]any{
	"stackPrefix": ringPrefix, "account": "123456789012", "region": "eu-west-1",
	"cells": `[{"name":"eu","account":"123456789012","region":"eu-west-1"},
	           {"name":"us","account":"123456789012","region":"us-east-1","approve":true},
	           {"name":"de","account":"444455556666","region":"eu-central-1"}]`,
	"sites":    `[{"name":"lyon","cell":"eu"},{"name":"ohio","cell":"us"},{"name":"berlin","cell":"de"},{"name":"nice","cell":"eu"}]`,
	"pipeline": `{"codeCommitRepository":"stretched","approveSites":true,"rings":[{"name":"canary","sites":1,"bakeMinutes":30},{"name":"rest"}]}`,
}

// pinnedSites are the pinned configuration's sites: three, work routed to
// each site's own queue.
const pinnedSites = `[{"name":"onprem"},{"name":"lab"},{"name":"store"}]`

// ownInstanceRoles are the sites of the test configurations that bring
// their own instance role, by stack.
var ownInstanceRoles = map[string]string{"Variant-Anywhere-factory": "arn:aws:iam::123456789012:role/factoryNodes"}

// variantBoundary bounds every role of the variant's stacks but site pi's,
// which names its own.
const variantBoundary = "arn:aws:iam::123456789012:policy/org-boundary"

const variantKey = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

var variantContext = map[string]any{
	"imageTag":            "v1.2.3",
	"natGateways":         1,
	"maxReceiveCount":     "3",
	"logRetentionDays":    731,
	"regionalScaling":     "burst",
	"work":                "shared",
	"maxTasks":            6,
	"alarmEmail":          "ops@example.com",
	"permissionsBoundary": variantBoundary,
	"workerSecrets": map[string]any{
		"API_URL":     map[string]any{"parameter": "/app/api-url"},
		"DB_PASSWORD": map[string]any{"parameter": "arn:aws:ssm:eu-west-1:123456789012:parameter/app/db", "kmsKeyArn": variantKey},
		"API_TOKEN":   map[string]any{"secretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/token-AbCdEf", "jsonKey": "token", "kmsKeyArn": variantKey},
	},
	"sites": `[{"name":"factory","minTasks":2,"maxTasks":5,"patching":"install","patchSchedule":"cron(0 2 ? * SAT *)","registrationLimit":25,"activationExpiryDays":30,"activationRenewDays":5,"activationRenewSchedule":"rate(12 hours)","instanceRoleArn":"arn:aws:iam::123456789012:role/factoryNodes","ecsAgentUpdateSchedule":"cron(0 4 ? * MON *)"},
	           {"name":"pi","clusterName":"piCluster","permissionsBoundary":"arn:aws:iam::123456789012:policy/boundary","activationRenewDays":0,"keepNodesOnDestroy":true,"patching":"off","containerInsights":true}]`,
}

func TestMain(m *testing.M) {
	flag.Parse()
	synthenv.SkipBuiltInValidation() // as `cdk synth` does; cfn-lint and cfn-guard run below
	code := func() int {
		defer jsii.Close()
		var out string
		out, synthErr = synth()
		assemblyDir = out
		if out != "" && os.Getenv("KEEP_CDK_OUT") == "" {
			defer os.RemoveAll(out)
		}
		return m.Run()
	}()
	os.Exit(code)
}

// cdkJSONContext is the context of cdk.json, so tests use the same feature
// flags as `cdk synth`.
func cdkJSONContext() (map[string]any, error) {
	raw, err := os.ReadFile("../cdk.json")
	if err != nil {
		return nil, fmt.Errorf("read cdk.json: %w", err)
	}
	var doc struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parse cdk.json: %w", err)
	}
	return doc.Context, nil
}

// synth builds both configurations into one app, synthesizes it once into a
// temporary cloud assembly and returns that folder.
func synth() (string, error) {
	ctx, err := cdkJSONContext()
	if err != nil {
		return "", err
	}
	// Keep annotations (cdk-nag's findings among them) in the cloud assembly
	// where TestCdkNag reads and reports them, instead of failing synthesis as
	// `cdk synth` does.
	ctx["@aws-cdk/core:annotationsInValidationReport"] = false
	out, err := os.MkdirTemp("", "cdk-test-*")
	if err != nil {
		return "", fmt.Errorf("temp dir: %w", err)
	}
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(out)})

	dcfg, err := config.Load(func(string) any { return nil }, nil)
	if err != nil {
		return out, fmt.Errorf("default config: %w", err)
	}
	if defaultApp, err = stacks.Build(app, dcfg); err != nil {
		return out, fmt.Errorf("build default stacks: %w", err)
	}
	vctx := map[string]any{"stackPrefix": variantPrefix}
	for k, v := range variantContext {
		vctx[k] = v
	}
	vcfg, err := config.Load(func(k string) any { return vctx[k] }, nil)
	if err != nil {
		return out, fmt.Errorf("variant config: %w", err)
	}
	if variantApp, err = stacks.Build(app, vcfg); err != nil {
		return out, fmt.Errorf("build variant stacks: %w", err)
	}
	pctx := map[string]any{"stackPrefix": pinnedPrefix, "account": "123456789012", "region": "eu-west-1", "sites": pinnedSites}
	pcfg, err := config.Load(func(k string) any { return pctx[k] }, nil)
	if err != nil {
		return out, fmt.Errorf("pinned config: %w", err)
	}
	if _, err = stacks.Build(app, pcfg); err != nil {
		return out, fmt.Errorf("build pinned stacks: %w", err)
	}
	qcfg, err := config.Load(func(k string) any { return pipeContext[k] }, nil)
	if err != nil {
		return out, fmt.Errorf("pipeline config: %w", err)
	}
	if pipeApp, err = stacks.BuildPipeline(app, qcfg); err != nil {
		return out, fmt.Errorf("build pipeline: %w", err)
	}
	cctx := map[string]any{"stackPrefix": commitPrefix, "account": "123456789012", "region": "eu-west-1", "pipeline": `{"codeCommitRepository": "stretched"}`}
	ccfg, err := config.Load(func(k string) any { return cctx[k] }, nil)
	if err != nil {
		return out, fmt.Errorf("codecommit pipeline config: %w", err)
	}
	if _, err = stacks.BuildPipeline(app, ccfg); err != nil {
		return out, fmt.Errorf("build codecommit pipeline: %w", err)
	}
	sctx := map[string]any{"stackPrefix": starPrefix, "account": "123456789012", "region": "eu-west-1",
		"pipeline": map[string]any{"connectionArn": testStarConnArn, "repository": "my-org/stretched"}}
	scfg, err := config.Load(func(k string) any { return sctx[k] }, nil)
	if err != nil {
		return out, fmt.Errorf("codestar-connections pipeline config: %w", err)
	}
	if _, err = stacks.BuildPipeline(app, scfg); err != nil {
		return out, fmt.Errorf("build codestar-connections pipeline: %w", err)
	}
	ecfg, err := config.Load(func(k string) any { return cellsContext[k] }, nil)
	if err != nil {
		return out, fmt.Errorf("cells config: %w", err)
	}
	if cellsApp, err = stacks.BuildCells(app, ecfg); err != nil {
		return out, fmt.Errorf("build cells: %w", err)
	}
	rcfg, err := config.Load(func(k string) any { return ringContext[k] }, nil)
	if err != nil {
		return out, fmt.Errorf("ring pipeline config: %w", err)
	}
	if ringPipe, err = stacks.BuildPipeline(app, rcfg); err != nil {
		return out, fmt.Errorf("build ring pipeline: %w", err)
	}
	stacks.Check(app)

	asm := app.Synth(nil)
	// The ring pipeline's cells' stacks, from their stages' assemblies.
	var nested []cxapi.CloudFormationStackArtifact
	for _, na := range *asm.NestedAssemblies() {
		if strings.HasPrefix(*na.DirectoryName(), "assembly-"+ringPrefix+"-") {
			nested = append(nested, *na.NestedAssembly().Stacks()...)
		}
	}
	for _, st := range append(*asm.Stacks(), nested...) {
		s := &synthesized{name: *st.StackName(), file: *st.TemplateFullPath(), account: *st.Environment().Account, region: *st.Environment().Region}
		raw, err := os.ReadFile(s.file)
		if err != nil {
			return out, fmt.Errorf("read template of %s: %w", s.name, err)
		}
		if err := json.Unmarshal(raw, &s.template); err != nil {
			return out, fmt.Errorf("parse template of %s: %w", s.name, err)
		}
		if msgs := st.Messages(); msgs != nil {
			s.messages = *msgs
		}
		all = append(all, s)
		switch base := filepath.Base(s.file); {
		case strings.HasPrefix(base, variantPrefix):
			variant[s.name] = s
		case strings.HasPrefix(base, pinnedPrefix):
			pinned[s.name] = s
		case strings.HasPrefix(base, pipePrefix), strings.HasPrefix(base, commitPrefix), strings.HasPrefix(base, starPrefix):
			pipes[s.name] = s
		case strings.HasPrefix(base, cellsPrefix):
			cells[s.name] = s
		case strings.HasPrefix(base, ringPrefix), strings.HasPrefix(base, "cross-region-stack-"):
			ringed[s.name] = s
		default:
			defaults[s.name] = s
		}
	}
	if m := asm.Manifest().Missing; m != nil {
		for _, mc := range *m {
			missing = append(missing, *mc.Key)
		}
	}
	return out, nil
}

// requireSynth stops a test when synthesis itself failed.
func requireSynth(t *testing.T) {
	t.Helper()
	if synthErr != nil {
		t.Fatalf("synthesis failed: %v", synthErr)
	}
	if len(defaults) != 2 || len(variant) != 3 || len(pinned) != 4 || len(pipes) != 3 || len(cells) != 7 || len(ringed) != 10 {
		t.Fatalf("want 2 default, 3 variant, 4 pinned, 3 pipeline, 7 cells' and 10 ring pipeline stacks, got %d, %d, %d, %d, %d and %d", len(defaults), len(variant), len(pinned), len(pipes), len(cells), len(ringed))
	}
}
