// Package activation is an SSM hybrid activation made by a custom resource
// whose Lambda is written in Go (lambda/activation). The activation code is a
// secret: the Lambda writes it into a KMS-encrypted Secrets Manager secret and
// it never appears in a template, output, log line or response.
package activation

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdklambdagoalpha/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ecs-anywhere-stretched/stretched/constructs/encryption"
)

// ResourceType of the custom resource.
const ResourceType = "Custom::SsmActivation"

// Limits SSM puts on an activation.
const (
	MaxRegistrationLimit = 1000
	MaxExpiryDays        = 30
)

// Props configure the activation.
type Props struct {
	// InstanceRole is the role SSM gives the nodes that join; it must trust
	// ssm.amazonaws.com. Required.
	InstanceRole awsiam.IRole
	// RegistrationLimit is how many nodes may join with this activation.
	// Default: 10 (as in the reference). Allowed: 1..1000.
	RegistrationLimit int
	// ExpiryDays is how long the activation accepts new nodes; nodes that joined
	// stay registered after it. Default: 7. Allowed: 1..30.
	ExpiryDays int
	// DefaultInstanceName is the name SSM gives joined nodes. Default: none
	// (SSM shows the host name). Allowed: 1..256 of letters, digits, '.', '-', '_'.
	DefaultInstanceName string
	// Description of the activation. Default: none. Allowed: at most 256 characters.
	Description string
	// Tags of the activation (and so of the nodes that join). Default: none.
	// Allowed: at most 50; keys 1..128 and values 0..256 characters, keys not
	// starting with "aws:".
	Tags map[string]string
	// Serial is part of the activation's properties: changing it makes a new
	// activation with the same settings (for one that expired or is full).
	// Default: 1. Allowed: 1..1000000.
	Serial int
	// LogRetention of the Lambda's log group. Default: one year.
	LogRetention awslogs.RetentionDays
	// HandlerDir is the Go package of the Lambda. Default: lambda/activation of
	// this repository, found from this file's location.
	HandlerDir string
}

// Activation is the activation and the secret that holds its code.
type Activation struct {
	constructs.Construct
	resource   awscdk.CustomResource
	secret     awssecretsmanager.Secret
	function   awslambda.IFunction
	joinPolicy awsiam.ManagedPolicy
}

func (p *Props) validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("activation: "+format, args...)) }
	if p.InstanceRole == nil {
		add("InstanceRole is nil: pass the role the nodes assume (trusted by ssm.amazonaws.com)")
	}
	if p.RegistrationLimit == 0 {
		p.RegistrationLimit = 10
	}
	if p.RegistrationLimit < 1 || p.RegistrationLimit > MaxRegistrationLimit {
		add("RegistrationLimit is %d: must be from 1 to %d", p.RegistrationLimit, MaxRegistrationLimit)
	}
	if p.ExpiryDays == 0 {
		p.ExpiryDays = 7
	}
	if p.ExpiryDays < 1 || p.ExpiryDays > MaxExpiryDays {
		add("ExpiryDays is %d: must be from 1 to %d (SSM's maximum)", p.ExpiryDays, MaxExpiryDays)
	}
	if n := p.DefaultInstanceName; n != "" && (len(n) > 256 || strings.Trim(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != "") {
		add("DefaultInstanceName is %q: must be 1 to 256 letters, digits, '.', '-' or '_'", n)
	}
	if len(p.Description) > 256 {
		add("Description is %d characters long: must be at most 256", len(p.Description))
	}
	if len(p.Tags) > 50 {
		add("Tags has %d entries: must be at most 50", len(p.Tags))
	}
	for _, k := range sortedKeys(p.Tags) {
		if len(k) < 1 || len(k) > 128 || strings.HasPrefix(strings.ToLower(k), "aws:") {
			add("tag key %q: must be 1 to 128 characters and not start with \"aws:\"", k)
		}
		if len(p.Tags[k]) > 256 {
			add("tag %q has a value of %d characters: must be at most 256", k, len(p.Tags[k]))
		}
	}
	if p.Serial == 0 {
		p.Serial = 1
	}
	if p.Serial < 1 || p.Serial > 1000000 {
		add("Serial is %d: must be from 1 to 1000000", p.Serial)
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_ONE_YEAR
	}
	if p.HandlerDir == "" {
		_, file, _, ok := runtime.Caller(0)
		if !ok {
			add("HandlerDir is empty and this package's source location is unknown: set HandlerDir to the lambda/activation folder")
		}
		p.HandlerDir = filepath.Join(filepath.Dir(file), "..", "..", "lambda", "activation")
	}
	return errors.Join(errs...)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// New makes the secret, the Lambda and the activation.
func New(scope constructs.Construct, id string, props Props) (*Activation, error) {
	if err := props.validate(); err != nil {
		return nil, err
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(c)

	key := encryption.NewKey(c, "Key", "ssm activation code and its handler's logs", awscdk.RemovalPolicy_DESTROY)
	secret := awssecretsmanager.NewSecret(c, jsii.String("Code"), &awssecretsmanager.SecretProps{
		Description:   jsii.String("ssm activation code of the ECS Anywhere nodes (written by the activation custom resource)"),
		EncryptionKey: key,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})

	logGroup := awslogs.NewLogGroup(c, jsii.String("HandlerLogs"), &awslogs.LogGroupProps{
		Retention:     props.LogRetention,
		EncryptionKey: key,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	role := awsiam.NewRole(c, jsii.String("HandlerRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("ssm activation custom resource: create and delete the activation, write its code"),
	})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: jsii.Strings(*logGroup.LogGroupArn()),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("Activations"),
		Actions:   jsii.Strings("ssm:CreateActivation", "ssm:DeleteActivation", "ssm:DescribeActivations", "ssm:AddTagsToResource"),
		Resources: jsii.Strings("*"),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("PassInstanceRole"),
		Actions:    jsii.Strings("iam:PassRole"),
		Resources:  jsii.Strings(*props.InstanceRole.RoleArn()),
		Conditions: &map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "ssm.amazonaws.com"}},
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("WriteCode"),
		Actions:   jsii.Strings("secretsmanager:PutSecretValue"),
		Resources: jsii.Strings(*secret.SecretArn()),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("kms:GenerateDataKey", "kms:Encrypt"),
		Resources:  jsii.Strings(*key.KeyArn()),
		Conditions: &map[string]any{"StringEquals": map[string]any{"kms:ViaService": fmt.Sprintf("secretsmanager.%s.amazonaws.com", *stack.Region())}},
	}))

	fn := awscdklambdagoalpha.NewGoFunction(c, jsii.String("Handler"), &awscdklambdagoalpha.GoFunctionProps{
		Entry:         jsii.String(props.HandlerDir),
		ModuleDir:     jsii.String(filepath.Join(props.HandlerDir, "..", "..", "go.mod")),
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Description:   jsii.String("creates, replaces and deletes the ssm activation of ECS Anywhere nodes"),
		Timeout:       awscdk.Duration_Minutes(jsii.Number(5)),
		MemorySize:    jsii.Number(128),
		Role:          role,
		LogGroup:      logGroup,
		LoggingFormat: awslambda.LoggingFormat_JSON,
		Bundling: &awscdklambdagoalpha.BundlingOptions{
			CgoEnabled:   jsii.Bool(false),
			GoBuildFlags: jsii.Strings("-trimpath", "-buildvcs=false", `-ldflags="-s -w -buildid="`),
		},
	})

	tags := make([]map[string]string, 0, len(props.Tags))
	for _, k := range sortedKeys(props.Tags) {
		tags = append(tags, map[string]string{"Key": k, "Value": props.Tags[k]})
	}
	properties := map[string]any{
		"IamRole":           props.InstanceRole.RoleName(),
		"RegistrationLimit": fmt.Sprint(props.RegistrationLimit),
		"ExpiryDays":        fmt.Sprint(props.ExpiryDays),
		"SecretArn":         secret.SecretArn(),
		"Serial":            fmt.Sprint(props.Serial),
	}
	if props.DefaultInstanceName != "" {
		properties["DefaultInstanceName"] = props.DefaultInstanceName
	}
	if props.Description != "" {
		properties["Description"] = props.Description
	}
	if len(tags) > 0 {
		properties["Tags"] = tags
	}
	resource := awscdk.NewCustomResource(c, jsii.String("Resource"), &awscdk.CustomResourceProps{
		ServiceToken: fn.FunctionArn(),
		ResourceType: jsii.String(ResourceType),
		Properties:   &properties,
	})
	// The handler's permissions must exist before CloudFormation asks it for
	// anything, and until it has deleted the activation.
	resource.Node().AddDependency(role.Node().TryFindChild(jsii.String("DefaultPolicy")))

	awscdk.Annotations_Of(c).AcknowledgeWarning(jsii.String("@aws-cdk/aws-lambda-go-alpha:goBuildFlagsSecurityWarning"),
		jsii.String("the build flags are constants of this construct, not user input"))
	cdknag.NagSuppressions_AddResourceSuppressions(secret, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SMG4"),
		Reason: jsii.String("the value is an SSM activation code that only SSM can issue: it changes by making a new activation (the custom resource does), not by a rotation Lambda"),
	}}, jsii.Bool(false))
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		AppliesTo: &[]any{jsii.String("Resource::*")},
		Reason:    jsii.String("ssm:CreateActivation, DeleteActivation, DescribeActivations and AddTagsToResource on activations have no resource-level permissions"),
	}}, jsii.Bool(true))
	viaSecretsManager := &map[string]any{"StringEquals": map[string]any{"kms:ViaService": fmt.Sprintf("secretsmanager.%s.amazonaws.com", *stack.Region())}}
	joinPolicy := awsiam.NewManagedPolicy(c, jsii.String("JoinPolicy"), &awsiam.ManagedPolicyProps{
		Description: jsii.String("read the ssm activation code to join ECS Anywhere nodes; attach to whoever runs the join command"),
		Statements: &[]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
				Resources: jsii.Strings(*secret.SecretArn()),
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:    jsii.Strings("kms:Decrypt"),
				Resources:  jsii.Strings(*key.KeyArn()),
				Conditions: viaSecretsManager,
			}),
		},
	})
	return &Activation{Construct: c, resource: resource, secret: secret, function: fn, joinPolicy: joinPolicy}, nil
}

// ActivationID is the id nodes join with (not a secret).
func (a *Activation) ActivationID() *string {
	return a.resource.GetAttString(jsii.String("ActivationId"))
}

// ExpirationDate of the activation, RFC 3339.
func (a *Activation) ExpirationDate() *string {
	return a.resource.GetAttString(jsii.String("ExpirationDate"))
}

// Secret holds the activation code; grant read to whoever joins nodes.
func (a *Activation) Secret() awssecretsmanager.ISecret { return a.secret }

// JoinPolicy may read the code; attach it to the people or roles that join nodes.
func (a *Activation) JoinPolicy() awsiam.IManagedPolicy { return a.joinPolicy }

// Function is the custom resource's Lambda.
func (a *Activation) Function() awslambda.IFunction { return a.function }
