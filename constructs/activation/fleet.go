package activation

import (
	"errors"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ecs-anywhere-stretched/stretched/constructs/activation/contract"
	"github.com/ecs-anywhere-stretched/stretched/constructs/alerts"
	"github.com/ecs-anywhere-stretched/stretched/constructs/gofunction"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// FleetProps configure the fleet's activation function.
type FleetProps struct {
	// Fleet is the app's stack prefix: the function acts only on the
	// secrets, keys and instance roles tagged stretched:fleet = Fleet, and
	// creates activations only tagged with a site stack's name
	// (<Fleet>-Anywhere-*). Required.
	Fleet string
	// Key encrypts the function's logs. Default: a key of its own.
	Key awskms.IKey
	// RecordKey encrypts the sites' activation records: its key policy
	// lets the function's role (by name, not by a tag KMS may take minutes
	// to see) encrypt and decrypt with it through Secrets Manager only.
	// Required: a key of this stack (an imported key's policy cannot be
	// changed).
	RecordKey awskms.IKey
	// OwnInstanceRoles are the ARNs of instance roles sites bring: the
	// function may pass exactly these to SSM, beside the roles the app's
	// site stacks make (named <Fleet>-Anywhere-…, tagged stretched:fleet).
	// Default: none.
	OwnInstanceRoles []string
	// LogRetention of the function's logs. Default: one year.
	LogRetention awslogs.RetentionDays
}

// Fleet is the one function that answers every site's Custom::SsmActivation
// and renews every site's activation, the role EventBridge Scheduler runs
// the sites' renewals with, and the alarm on failed renewals.
type Fleet struct {
	constructs.Construct
	fleet         string
	function      awslambda.IFunction
	schedulerRole awsiam.IRole
	renewalFailed awscloudwatch.Alarm
}

// NewFleet makes the fleet's activation function.
func NewFleet(scope constructs.Construct, id string, props FleetProps) (*Fleet, error) {
	if props.Fleet == "" {
		return nil, errors.New("activation: Fleet is empty: pass the app's stack prefix, the value of the stretched:fleet tag")
	}
	if props.RecordKey == nil {
		return nil, errors.New("activation: RecordKey is nil: pass the app's key that encrypts the sites' activation records")
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(c)
	fn, err := gofunction.New(c, "Handler", gofunction.Props{
		Handler:      contract.Handler,
		Description:  "ssm activations of every site: answers Custom::SsmActivation and renews on each site's schedule",
		Key:          props.Key,
		LogRetention: props.LogRetention,
		// Room for handler.KeyPropagation (6 minutes) of retries while KMS
		// does not yet authorize a new key, and the role retries before it.
		Timeout: awscdk.Duration_Minutes(jsii.Number(9)),
	})
	if err != nil {
		return nil, fmt.Errorf("activation: %w", err)
	}
	f := &Fleet{Construct: c, fleet: props.Fleet, function: fn.Function()}
	tagged := map[string]any{"aws:ResourceTag/" + stackscontract.FleetTagKey: props.Fleet}
	arn := func(service, resource string, format awscdk.ArnFormat) string {
		return *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String(service), Resource: jsii.String(resource), ArnFormat: format})
	}
	role := fn.Role()
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("CreateSiteActivations"),
		// Tagging on create is part of CreateActivation (its aws:RequestTag
		// and aws:TagKeys): no ssm:AddTagsToResource.
		Actions:   jsii.Strings("ssm:CreateActivation"),
		Resources: jsii.Strings("*"),
		Conditions: &map[string]any{
			"StringLike":                map[string]any{"aws:RequestTag/" + stackscontract.StackTagKey: stackscontract.AnywhereStack(props.Fleet, "*")},
			"ForAllValues:StringEquals": map[string]any{"aws:TagKeys": append([]string{stackscontract.StackTagKey}, SiteTagKeys...)},
		},
	}))
	// A managed instance tagged with a site's tag would be deregistered
	// with the site, so this function never tags nodes (SSM copies an
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
	// What the requesting stack holds: the function acts only on its own
	// record, role and tags (handler.Verify); only the app's site stacks.
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ReadSiteStacks"),
		Actions:   jsii.Strings("cloudformation:ListStackResources"),
		Resources: jsii.Strings(arn("cloudformation", "stack/"+stackscontract.AnywhereStack(props.Fleet, "*")+"/*", awscdk.ArnFormat_SLASH_RESOURCE_NAME)),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("Activations"),
		Actions:    jsii.Strings("ssm:DeleteActivation", "ssm:DescribeActivations"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:RequestedRegion": stack.Region()}},
	}))
	// The roles the site stacks make: by name (CloudFormation names them
	// <stack>-<logical id>-<suffix>) and by tag, so neither a role merely
	// tagged stretched:fleet (an admin role, say) nor another app's role
	// of the same name is passed.
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:     jsii.String("PassInstanceRoles"),
		Actions: jsii.Strings("iam:PassRole"),
		Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("iam"), Region: jsii.String(""), Resource: jsii.String("role"),
			ResourceName: jsii.String(stackscontract.AnywhereStack(props.Fleet, "*"))})),
		Conditions: &map[string]any{"StringEquals": map[string]any{
			"iam:PassedToService":                           "ssm.amazonaws.com",
			"iam:ResourceTag/" + stackscontract.FleetTagKey: props.Fleet,
		}},
	}))
	if len(props.OwnInstanceRoles) > 0 {
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("PassSitesOwnInstanceRoles"),
			Actions:    jsii.Strings("iam:PassRole"),
			Resources:  jsii.Strings(props.OwnInstanceRoles...),
			Conditions: &map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "ssm.amazonaws.com"}},
		}))
	}
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("ActivationRecords"),
		Actions:    jsii.Strings("secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"),
		Resources:  jsii.Strings(arn("secretsmanager", "secret:*", awscdk.ArnFormat_NO_RESOURCE_NAME)),
		Conditions: &map[string]any{"StringEquals": tagged},
	}))
	// The records' key, through its key policy naming this role: a tag
	// condition (aws:ResourceTag) takes KMS up to five minutes to honour,
	// which failed the first site's deploy minutes after the key was made.
	added := props.RecordKey.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("ActivationRecordsThroughSecretsManager"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewArnPrincipal(role.RoleArn())},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"kms:ViaService": fmt.Sprintf("secretsmanager.%s.amazonaws.com", *stack.Region())},
		},
	}), nil)
	if !*added.StatementAdded {
		return nil, errors.New("activation: RecordKey is an imported key: pass a key of this stack, whose policy the construct can extend")
	}
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		AppliesTo: &[]any{
			jsii.String("Resource::*"),
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:.+:(iam::.+:role\/.+-Anywhere-|secretsmanager:.+:secret:|cloudformation:.+:stack\/.+-Anywhere-\*\/)\*$/`)},
		},
		Reason: jsii.String("one function keeps every site's activation: ssm activations have no resource-level permissions (creating one is limited to activations tagged with one of this app's site stacks, delete and describe to the region); the instance roles it passes to SSM are the app's site stacks' (by name and the tag stretched:fleet) and the sites' own by ARN, the activation records those tagged stretched:fleet with this app's prefix; the records' key is granted by its key policy; it reads what the app's site stacks hold (to act only for the stack that asks)"),
	}}, jsii.Bool(true))

	// EventBridge Scheduler runs each site's renewal (schedules, not rules:
	// an account has 300 rules per bus by default and a million schedules).
	scheduler := awsiam.NewRole(c, jsii.String("SchedulerRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()}},
		}),
		Description: jsii.String("EventBridge Scheduler: runs the sites' activation renewals"),
	})
	// Exactly the function (no version or alias: the schedules invoke it
	// unqualified).
	scheduler.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("lambda:InvokeFunction"),
		Resources: jsii.Strings(*fn.Function().FunctionArn()),
	}))
	f.schedulerRole = scheduler

	f.renewalFailed = awscloudwatch.NewAlarm(c, jsii.String("RenewalFailed"), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String("a site's activation renewal failed: its nodes may soon be unable to join; the function's log group names the site (\"activation renewal failed\")"),
		// One function renews every site: over an hour, another site's
		// successful renewal (Errors 0) would clear the alarm while the
		// failing site waits a day for its next run. Summed over a day
		// (the longest alarm period, and the default renewal schedule),
		// the alarm stays in ALARM while any site's renewal failed in the
		// last 24 hours, so a site that keeps failing keeps it there.
		// (Custom resource requests report failures to CloudFormation, not
		// as errors.)
		Metric: fn.Function().MetricErrors(&awscloudwatch.MetricOptions{
			Period:    awscdk.Duration_Days(jsii.Number(1)),
			Statistic: jsii.String("Sum"),
		}),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_IGNORE,
	})
	return f, nil
}

// Function answers every site's Custom::SsmActivation and renews.
func (f *Fleet) Function() awslambda.IFunction { return f.function }

// Alarms are the fleet's activation alarms that notify: a renewal failed.
func (f *Fleet) Alarms() []alerts.Alarm { return []alerts.Alarm{f.renewalFailed} }
