// Package ringgate is what a pipeline of rings needs in a cell: one
// composite alarm, the cell's fleet health, that the pipeline watches
// after deploying into the cell, and a role the pipeline's account may
// assume to read that alarm, the cell's regional stack and to push the
// worker image into the cell's own repository (the cell may be in another
// account than the pipeline's).
package ringgate

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Props configure a cell's gate.
type Props struct {
	// Name starts the alarm's and the role's names: the cell's stack
	// prefix. Required.
	Name string
	// Alarms are the cell's fleet alarms: any in ALARM is the cell
	// unhealthy. Required, at most MaxAlarms.
	Alarms []awscloudwatch.IAlarm
	// PipelineAccount is the account of the pipeline that deploys the
	// cell. Required.
	PipelineAccount string
	// PipelineStack is the pipeline stack's name: only roles it made
	// (<PipelineStack>-…) may assume the gate's role. Required.
	PipelineStack string
	// Repository is the cell's worker image repository: the role may push
	// the image there. Required.
	Repository awsecr.IRepository
	// RegionalStack is the cell's regional stack: the role may read its
	// outputs. Required.
	RegionalStack string
}

// MaxAlarms is how many alarms a composite alarm's rule may name here:
// CloudWatch allows 100 in a rule, and a cell's fleet alarms are a handful.
const MaxAlarms = 100

var accountRe = regexp.MustCompile(`^[0-9]{12}$`)

func (p Props) validate() error {
	var errs []error
	if p.Name == "" {
		errs = append(errs, errors.New("ringgate: Name is empty: give the cell's stack prefix"))
	}
	if len(p.Alarms) == 0 || len(p.Alarms) > MaxAlarms {
		errs = append(errs, fmt.Errorf("ringgate: %d alarms: give the cell's fleet alarms, 1 to %d", len(p.Alarms), MaxAlarms))
	}
	if !accountRe.MatchString(p.PipelineAccount) {
		errs = append(errs, fmt.Errorf("ringgate: PipelineAccount is %q: give the pipeline's 12-digit account id", p.PipelineAccount))
	}
	if p.PipelineStack == "" || p.Repository == nil || p.RegionalStack == "" {
		errs = append(errs, errors.New("ringgate: PipelineStack, Repository and RegionalStack are required"))
	}
	return errors.Join(errs...)
}

// Gate is a cell's fleet-health alarm and the pipeline's role in the cell.
type Gate struct {
	constructs.Construct
	alarm awscloudwatch.CompositeAlarm
	role  awsiam.Role
}

// AlarmName is the name of a cell's fleet-health alarm: the pipeline
// names it before the cell is deployed.
func AlarmName(name string) string { return name + "-fleet-health" }

// RoleName is the name of the pipeline's role in a cell.
func RoleName(name string) string { return name + "-pipeline" }

// New makes a cell's gate.
func New(scope constructs.Construct, id string, props Props) (*Gate, error) {
	if err := props.validate(); err != nil {
		return nil, err
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	rules := make([]awscloudwatch.IAlarmRule, len(props.Alarms))
	for i, a := range props.Alarms {
		rules[i] = awscloudwatch.AlarmRule_FromAlarm(a, awscloudwatch.AlarmState_ALARM)
	}
	alarm := awscloudwatch.NewCompositeAlarm(c, jsii.String("FleetHealth"), &awscloudwatch.CompositeAlarmProps{
		CompositeAlarmName: jsii.String(AlarmName(props.Name)),
		AlarmDescription:   jsii.String("the cell's fleet is unhealthy (a site offline, tasks below desired, a node disconnected, the site agent failing, dead letters or unrouted work in the region): the pipeline's rings stop and roll back on it"),
		AlarmRule:          awscloudwatch.AlarmRule_AnyOf(rules...),
	})
	stack := awscdk.Stack_Of(c)
	pipelineRoles := fmt.Sprintf("arn:%s:iam::%s:role/%s-*", *stack.Partition(), props.PipelineAccount, props.PipelineStack)
	role := awsiam.NewRole(c, jsii.String("PipelineRole"), &awsiam.RoleProps{
		RoleName:    jsii.String(RoleName(props.Name)),
		Description: jsii.String("assumed by the pipeline's own roles: reads the cell's fleet health and regional stack, pushes the worker image into the cell's repository"),
		AssumedBy: awsiam.NewAccountPrincipal(jsii.String(props.PipelineAccount)).WithConditions(&map[string]any{
			"ArnLike": map[string]any{"aws:PrincipalArn": pipelineRoles},
		}),
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
	})
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("cloudwatch:DescribeAlarms"), Resources: jsii.Strings(*alarm.AlarmArn()),
	}))
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("cloudformation:DescribeStacks"),
		Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("cloudformation"), Resource: jsii.String("stack"),
			ResourceName: jsii.String(props.RegionalStack + "/*")})),
	}))
	props.Repository.GrantPullPush(role)
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("ecr:DescribeImages"), Resources: jsii.Strings(*props.Repository.RepositoryArn()),
	}))
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("ecr:GetAuthorizationToken has no resource-level permissions; a stack's ARN ends with its generated id (this names exactly the cell's regional stack)"),
	}}, jsii.Bool(true))
	return &Gate{Construct: c, alarm: alarm, role: role}, nil
}

// Alarm is the cell's fleet-health alarm.
func (g *Gate) Alarm() awscloudwatch.IAlarm { return g.alarm }

// Role is the pipeline's role in the cell.
func (g *Gate) Role() awsiam.IRole { return g.role }
