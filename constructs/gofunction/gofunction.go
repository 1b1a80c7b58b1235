// Package gofunction is "a Go Lambda of this project": one handler of the
// project's single Lambda binary (package lambda, every handler in it,
// chosen by the function's Handler setting), built for arm64
// (provided.al2023) with the local go toolchain once per synth, and only
// when its sources changed: the asset's hash is the hash of its sources
// (bundle.go), so it is the same on every machine and checkout of a commit
// with the same Go version. Each function gets a KMS-encrypted log group
// and a role that may write only to that log group. The activation, its
// renewer, the node deregistration, the task count and the site agent use
// it.
//
// It needs no cdk-nag suppression of its own: no managed policy, no wildcard
// in the log statement. Each caller suppresses, with its reason, only the
// findings its own statements cause, next to them.
package gofunction

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/constructs/encryption"
)

// Props configure the function.
type Props struct {
	// Handler is the handler of the Lambda binary this function runs: a
	// feature's contract.Handler, such as "activation" (the binary's test
	// checks that it answers every Handler the synthesized templates name).
	// Required.
	Handler string
	// Description of the function. Required.
	Description string
	// Key encrypts the log group and the environment. Default: a new key of
	// the function's own (construct id <id>Key).
	Key awskms.IKey
	// LogRetention of the log group. Default: one year.
	LogRetention awslogs.RetentionDays
	// Timeout of one invocation. Default: 5 minutes. Allowed: 1 s to 15 min.
	Timeout awscdk.Duration
	// MemoryMiB of the function. Default: 128. Allowed: 128..10240.
	MemoryMiB int
	// TextLogs passes stdout to the log group as it is (the embedded metric
	// format needs the JSON object to be the whole log event). Default:
	// false, JSON log format (the functions log JSON with log/slog anyway).
	TextLogs bool
	// Environment variables; never secrets. Default: none.
	Environment map[string]*string
	// RepoRoot is the folder with go.mod. Default: this repository, found
	// from this file's location.
	RepoRoot string
}

// Function is the Lambda, its role and its log group. Its construct is the
// function itself, under the id the caller gives; its key, log group and
// role are beside it in the caller's scope as id+"Key", id+"Logs" and
// id+"Role", the ids the first fleet-wide functions were deployed with
// (construct ids are API: a scope of the function's own would replace the
// function, and CloudFormation refuses a custom resource whose
// ServiceToken changes).
type Function struct {
	constructs.Construct
	function awslambda.Function
	role     awsiam.Role
	logs     awslogs.LogGroup
}

// withDefaults returns the props with every default applied.
func (p Props) withDefaults() Props {
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_ONE_YEAR
	}
	if p.Timeout == nil {
		p.Timeout = awscdk.Duration_Minutes(jsii.Number(5))
	}
	if p.MemoryMiB == 0 {
		p.MemoryMiB = 128
	}
	if p.RepoRoot == "" {
		if _, file, _, ok := runtime.Caller(0); ok {
			p.RepoRoot = filepath.Join(filepath.Dir(file), "..", "..")
		}
	}
	return p
}

// handlerName is what a handler's name looks like: the feature's name.
var handlerName = regexp.MustCompile(`^[a-z][a-z0-9]*$`)

func (p Props) validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("gofunction: "+format, args...)) }
	if p.Description == "" {
		add("Description is empty: say what the function does")
	}
	if !handlerName.MatchString(p.Handler) {
		add("Handler is %q: must be a feature's handler name (lowercase letters and digits), its contract.Handler, such as \"activation\"", p.Handler)
	}
	if _, err := os.Stat(filepath.Join(p.RepoRoot, "go.mod")); err != nil {
		add("RepoRoot %q has no go.mod: give the folder of this repository", p.RepoRoot)
	}
	if s := *p.Timeout.ToSeconds(nil); s < 1 || s > 900 {
		add("Timeout is %v seconds: must be from 1 to 900", s)
	}
	if p.MemoryMiB < 128 || p.MemoryMiB > 10240 {
		add("MemoryMiB is %d: must be from 128 to 10240", p.MemoryMiB)
	}
	return errors.Join(errs...)
}

// New adds the function to scope as id, with its role <id>Role and log group
// <id>Logs beside it (not below it: the activation's function kept its
// construct ids, and a custom resource's ServiceToken can never change).
func New(scope constructs.Construct, id string, props Props) (*Function, error) {
	p := props.withDefaults()
	if err := p.validate(); err != nil {
		return nil, err
	}
	key := p.Key
	if key == nil {
		k, err := encryption.New(scope, id+"Key", encryption.Props{Description: p.Description + ": its logs", RemovalPolicy: awscdk.RemovalPolicy_DESTROY})
		if err != nil {
			return nil, err
		}
		key = k.Key()
	}
	logs := awslogs.NewLogGroup(scope, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention:     p.LogRetention,
		EncryptionKey: key,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	role := awsiam.NewRole(scope, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String(p.Description),
	})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: jsii.Strings(*logs.LogGroupArn()),
	}))
	bin, err := bundleOf(p.RepoRoot)
	if err != nil {
		return nil, err
	}
	fnProps := &awslambda.FunctionProps{
		Code: awslambda.Code_FromAsset(jsii.String(bin.dir), &awss3assets.AssetOptions{
			AssetHash:     jsii.String(bin.hash),
			AssetHashType: awscdk.AssetHashType_CUSTOM,
		}),
		Handler:       jsii.String(p.Handler),
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Description:   jsii.String(p.Description),
		Timeout:       p.Timeout,
		MemorySize:    jsii.Number(float64(p.MemoryMiB)),
		Role:          role,
		LogGroup:      logs,
		LoggingFormat: awslambda.LoggingFormat_JSON,
	}
	if p.TextLogs {
		fnProps.LoggingFormat = awslambda.LoggingFormat_TEXT
	}
	if len(p.Environment) > 0 {
		fnProps.Environment = &p.Environment
		fnProps.EnvironmentEncryption = key
	}
	fn := awslambda.NewFunction(scope, jsii.String(id), fnProps)
	return &Function{Construct: fn, function: fn, role: role, logs: logs}, nil
}

// Function is the Lambda function.
func (f *Function) Function() awslambda.Function { return f.function }

// Role is the function's role; add the statements it needs with AddToPrincipalPolicy.
func (f *Function) Role() awsiam.Role { return f.role }

// LogGroup is the function's log group.
func (f *Function) LogGroup() awslogs.LogGroup { return f.logs }

// answeredID is the construct id of a fleet-answered custom resource. The
// first version's site custom resources were "Resource", answered by the
// site's own functions; CloudFormation refuses to change a custom
// resource's ServiceToken, so the fleet-answered ones have an id of their
// own (the upgrade retains the old ones: package upgrade). Changing it
// replaces every site's custom resources.
const answeredID = "Fleet"

// AnsweredBy makes the custom resource answeredID in scope, of
// resourceType with properties, that function answers: a function of
// another stack (the regional stack's fleet-wide functions answer every
// site's custom resources; that stack is deployed first and deleted last,
// so the function's permissions outlive the resource).
func AnsweredBy(scope constructs.Construct, function awslambda.IFunction, resourceType string, properties map[string]any) awscdk.CustomResource {
	return awscdk.NewCustomResource(scope, jsii.String(answeredID), &awscdk.CustomResourceProps{
		ServiceToken: function.FunctionArn(),
		ResourceType: jsii.String(resourceType),
		Properties:   &properties,
	})
}
