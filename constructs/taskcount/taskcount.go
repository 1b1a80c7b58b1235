// Package taskcount gives a site's EXTERNAL service the desired count it
// has, at every deploy: a Custom::ServiceTaskCount resource that the fleet's
// one Go Lambda (NewFleet in the regional stack; handler "taskcount",
// ./handler) answers with the service's current desired count, or 0 when
// the service does not exist yet, and the service's DesiredCount is that
// answer (the external worker deploys its service with it: DeployWith).
//
// Without a DesiredCount CloudFormation creates the service with one task and
// waits until it runs, which on a new site (no node joined yet) it never
// does; with a fixed one, every update of the service would reset the count
// the site agent chose. The resource is re-read whenever the service is about
// to change: its properties carry the task definition (a new revision for
// any image or setting change) and the service's other settings.
package taskcount

import (
	"errors"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ecs-anywhere-stretched/stretched/constructs/gofunction"
	"github.com/ecs-anywhere-stretched/stretched/constructs/taskcount/contract"
)

// FleetProps configure the fleet's task count function.
type FleetProps struct {
	// Key encrypts the function's logs. Default: a key of its own.
	Key awskms.IKey
	// LogRetention of the function's log group. Default: one year.
	LogRetention awslogs.RetentionDays
}

// Fleet is the one function that answers every site's
// Custom::ServiceTaskCount.
type Fleet struct {
	constructs.Construct
	function awslambda.IFunction
}

// NewFleet makes the fleet's task count function. It only reads: it lists
// and describes services, in any cluster of the account and region (a
// deploy that upgrades a site asks it before the site's service carries
// the tags a narrower grant could name).
func NewFleet(scope constructs.Construct, id string, props FleetProps) (*Fleet, error) {
	c := constructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(c)
	fn, err := gofunction.New(c, "Handler", gofunction.Props{
		Handler:      contract.Handler,
		Description:  "answers the desired count a site's service has (0 before it exists), so a deploy neither waits for a node nor resets the count",
		Key:          props.Key,
		LogRetention: props.LogRetention,
	})
	if err != nil {
		return nil, fmt.Errorf("taskcount: %w", err)
	}
	inRegion := &map[string]any{"ArnLike": map[string]any{"ecs:cluster": *stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("ecs"), Resource: jsii.String("cluster"), ResourceName: jsii.String("*"),
	})}}
	role := fn.Role()
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("ListSiteServices"),
		Actions:    jsii.Strings("ecs:ListServices"),
		Resources:  jsii.Strings("*"),
		Conditions: inRegion,
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:     jsii.String("DescribeSiteServices"),
		Actions: jsii.Strings("ecs:DescribeServices"),
		Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("ecs"), Resource: jsii.String("service"), ResourceName: jsii.String("*"),
		})),
		Conditions: inRegion,
	}))
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		AppliesTo: &[]any{
			jsii.String("Resource::*"),
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:.+:ecs:.+:service\/\*$/`)},
		},
		Reason: jsii.String("one read-only function answers every site's task count: ecs:ListServices has no resource-level permissions, and it lists and describes services only (no write), in the account's clusters of this region"),
	}}, jsii.Bool(true))
	return &Fleet{Construct: c, function: fn.Function()}, nil
}

// Props configure the count.
type Props struct {
	// Fleet is the fleet's task count function (NewFleet). Required.
	Fleet *Fleet
	// Cluster is the site's external cluster. Required.
	Cluster awsecs.ICluster
	// Service is the site's service the count is read from; the service
	// is deployed with DesiredCount (its construct sets it). Required.
	Service awsecs.BaseService
	// TaskDefinition is the service's task definition. Required.
	TaskDefinition awsecs.TaskDefinition
}

func (p Props) validate() error {
	var errs []error
	if p.Fleet == nil {
		errs = append(errs, errors.New("taskcount: Fleet is nil: pass the fleet's task count function (taskcount.NewFleet in the regional stack)"))
	}
	if p.Cluster == nil {
		errs = append(errs, errors.New("taskcount: Cluster is nil: pass the site's cluster"))
	}
	if p.Service == nil || p.TaskDefinition == nil {
		errs = append(errs, errors.New("taskcount: Service and TaskDefinition are both required: pass the site's EXTERNAL service and its task definition"))
	}
	return errors.Join(errs...)
}

// Count is the resource.
type Count struct {
	constructs.Construct
	resource awscdk.CustomResource
}

// New makes the resource, answered by the fleet's function, and sets the
// service's DesiredCount to its answer.
func New(scope constructs.Construct, id string, props Props) (*Count, error) {
	if err := props.validate(); err != nil {
		return nil, err
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(c)
	cfnService := props.Service.Node().DefaultChild().(awsecs.CfnService)
	properties := map[string]any{
		contract.PropClusterName:    props.Cluster.ClusterName(),
		contract.PropFamily:         props.TaskDefinition.Family(),
		contract.PropTaskDefinition: props.TaskDefinition.TaskDefinitionArn(),
		// A change to any of these updates the service, so the count
		// must be re-read first. Make the resource after the service is
		// set up.
		contract.PropServiceSettings: stack.ToJsonString(map[string]any{
			"DeploymentConfiguration": cfnService.DeploymentConfiguration(),
			"PlacementStrategies":     cfnService.PlacementStrategies(),
			"EnableExecuteCommand":    cfnService.EnableExecuteCommand(),
			"LaunchType":              cfnService.LaunchType(),
			"PropagateTags":           cfnService.PropagateTags(),
		}, nil),
	}
	resource := gofunction.AnsweredBy(c, props.Fleet.function, contract.ResourceType, properties)
	return &Count{Construct: c, resource: resource}, nil
}

// DesiredCount is the answer: the count the service has when the deploy
// runs, or 0 before there is a service (a token).
func (c *Count) DesiredCount() *float64 {
	return awscdk.Token_AsNumber(c.resource.GetAttString(jsii.String(contract.AttrDesiredCount)))
}
