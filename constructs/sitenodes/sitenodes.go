// Package sitenodes deregisters a site's nodes when its stack is deleted: a
// Custom::SiteNodes resource that the fleet's one Go Lambda (NewFleet in the
// regional stack; handler "sitenodes", ./handler) answers: on Delete it
// force-deregisters every container instance of the site's cluster and every
// SSM managed instance carrying the site's stack tag, when the stack itself
// is being deleted (not when an update removes the resource). Make the site's
// service depend on it (DeregisterAfter), and it depends on the cluster, so
// CloudFormation deletes the service, then the nodes, then the cluster.
package sitenodes

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
	"github.com/ecs-anywhere-stretched/stretched/constructs/sitenodes/contract"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// FleetProps configure the fleet's deregistration function.
type FleetProps struct {
	// Fleet is the app's stack prefix: the function deregisters only nodes
	// of clusters tagged stretched:fleet = Fleet and managed instances
	// tagged with one of the app's site stacks, and reads only the status
	// of those stacks. Required.
	Fleet string
	// Key encrypts the function's logs. Default: a key of its own.
	Key awskms.IKey
	// LogRetention of the function's log group. Default: one year.
	LogRetention awslogs.RetentionDays
}

// Fleet is the one function that answers every site's Custom::SiteNodes.
type Fleet struct {
	constructs.Construct
	function awslambda.IFunction
}

// NewFleet makes the fleet's deregistration function.
func NewFleet(scope constructs.Construct, id string, props FleetProps) (*Fleet, error) {
	if props.Fleet == "" {
		return nil, errors.New("sitenodes: Fleet is empty: pass the app's stack prefix, the value of the stretched:fleet tag")
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(c)
	fn, err := gofunction.New(c, "Handler", gofunction.Props{
		Handler:      contract.Handler,
		Description:  "deregisters a site's container instances and managed instances when its stack is deleted",
		Key:          props.Key,
		LogRetention: props.LogRetention,
		Timeout:      awscdk.Duration_Minutes(jsii.Number(10)),
	})
	if err != nil {
		return nil, fmt.Errorf("sitenodes: %w", err)
	}
	arn := func(service, resource string) string {
		return *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String(service), Resource: jsii.String(resource), ArnFormat: awscdk.ArnFormat_NO_RESOURCE_NAME})
	}
	role := fn.Role()
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("SiteContainerInstances"),
		Actions:    jsii.Strings("ecs:ListContainerInstances", "ecs:DeregisterContainerInstance"),
		Resources:  jsii.Strings(arn("ecs", "cluster/*")),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:ResourceTag/" + stackscontract.FleetTagKey: props.Fleet}},
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("SiteManagedInstances"),
		Actions:    jsii.Strings("ssm:DeregisterManagedInstance"),
		Resources:  jsii.Strings(arn("ssm", "managed-instance/*")),
		Conditions: &map[string]any{"StringLike": map[string]any{"ssm:resourceTag/" + stackscontract.StackTagKey: stackscontract.AnywhereStack(props.Fleet, "*")}},
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("SiteStackStatus"),
		// The status, and what the stack holds: the function acts only on
		// the deleted stack's own cluster and nodes.
		Actions:   jsii.Strings("cloudformation:DescribeStacks", "cloudformation:ListStackResources"),
		Resources: jsii.Strings(arn("cloudformation", "stack/"+stackscontract.AnywhereStack(props.Fleet, "*")+"/*")),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("FindManagedInstances"),
		Actions:    jsii.Strings("ssm:DescribeInstanceInformation"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:RequestedRegion": stack.Region()}},
	}))
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		AppliesTo: &[]any{
			jsii.String("Resource::*"),
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:.+:(ssm:.+:managed-instance|ecs:.+:cluster)\/\*$/`)},
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:.+:cloudformation:.+:stack\/.+-Anywhere-\*\/\*$/`)},
		},
		Reason: jsii.String("one function deregisters the nodes of every site: ssm:DescribeInstanceInformation has no resource-level permissions (read-only, limited to the region); container instances only of clusters tagged stretched:fleet with this app's prefix, managed instances only tagged with one of its site stacks, and the status only of its site stacks"),
	}}, jsii.Bool(true))
	return &Fleet{Construct: c, function: fn.Function()}, nil
}

// Props configure the deregistration.
type Props struct {
	// Fleet is the fleet's deregistration function (NewFleet). Required.
	Fleet *Fleet
	// Cluster is the site's external cluster (tagged stretched:fleet).
	// Required.
	Cluster awsecs.ICluster
	// TagKey and TagValue select the site's managed instances: the tag its
	// activations give every node (activation.StackTag). Required.
	TagKey, TagValue string
}

func (p Props) validate() error {
	var errs []error
	if p.Fleet == nil {
		errs = append(errs, errors.New("sitenodes: Fleet is nil: pass the fleet's deregistration function (sitenodes.NewFleet in the regional stack)"))
	}
	if p.Cluster == nil {
		errs = append(errs, errors.New("sitenodes: Cluster is nil: pass the site's external cluster"))
	}
	if p.TagKey == "" || p.TagValue == "" {
		errs = append(errs, fmt.Errorf("sitenodes: TagKey %q and TagValue %q must both be set: pass the site activation's StackTag()", p.TagKey, p.TagValue))
	}
	return errors.Join(errs...)
}

// Nodes is the deregistration resource.
type Nodes struct {
	constructs.Construct
	resource awscdk.CustomResource
}

// New makes the resource, answered by the fleet's function.
func New(scope constructs.Construct, id string, props Props) (*Nodes, error) {
	if err := props.validate(); err != nil {
		return nil, err
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	properties := map[string]any{
		contract.PropClusterName: props.Cluster.ClusterName(),
		contract.PropTagKey:      props.TagKey,
		contract.PropTagValue:    props.TagValue,
	}
	resource := gofunction.AnsweredBy(c, props.Fleet.function, contract.ResourceType, properties)
	return &Nodes{Construct: c, resource: resource}, nil
}

// DeregisterAfter makes CloudFormation delete dependent (the site's service)
// before the nodes are deregistered, and create it after this resource.
func (n *Nodes) DeregisterAfter(dependent constructs.IConstruct) {
	dependent.Node().AddDependency(n.resource)
}
