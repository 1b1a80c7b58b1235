package activation

import (
	"errors"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// InstanceRoleProps configure a site's instance role.
type InstanceRoleProps struct {
	// Fleet is the app's stack prefix: the role carries the tag
	// stretched:fleet with it, the only roles the fleet's activation
	// function may pass to SSM. Required.
	Fleet string
	// Description of the role. Default: "ECS Anywhere nodes: SSM agent and
	// ECS agent".
	Description string
}

// InstanceRole is the role SSM gives a site's nodes: trusted by
// ssm.amazonaws.com, with the AWS managed policies the SSM agent
// (AmazonSSMManagedInstanceCore) and the ECS agent
// (AmazonEC2ContainerServiceforEC2Role) need. Its construct is the role
// itself, under the caller's id.
type InstanceRole struct {
	constructs.Construct
	role awsiam.Role
}

// Role is the IAM role.
func (r *InstanceRole) Role() awsiam.Role { return r.role }

// NewInstanceRole makes a site's instance role.
func NewInstanceRole(scope constructs.Construct, id string, props InstanceRoleProps) (*InstanceRole, error) {
	if props.Fleet == "" {
		return nil, errors.New("activation: InstanceRoleProps.Fleet is empty: pass the app's stack prefix (the role's stretched:fleet tag)")
	}
	if props.Description == "" {
		props.Description = "ECS Anywhere nodes: SSM agent and ECS agent"
	}
	role := awsiam.NewRole(scope, jsii.String(id), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ssm.amazonaws.com"), nil),
		Description: jsii.String(props.Description),
		ManagedPolicies: &[]awsiam.IManagedPolicy{
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AmazonSSMManagedInstanceCore")),
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("service-role/AmazonEC2ContainerServiceforEC2Role")),
		},
	})
	awscdk.Tags_Of(role).Add(jsii.String(stackscontract.FleetTagKey), jsii.String(props.Fleet), nil)
	return &InstanceRole{Construct: role, role: role}, nil
}
