// Package activation is a site's SSM hybrid activation, kept current by two
// Go Lambda handlers: the Custom::SsmActivation handler (lambda/activationcr)
// on every deploy, and the renewer (lambda/renewer) on a schedule, which
// replaces the activation before it expires or fills up. The site's Secrets
// Manager secret is the one record of the current activation (id, code,
// expiry); the code never appears in a template, output, log line or
// response.
package activation

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ecs-anywhere-stretched/stretched/constructs/encryption"
	"github.com/ecs-anywhere-stretched/stretched/constructs/gofunction"
	"github.com/ecs-anywhere-stretched/stretched/internal/limits"
	"github.com/ecs-anywhere-stretched/stretched/internal/names"
)

// Props configure the activation.
type Props struct {
	// InstanceRole is the role SSM gives the nodes that join; it must trust
	// ssm.amazonaws.com. Required.
	InstanceRole awsiam.IRole
	// RegistrationLimit is how many nodes may join with one activation.
	// Default: 10 (as in the reference). Allowed: 1..1000.
	RegistrationLimit int
	// ExpiryDays is how long an activation accepts new nodes; nodes that
	// joined stay registered after it. Default: 7. Allowed: 1..30.
	ExpiryDays int
	// RenewDays: the renewer replaces the activation when it expires within
	// this many days, or when it is full. Default (nil): 2. 0 turns renewal
	// off (no renewer is made). Allowed: 0 to ExpiryDays-1.
	RenewDays *int
	// RenewSchedule is when the renewer runs, as an EventBridge expression.
	// Default: rate(1 day). Allowed: rate(...) or cron(...).
	RenewSchedule string
	// DefaultInstanceName is the name SSM gives joined nodes. Default: none
	// (SSM shows the host name). Allowed: 1..256 of letters, digits, '.', '-', '_'.
	DefaultInstanceName string
	// Description of the activation. Default: none. Allowed: at most 256 characters.
	Description string
	// Tags of the activation (and so of the nodes that join). The tag
	// names.StackTagKey = the stack name is always added. Default: none.
	// Allowed: at most 49; keys 1..128 and values 0..256 characters, keys not
	// starting with "aws:".
	Tags map[string]string
	// Serial is part of the activation's properties: changing it makes a new
	// activation with the same settings at the next deploy.
	// Default: 1. Allowed: 1..1000000.
	Serial int
	// LogRetention of the Lambdas' log groups. Default: one year.
	LogRetention awslogs.RetentionDays
}

// Activation is the activation, the secret that records it and the
// functions that keep it.
type Activation struct {
	constructs.Construct
	resource     awscdk.CustomResource
	secret       awssecretsmanager.Secret
	key          awskms.IKey
	function     awslambda.IFunction
	renewer      awslambda.IFunction
	renewalAlarm awscloudwatch.Alarm
	joinPolicy   awsiam.ManagedPolicy
	stackTag     string
	// tagKeys are the keys of the tags every activation of the site carries.
	tagKeys []string
}

var (
	instanceNameRe = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	scheduleRe     = regexp.MustCompile(limits.RenewSchedulePattern)
)

// withDefaults returns the props with every default applied.
func (p Props) withDefaults() Props {
	if p.RegistrationLimit == 0 {
		p.RegistrationLimit = limits.DefaultRegistrationLimit
	}
	if p.ExpiryDays == 0 {
		p.ExpiryDays = limits.DefaultExpiryDays
	}
	if p.RenewDays == nil {
		d := limits.DefaultRenewDays
		p.RenewDays = &d
	}
	if p.RenewSchedule == "" {
		p.RenewSchedule = limits.DefaultRenewSchedule
	}
	if p.Serial == 0 {
		p.Serial = limits.DefaultSerial
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_ONE_YEAR
	}
	return p
}

func (p Props) validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("activation: "+format, args...)) }
	if p.InstanceRole == nil {
		add("InstanceRole is nil: pass the role the nodes assume (trusted by ssm.amazonaws.com)")
	}
	if p.RegistrationLimit < limits.MinRegistrationLimit || p.RegistrationLimit > limits.MaxRegistrationLimit {
		add("RegistrationLimit is %d: must be from %d to %d", p.RegistrationLimit, limits.MinRegistrationLimit, limits.MaxRegistrationLimit)
	}
	if p.ExpiryDays < limits.MinExpiryDays || p.ExpiryDays > limits.MaxExpiryDays {
		add("ExpiryDays is %d: must be from %d to %d (SSM's maximum)", p.ExpiryDays, limits.MinExpiryDays, limits.MaxExpiryDays)
	}
	if d := *p.RenewDays; d < 0 || d >= p.ExpiryDays {
		add("RenewDays is %d: must be from 0 (no renewal) to %d, less than ExpiryDays (%d), or every run would renew", d, p.ExpiryDays-1, p.ExpiryDays)
	}
	if !scheduleRe.MatchString(p.RenewSchedule) {
		add("RenewSchedule is %q: must be an EventBridge expression such as rate(1 day), rate(12 hours) or cron(0 3 * * ? *)", p.RenewSchedule)
	}
	if n := p.DefaultInstanceName; n != "" && (len(n) > limits.MaxInstanceName || !instanceNameRe.MatchString(n)) {
		add("DefaultInstanceName is %q: must be 1 to %d letters, digits, '.', '-' or '_'", n, limits.MaxInstanceName)
	}
	if len(p.Description) > limits.MaxDescription {
		add("Description is %d characters long: must be at most %d", len(p.Description), limits.MaxDescription)
	}
	if len(p.Tags) > limits.MaxTags-1 {
		add("Tags has %d entries: must be at most %d (one more is the stack tag)", len(p.Tags), limits.MaxTags-1)
	}
	for _, k := range sortedKeys(p.Tags) {
		if len(k) < 1 || len(k) > limits.MaxTagKey || strings.HasPrefix(strings.ToLower(k), "aws:") || k == names.StackTagKey {
			add("tag key %q: must be 1 to %d characters, not start with \"aws:\" and not be %q (set by the construct)", k, limits.MaxTagKey, names.StackTagKey)
		}
		if len(p.Tags[k]) > limits.MaxTagValue {
			add("tag %q has a value of %d characters: must be at most %d", k, len(p.Tags[k]), limits.MaxTagValue)
		}
	}
	if p.Serial < limits.MinSerial || p.Serial > limits.MaxSerial {
		add("Serial is %d: must be from %d to %d", p.Serial, limits.MinSerial, limits.MaxSerial)
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

// New makes the secret, the custom resource and its Lambda, and (unless
// renewal is off) the renewer with its schedule and alarm.
func New(scope constructs.Construct, id string, props Props) (*Activation, error) {
	p := props.withDefaults()
	if err := p.validate(); err != nil {
		return nil, err
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(c)
	a := &Activation{Construct: c, stackTag: *stack.StackName(), tagKeys: append([]string{names.StackTagKey}, sortedKeys(p.Tags)...)}

	key := encryption.NewKey(c, "Key", "ssm activation code and its functions' logs", awscdk.RemovalPolicy_DESTROY)
	a.key = key
	a.secret = awssecretsmanager.NewSecret(c, jsii.String("Code"), &awssecretsmanager.SecretProps{
		Description:   jsii.String("the site's current ssm activation (id, code, expiry) as JSON, written by the activation custom resource and its renewer"),
		EncryptionKey: key,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})

	handler, err := gofunction.New(c, "Handler", gofunction.Props{
		Handler:      names.HandlerActivation,
		Description:  "ssm activation custom resource: creates, replaces and deletes the site's current activation",
		Key:          key,
		LogRetention: p.LogRetention,
	})
	if err != nil {
		return nil, fmt.Errorf("activation: %w", err)
	}
	a.grantManage(handler.Role(), p.InstanceRole)
	a.function = handler.Function()

	properties := a.properties(p)
	// The handler's permissions must exist before CloudFormation asks it for
	// anything, and until it has deleted the activation.
	a.resource = handler.CustomResource(c, names.ActivationResourceType, properties)

	if *p.RenewDays > 0 {
		if err := a.addRenewer(p, properties); err != nil {
			return nil, err
		}
	}

	cdknag.NagSuppressions_AddResourceSuppressions(a.secret, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SMG4"),
		Reason: jsii.String("the value is an SSM activation that only SSM can issue: the renewer replaces it on a schedule (a new activation), not a rotation Lambda"),
	}}, jsii.Bool(false))
	viaSecretsManager := &map[string]any{"StringEquals": map[string]any{"kms:ViaService": fmt.Sprintf("secretsmanager.%s.amazonaws.com", *stack.Region())}}
	a.joinPolicy = awsiam.NewManagedPolicy(c, jsii.String("JoinPolicy"), &awsiam.ManagedPolicyProps{
		Description: jsii.String("read the site's current ssm activation to join ECS Anywhere nodes; attach to whoever runs the join command"),
		Statements: &[]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
				Resources: jsii.Strings(*a.secret.SecretArn()),
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:    jsii.Strings("kms:Decrypt"),
				Resources:  jsii.Strings(*key.KeyArn()),
				Conditions: viaSecretsManager,
			}),
		},
	})
	return a, nil
}

// properties are the custom resource's properties; the renewer gets the
// same values as JSON, so both make activations alike.
func (a *Activation) properties(p Props) map[string]any {
	tags := []map[string]string{{"Key": names.StackTagKey, "Value": a.stackTag}}
	for _, k := range sortedKeys(p.Tags) {
		tags = append(tags, map[string]string{"Key": k, "Value": p.Tags[k]})
	}
	properties := map[string]any{
		names.PropIamRole:           p.InstanceRole.RoleName(),
		names.PropRegistrationLimit: fmt.Sprint(p.RegistrationLimit),
		names.PropExpiryDays:        fmt.Sprint(p.ExpiryDays),
		names.PropSecretArn:         a.secret.SecretArn(),
		names.PropSerial:            fmt.Sprint(p.Serial),
		names.PropTags:              tags,
	}
	if p.DefaultInstanceName != "" {
		properties[names.PropDefaultInstanceName] = p.DefaultInstanceName
	}
	if p.Description != "" {
		properties[names.PropDescription] = p.Description
	}
	return properties
}

// grantManage lets role make, replace and delete the site's activations and
// read and write its record.
func (a *Activation) grantManage(role awsiam.Role, instanceRole awsiam.IRole) {
	stack := awscdk.Stack_Of(a.Construct)
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("CreateSiteActivations"),
		// Tagging on create is part of CreateActivation (its aws:RequestTag
		// and aws:TagKeys): no ssm:AddTagsToResource.
		Actions:   jsii.Strings("ssm:CreateActivation"),
		Resources: jsii.Strings("*"),
		Conditions: &map[string]any{
			"StringEquals":              map[string]any{"aws:RequestTag/" + names.StackTagKey: a.stackTag},
			"ForAllValues:StringEquals": map[string]any{"aws:TagKeys": a.tagKeys},
		},
	}))
	// A managed instance tagged with the site's tag would be deregistered
	// with the site, so these functions never tag nodes (SSM copies an
	// activation's tags to the nodes that join through it itself). Nothing
	// above allows it; the Deny keeps it so whatever else is attached.
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:     jsii.String("NeverTagNodes"),
		Effect:  awsiam.Effect_DENY,
		Actions: jsii.Strings("ssm:AddTagsToResource"),
		Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("ssm"), Region: jsii.String("*"), Account: jsii.String("*"),
			Resource: jsii.String("managed-instance"), ResourceName: jsii.String("*"),
		})),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("Activations"),
		Actions:    jsii.Strings("ssm:DeleteActivation", "ssm:DescribeActivations"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:RequestedRegion": stack.Region()}},
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("PassInstanceRole"),
		Actions:    jsii.Strings("iam:PassRole"),
		Resources:  jsii.Strings(*instanceRole.RoleArn()),
		Conditions: &map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "ssm.amazonaws.com"}},
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ActivationRecord"),
		Actions:   jsii.Strings("secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"),
		Resources: jsii.Strings(*a.secret.SecretArn()),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"),
		Resources:  jsii.Strings(*a.key.KeyArn()),
		Conditions: &map[string]any{"StringEquals": map[string]any{"kms:ViaService": fmt.Sprintf("secretsmanager.%s.amazonaws.com", *stack.Region())}},
	}))
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		AppliesTo: &[]any{jsii.String("Resource::*")},
		Reason:    jsii.String("ssm activations have no resource-level permissions: creating one is limited to activations tagged with this site's stack; delete and describe take only * and are limited to the stack's region"),
	}}, jsii.Bool(true))
}

// addRenewer makes the scheduled renewer and the alarm on its errors.
func (a *Activation) addRenewer(p Props, properties map[string]any) error {
	stack := awscdk.Stack_Of(a.Construct)
	settings := stack.ToJsonString(properties, nil)
	renewer, err := gofunction.New(a.Construct, "Renewer", gofunction.Props{
		Handler:      names.HandlerRenewer,
		Description:  fmt.Sprintf("renews the site's ssm activation when it expires within %d days or is full", *p.RenewDays),
		Key:          a.key,
		LogRetention: p.LogRetention,
		Timeout:      awscdk.Duration_Minutes(jsii.Number(2)),
		Environment: map[string]*string{
			names.EnvActivationSettings: settings,
			names.EnvRenewDays:          jsii.String(fmt.Sprint(*p.RenewDays)),
		},
	})
	if err != nil {
		return fmt.Errorf("activation: %w", err)
	}
	a.grantManage(renewer.Role(), p.InstanceRole)
	fn := renewer.Function()
	a.renewer = fn
	// No reserved concurrency: Lambda refuses a reservation that leaves an
	// account under 100 unreserved (new accounts often have 10 in all). Two
	// overlapping runs are safe: the record is written by compare-and-swap
	// and the run that loses yields (internal/ssmact).
	schedule := awsevents.NewRule(a.Construct, jsii.String("RenewSchedule"), &awsevents.RuleProps{
		Description: jsii.String("runs the site's activation renewer"),
		Schedule:    awsevents.Schedule_Expression(jsii.String(p.RenewSchedule)),
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
			RetryAttempts: jsii.Number(2),
			MaxEventAge:   awscdk.Duration_Hours(jsii.Number(1)),
		})},
	})
	// On delete the schedule goes before the activation resource: a run
	// between the two would see the activation gone and make a new one
	// that nothing deletes.
	schedule.Node().AddDependency(a.resource)
	a.renewalAlarm = awscloudwatch.NewAlarm(a.Construct, jsii.String("RenewalFailed"), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String(fmt.Sprintf("the activation renewer of stack %s failed: nodes may soon be unable to join; see its log group", a.stackTag)),
		Metric: fn.MetricErrors(&awscloudwatch.MetricOptions{
			Period:    awscdk.Duration_Hours(jsii.Number(1)),
			Statistic: jsii.String("Sum"),
		}),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		// A run every day (or as scheduled) and nothing in between: the
		// alarm keeps its state until the next run says otherwise, so a
		// failed renewal stays in ALARM until one succeeds.
		TreatMissingData: awscloudwatch.TreatMissingData_IGNORE,
	})
	return nil
}

// Secret records the current activation; nodes read it when they join.
func (a *Activation) Secret() awssecretsmanager.ISecret { return a.secret }

// Key encrypts the secret and the functions' logs; the site's other
// functions may use it too.
func (a *Activation) Key() awskms.IKey { return a.key }

// JoinPolicy may read the current activation; attach it to the people or
// roles that join nodes.
func (a *Activation) JoinPolicy() awsiam.IManagedPolicy { return a.joinPolicy }

// Function is the custom resource's Lambda.
func (a *Activation) Function() awslambda.IFunction { return a.function }

// Renewer is the scheduled renewer, or nil when renewal is off.
func (a *Activation) Renewer() awslambda.IFunction { return a.renewer }

// RenewalAlarm goes off when a renewal fails, or is nil when renewal is off.
// An operator's notification topic attaches here.
func (a *Activation) RenewalAlarm() awscloudwatch.Alarm { return a.renewalAlarm }

// StackTag is the tag every activation of the site, and so every node that
// joined through one, carries: names.StackTagKey = the stack name.
func (a *Activation) StackTag() (key, value string) { return names.StackTagKey, a.stackTag }
