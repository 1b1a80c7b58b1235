// Package sitenodes deregisters a site's nodes when its stack is deleted: a
// Custom::SiteNodes resource whose Go Lambda (handler "sitenodes", lambda/deregister), on Delete,
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
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ecs-anywhere-stretched/stretched/constructs/gofunction"
	"github.com/ecs-anywhere-stretched/stretched/internal/names"
)

// Props configure the deregistration.
type Props struct {
	// Cluster is the site's external cluster. Required.
	Cluster awsecs.ICluster
	// TagKey and TagValue select the site's managed instances: the tag its
	// activations give every node (activation.StackTag). Required.
	TagKey, TagValue string
	// Key encrypts the function's logs. Default: a key of its own.
	Key awskms.IKey
	// LogRetention of the function's log group. Default: one year.
	LogRetention awslogs.RetentionDays
}

func (p Props) validate() error {
	var errs []error
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

// New makes the resource and its function.
func New(scope constructs.Construct, id string, props Props) (*Nodes, error) {
	if err := props.validate(); err != nil {
		return nil, err
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(c)
	fn, err := gofunction.New(c, "Handler", gofunction.Props{
		Handler:      names.HandlerSiteNodes,
		Description:  "deregisters the site's container instances and managed instances when its stack is deleted",
		Key:          props.Key,
		LogRetention: props.LogRetention,
		Timeout:      awscdk.Duration_Minutes(jsii.Number(10)),
	})
	if err != nil {
		return nil, fmt.Errorf("sitenodes: %w", err)
	}
	role := fn.Role()
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("SiteContainerInstances"),
		Actions:   jsii.Strings("ecs:ListContainerInstances", "ecs:DeregisterContainerInstance"),
		Resources: jsii.Strings(*props.Cluster.ClusterArn()),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:     jsii.String("SiteManagedInstances"),
		Actions: jsii.Strings("ssm:DeregisterManagedInstance"),
		Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("ssm"), Resource: jsii.String("managed-instance"), ResourceName: jsii.String("*"),
		})),
		Conditions: &map[string]any{"StringEquals": map[string]any{"ssm:resourceTag/" + props.TagKey: props.TagValue}},
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("OwnStackStatus"),
		Actions:   jsii.Strings("cloudformation:DescribeStacks"),
		Resources: jsii.Strings(*stack.StackId()),
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
			// Written with tokens, or with the account and region when the stack has them.
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:.+:ssm:.+:managed-instance\/\*$/`)},
		},
		Reason: jsii.String("ssm:DescribeInstanceInformation has no resource-level permissions (it is read-only and limited to the region); deregistration is limited to managed instances tagged with this site's stack"),
	}}, jsii.Bool(true))

	resource := fn.CustomResource(c, names.NodesResourceType, map[string]any{
		names.PropClusterName: props.Cluster.ClusterName(),
		names.PropTagKey:      props.TagKey,
		names.PropTagValue:    props.TagValue,
	})
	return &Nodes{Construct: c, resource: resource}, nil
}

// DeregisterAfter makes CloudFormation delete dependent (the site's service)
// before the nodes are deregistered, and create it after this resource.
func (n *Nodes) DeregisterAfter(dependent constructs.IConstruct) {
	dependent.Node().AddDependency(n.resource)
}
