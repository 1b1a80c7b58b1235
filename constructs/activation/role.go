package activation

import (
	"errors"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ecs-anywhere-stretched/stretched/internal/trust"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// InstanceRoleProps configure a site's instance role.
type InstanceRoleProps struct {
	// Fleet is the app's stack prefix: the role carries the tag
	// stretched:fleet with it, the only roles the fleet's activation
	// function may pass to SSM. Required.
	Fleet string
	// Cluster is the site's external cluster: the ECS agent may register
	// into, poll and report to this cluster only. Required.
	Cluster awsecs.ICluster
	// Description of the role. Default: "ECS Anywhere nodes: SSM agent and
	// ECS agent".
	Description string
}

// InstanceRole is the role SSM gives a site's nodes: trusted by
// ssm.amazonaws.com for this account and region only, with one inline
// policy of what the SSM agent and the ECS agent call (AgentActions),
// limited to the site's cluster and the stack's region. It names no AWS
// managed policy: AmazonSSMManagedInstanceCore reads every parameter of
// the account, AmazonEC2ContainerServiceforEC2Role registers into, drains
// and creates any cluster and writes into any log group. The site's tasks
// pull their image and write their logs with their own execution role
// (constructs/externalworker), so the nodes need neither. Its construct is
// the role itself, under the caller's id.
type InstanceRole struct {
	constructs.Construct
	role awsiam.Role
}

// Role is the IAM role.
func (r *InstanceRole) Role() awsiam.Role { return r.role }

// AgentActions are what the SSM agent and the ECS agent of a node call
// with the instance role, by statement: the managed policies' actions
// (test/testdata/managed) but those RemovedActions lists.
var AgentActions = map[string][]string{
	// Heartbeat, State Manager (patching, inventory, agent updates), Run
	// Command: no resource-level permissions, or only the calling node.
	"SsmAgent": {
		"ssm:DescribeAssociation", "ssm:DescribeDocument", "ssm:GetDeployablePatchSnapshotForInstance", "ssm:GetDocument",
		"ssm:ListAssociations", "ssm:ListInstanceAssociations", "ssm:PutComplianceItems", "ssm:PutInventory",
		"ssm:UpdateAssociationStatus", "ssm:UpdateInstanceAssociationStatus", "ssm:UpdateInstanceInformation",
		"ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
		"ec2messages:AcknowledgeMessage", "ec2messages:DeleteMessage", "ec2messages:FailMessage", "ec2messages:GetEndpoint",
		"ec2messages:GetMessages", "ec2messages:SendReply",
	},
	// No resource-level permissions.
	"EcsAgentDiscover": {"ecs:DiscoverPollEndpoint"},
	// The site's cluster (their resource is the cluster).
	"EcsAgentCluster": {"ecs:RegisterContainerInstance", "ecs:SubmitAttachmentStateChanges", "ecs:SubmitContainerStateChange", "ecs:SubmitTaskStateChange"},
	// The site cluster's container instances (ecs:cluster).
	"EcsAgentInstances": {"ecs:Poll", "ecs:StartTelemetrySession"},
	// Tags on registration only, in the site's cluster.
	"EcsAgentTagOnRegister": {"ecs:TagResource"},
	// Task metadata with tags, of the site cluster's tasks and nodes.
	"EcsAgentReadTags": {"ecs:ListTagsForResource"},
}

// RemovedActions are the managed policies' actions the instance role does
// not have, each with the reason (test/managed_policies_test.go holds the
// role to the managed policies' current text but these).
var RemovedActions = map[string]string{
	"ssm:GetParameter":                  "no document the app runs on a node references a parameter; with it a node reads every parameter of the account",
	"ssm:GetParameters":                 "no document the app runs on a node references a {{ssm:...}} parameter (AWS-RunShellScript, AWS-RunPatchBaseline, AWS-UpdateSSMAgent, AWS-GatherSoftwareInventory); with it a node reads every parameter of the account, SecureStrings under aws/ssm included",
	"ssm:GetManifest":                   "Distributor (AWS-ConfigureAWSPackage) only, which the app does not run",
	"ssm:PutConfigurePackageResult":     "Distributor (AWS-ConfigureAWSPackage) only, which the app does not run",
	"ecs:CreateCluster":                 "the ECS agent creates a cluster only when ECS_CLUSTER is empty; the install script always sets the site's cluster",
	"ecs:DeregisterContainerInstance":   "the ECS agent never calls it (ecs-agent/api/ecs/client has no call site); retiring a node is the operator's and the site nodes function's",
	"ecs:UpdateContainerInstancesState": "the ECS agent calls it only to drain an EC2 Spot instance; with it a node drains every node of the account",
	"ec2:DescribeTags":                  "EC2 tag propagation only (ECS_CONTAINER_INSTANCE_PROPAGATE_TAGS_FROM=ec2_instance): an external instance has no EC2 tags",
	"ecr:GetAuthorizationToken":         "the site's execution role pulls the worker image (externalworker): on external instances ECS uses it for ECR",
	"ecr:BatchCheckLayerAvailability":   "the site's execution role pulls the worker image",
	"ecr:GetDownloadUrlForLayer":        "the site's execution role pulls the worker image",
	"ecr:BatchGetImage":                 "the site's execution role pulls the worker image",
	"logs:CreateLogStream":              "the site's execution role writes the awslogs streams, only the site's; with it a node writes into any log group of the account",
	"logs:PutLogEvents":                 "the site's execution role writes the awslogs streams, only the site's; with it a node writes into any log group of the account",
}

// NewInstanceRole makes a site's instance role.
func NewInstanceRole(scope constructs.Construct, id string, props InstanceRoleProps) (*InstanceRole, error) {
	var errs []error
	if props.Fleet == "" {
		errs = append(errs, errors.New("activation: InstanceRoleProps.Fleet is empty: pass the app's stack prefix (the role's stretched:fleet tag)"))
	}
	if props.Cluster == nil {
		errs = append(errs, errors.New("activation: InstanceRoleProps.Cluster is nil: pass the site's external cluster (the ECS agent's permissions are limited to it)"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if props.Description == "" {
		props.Description = "ECS Anywhere nodes: SSM agent and ECS agent"
	}
	stack := awscdk.Stack_Of(scope)
	inRegion := &map[string]any{"StringEquals": map[string]any{"aws:RequestedRegion": stack.Region()}}
	cluster := props.Cluster
	inCluster := func(resource string) string {
		return *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ecs"), Resource: jsii.String(resource), ResourceName: jsii.String(*cluster.ClusterName() + "/*")})
	}
	statement := func(sid string, resources []string, conditions *map[string]any) awsiam.PolicyStatement {
		return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String(sid), Actions: jsii.Strings(AgentActions[sid]...), Resources: jsii.Strings(resources...), Conditions: conditions,
		})
	}
	agents := awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
		statement("SsmAgent", []string{"*"}, inRegion),
		statement("EcsAgentDiscover", []string{"*"}, inRegion),
		statement("EcsAgentCluster", []string{*cluster.ClusterArn()}, nil),
		statement("EcsAgentInstances", []string{inCluster("container-instance")},
			&map[string]any{"ArnEquals": map[string]any{"ecs:cluster": *cluster.ClusterArn()}}),
		statement("EcsAgentTagOnRegister", []string{inCluster("container-instance")},
			&map[string]any{"StringEquals": map[string]any{"ecs:CreateAction": "RegisterContainerInstance"}}),
		statement("EcsAgentReadTags", []string{inCluster("container-instance"), inCluster("task")}, nil),
	}})
	role := awsiam.NewRole(scope, jsii.String(id), &awsiam.RoleProps{
		// SSM documents aws:SourceArn arn:...:ssm:<region>:<account>:* for
		// the hybrid service role (hybrid-multicloud-service-role.html).
		AssumedBy:      trust.Service(stack, "ssm.amazonaws.com", "ssm", ""),
		Description:    jsii.String(props.Description),
		InlinePolicies: &map[string]awsiam.PolicyDocument{"Agents": agents},
	})
	awscdk.Tags_Of(role).Add(jsii.String(stackscontract.FleetTagKey), jsii.String(props.Fleet), nil)
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		AppliesTo: &[]any{jsii.String("Resource::*"), &cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:.+:ecs:.+:(container-instance|task)\/.+\/\*$/`)}},
		Reason:    jsii.String("the SSM agent's actions and ecs:DiscoverPollEndpoint have no resource-level permissions (held to the stack's region); the ECS agent's others are the site cluster's container instances and tasks only"),
	}}, jsii.Bool(false))
	return &InstanceRole{Construct: role, role: role}, nil
}
