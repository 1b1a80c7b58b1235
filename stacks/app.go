package stacks

import (
	"fmt"
	"path/filepath"
	"runtime"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ecs-anywhere-stretched/stretched/config"
	"github.com/ecs-anywhere-stretched/stretched/constructs/queuescaling"
	"github.com/ecs-anywhere-stretched/stretched/constructs/workerspec"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// App is every stack of the app.
type App struct {
	Regional *Regional
	Sites    []*Anywhere
}

// RegionalStackName and AnywhereStackName are the stack ids; they are API:
// changing one makes a new stack.
func RegionalStackName(cfg config.Config) string {
	return stackscontract.RegionalStack(cfg.StackPrefix)
}

// AnywhereStackName is the stack id of one site.
func AnywhereStackName(cfg config.Config, site config.Site) string {
	return stackscontract.AnywhereStack(cfg.StackPrefix, site.Name)
}

// RepoRoot is the repository root, found from this file's location; the
// worker image is built from it.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..")
}

// Build makes every stack of cfg in scope: the app, or a pipeline's Stage
// (CDK Pipelines deploys a Stage per environment).
func Build(scope constructs.Construct, cfg config.Config) (*App, error) {
	return build(scope, cfg, nil)
}

// build is Build, with the cell's gate when a pipeline deploys it in
// rings.
func build(scope constructs.Construct, cfg config.Config, gate *GateProps) (*App, error) {
	props := &awscdk.StackProps{Env: env(cfg)}
	rp := regionalProps(cfg, named(withDescription(props, "ECS worker, in region: queue, registry, logs, EFS, Fargate worker"), RegionalStackName(cfg)))
	rp.Gate = gate
	regional, err := NewRegional(scope, RegionalStackName(cfg), rp)
	if err != nil {
		return nil, err
	}
	out := &App{Regional: regional}
	for _, site := range cfg.Sites {
		a, err := NewAnywhere(scope, AnywhereStackName(cfg, site), &AnywhereStackProps{
			StackProps: *named(withDescription(props, fmt.Sprintf("ECS worker, on premises at site %s: external cluster, activation, EXTERNAL worker", site.Name)), AnywhereStackName(cfg, site)),
			Regional:   regional, Site: site,
		})
		if err != nil {
			return nil, err
		}
		suppressAnywhere(a, site)
		out.Sites = append(out.Sites, a)
	}
	return out, nil
}

// regionalProps are the regional stack's props from the configuration: the
// one place the stack's settings come from it.
func regionalProps(cfg config.Config, stack *awscdk.StackProps) *RegionalStackProps {
	p := &RegionalStackProps{
		StackProps:             *stack,
		Image:                  workerspec.ImageSource{Tag: cfg.ImageTag, URI: cfg.ImageURI, RepoRoot: RepoRoot()},
		Routed:                 cfg.Work == config.WorkRouted,
		EntryTopics:            cfg.EntryTopics,
		MaxReceiveCount:        cfg.MaxReceiveCount,
		VisibilityTimeout:      awscdk.Duration_Seconds(jsii.Number(float64(cfg.VisibilityTimeoutSeconds))),
		LogRetentionDays:       cfg.LogRetentionDays,
		NatGateways:            cfg.NatGateways,
		MinTasks:               cfg.MinTasks,
		MaxTasks:               cfg.MaxTasks,
		ScaleOn:                queuescaling.Depth,
		BurstAgeSeconds:        cfg.BurstAgeSeconds,
		AlarmEmail:             cfg.AlarmEmail,
		AlarmMessageAgeSeconds: cfg.AlarmMessageAgeSeconds,
		EcrMaxImages:           cfg.EcrMaxImages,
		WorkerSecrets:          cfg.WorkerSecrets,
		DashboardName:          cfg.StackPrefix,
		Fleet:                  cfg.StackPrefix,
		PermissionsBoundary:    cfg.PermissionsBoundary,
	}
	if cfg.RegionalScaling == config.ScalingBurst {
		p.ScaleOn = queuescaling.Burst
	}
	for _, s := range cfg.Sites {
		p.SiteNames = append(p.SiteNames, s.Name)
		if s.InstanceRoleArn != "" {
			p.OwnInstanceRoles = append(p.OwnInstanceRoles, s.InstanceRoleArn)
		}
	}
	return p
}

// Check applies cdk-nag's AwsSolutions checks to every stack in scope; their
// errors fail `cdk synth`.
func Check(scope constructs.Construct) {
	awscdk.Aspects_Of(scope).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
}

// named sets the CloudFormation stack name to the stack id, so a stack has
// the same name deployed directly and from a pipeline's stage (whose stacks
// would otherwise be named <stage>-<id>).
func named(p *awscdk.StackProps, name string) *awscdk.StackProps {
	c := *p
	c.StackName = jsii.String(name)
	return &c
}

func withDescription(p *awscdk.StackProps, d string) *awscdk.StackProps {
	c := *p
	c.Description = jsii.String(d)
	return &c
}

// env pins only the fields the user gave: an empty account would make every
// cross-stack reference look cross-account.
func env(cfg config.Config) *awscdk.Environment {
	if cfg.Account == "" && cfg.Region == "" {
		return nil
	}
	e := &awscdk.Environment{}
	if cfg.Account != "" {
		e.Account = jsii.String(cfg.Account)
	}
	if cfg.Region != "" {
		e.Region = jsii.String(cfg.Region)
	}
	return e
}

// LoadConfig reads and validates the configuration from the app's context.
func LoadConfig(app awscdk.App) (config.Config, error) {
	var keys []string
	if all, ok := app.Node().GetAllContext(nil).(map[string]any); ok {
		for k := range all {
			keys = append(keys, k)
		}
	}
	return config.Load(func(k string) any { return app.Node().TryGetContext(jsii.String(k)) }, keys)
}
