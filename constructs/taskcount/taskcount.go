// Package taskcount gives a site's EXTERNAL service the desired count it
// has, at every deploy: a Custom::ServiceTaskCount resource whose Go Lambda
// (handler "taskcount", lambda/desiredcount) answers the service's current desired count, or 0 when
// the service does not exist yet, and the service's DesiredCount is that
// answer.
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
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ecs-anywhere-stretched/stretched/constructs/gofunction"
	"github.com/ecs-anywhere-stretched/stretched/internal/names"
)

// Props configure the count.
type Props struct {
	// Cluster is the site's external cluster. Required.
	Cluster awsecs.ICluster
	// ClusterName is the cluster's name, known at synth (the IAM grant names
	// the cluster's services with it). Required.
	ClusterName string
	// Service is the site's service; its DesiredCount becomes the answer.
	// Required.
	Service awsecs.BaseService
	// TaskDefinition is the service's task definition. Required.
	TaskDefinition awsecs.TaskDefinition
	// Key encrypts the function's logs. Default: a key of its own.
	Key awskms.IKey
	// LogRetention of the function's log group. Default: one year.
	LogRetention awslogs.RetentionDays
}

func (p Props) validate() error {
	var errs []error
	if p.Cluster == nil || p.ClusterName == "" {
		errs = append(errs, fmt.Errorf("taskcount: Cluster (%v) and ClusterName (%q) are both required: pass the site's cluster and its name", p.Cluster, p.ClusterName))
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

// New makes the resource and its function and sets the service's
// DesiredCount to the resource's answer.
func New(scope constructs.Construct, id string, props Props) (*Count, error) {
	if err := props.validate(); err != nil {
		return nil, err
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(c)
	fn, err := gofunction.New(c, "Handler", gofunction.Props{
		Handler:      names.HandlerTaskCount,
		Description:  "answers the desired count the site's service has (0 before it exists), so a deploy neither waits for a node nor resets the count",
		Key:          props.Key,
		LogRetention: props.LogRetention,
	})
	if err != nil {
		return nil, fmt.Errorf("taskcount: %w", err)
	}
	role := fn.Role()
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("ListSiteServices"),
		Actions:    jsii.Strings("ecs:ListServices"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"ArnEquals": map[string]any{"ecs:cluster": props.Cluster.ClusterArn()}},
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:     jsii.String("DescribeSiteServices"),
		Actions: jsii.Strings("ecs:DescribeServices"),
		Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("ecs"), Resource: jsii.String("service"), ResourceName: jsii.String(props.ClusterName + "/*"),
		})),
	}))
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		AppliesTo: &[]any{
			jsii.String("Resource::*"),
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:.+:ecs:.+:service\/.+\/\*$/`)},
		},
		Reason: jsii.String("ecs:ListServices has no resource-level permissions: it is limited to the site's cluster by the ecs:cluster condition; services are described only in the site's cluster (their names are CloudFormation's)"),
	}}, jsii.Bool(true))

	cfnService := props.Service.Node().DefaultChild().(awsecs.CfnService)
	resource := fn.CustomResource(c, names.TaskCountResourceType, map[string]any{
		names.PropClusterName:    props.Cluster.ClusterName(),
		names.PropFamily:         props.TaskDefinition.Family(),
		names.PropTaskDefinition: props.TaskDefinition.TaskDefinitionArn(),
		// A change to any of these updates the service, so the count
		// must be re-read first. Make the resource after the service is
		// set up.
		names.PropServiceSettings: stack.ToJsonString(map[string]any{
			"DeploymentConfiguration": cfnService.DeploymentConfiguration(),
			"PlacementStrategies":     cfnService.PlacementStrategies(),
			"EnableExecuteCommand":    cfnService.EnableExecuteCommand(),
			"LaunchType":              cfnService.LaunchType(),
			"PropagateTags":           cfnService.PropagateTags(),
		}, nil),
	})
	cfnService.SetDesiredCount(awscdk.Token_AsNumber(resource.GetAttString(jsii.String(names.AttrDesiredCount))))
	return &Count{Construct: c, resource: resource}, nil
}
