// Package network is the regional VPC: two AZs the region names at deploy
// time (Fn::GetAZs, so synth needs no lookup), public subnets that give no
// address unless a task asks for one, private subnets only with a NAT
// gateway, and rejected traffic logged to an encrypted log group.
//
// Its construct is the VPC itself, under the id the caller gives (the
// regional stack passes the first version's "Vpc"), and its flow-log group
// is beside it as FlowLogsID: construct ids are API, and a scope of the
// network's own would replace the VPC.
package network

import (
	"errors"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/constructs/loggroup"
)

// Props configure the network.
type Props struct {
	// NatGateways of the VPC: 0 (tasks run in public subnets with a public
	// IP and no inbound rule), 1 or 2 (tasks run in private subnets).
	// Default: 0.
	NatGateways int
	// Key encrypts the flow logs. Required.
	Key awskms.IKey
	// LogRetentionDays of the flow logs; one of loggroup.Days. Default: 365.
	LogRetentionDays int
}

func (p Props) validate() error {
	var errs []error
	if p.NatGateways < 0 || p.NatGateways > 2 {
		errs = append(errs, fmt.Errorf("network: NatGateways is %d: must be from 0 to 2", p.NatGateways))
	}
	if p.Key == nil {
		errs = append(errs, errors.New("network: Key is nil: give the KMS key that encrypts the flow logs"))
	}
	return errors.Join(errs...)
}

// Network is the VPC and where tasks run in it.
type Network struct {
	constructs.Construct
	vpc awsec2.Vpc
	nat bool
}

// FlowLogsID is the construct id of the VPC's flow-log group, beside the
// VPC in the caller's scope: the first version's (construct ids are API; a
// scope of the network's own would replace the VPC).
const FlowLogsID = "FlowLogs"

// New adds the VPC and its flow logs to scope.
func New(scope constructs.Construct, id string, props Props) (*Network, error) {
	if err := props.validate(); err != nil {
		return nil, err
	}
	flowLogs, err := loggroup.New(scope, FlowLogsID, loggroup.Props{Key: props.Key, RetentionDays: props.LogRetentionDays})
	if err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	azs := zones()
	// Public subnets give no address by default: only the tasks that need
	// one (no NAT gateway) ask ECS for it.
	subnets := []*awsec2.SubnetConfiguration{{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24), MapPublicIpOnLaunch: jsii.Bool(false)}}
	if props.NatGateways > 0 {
		subnets = append(subnets, &awsec2.SubnetConfiguration{Name: jsii.String("private"), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: jsii.Number(24)})
	}
	vpc := awsec2.NewVpc(scope, jsii.String(id), &awsec2.VpcProps{
		AvailabilityZones:   &azs,
		NatGateways:         jsii.Number(float64(props.NatGateways)),
		SubnetConfiguration: &subnets,
		FlowLogs: &map[string]*awsec2.FlowLogOptions{
			"rejected": {
				Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(flowLogs.LogGroup(), nil),
				TrafficType: awsec2.FlowLogTrafficType_REJECT,
			},
		},
	})
	// The flow logs' role (aws-cdk's, kept under its id) trusts
	// vpc-flow-logs only for this account's flow logs: the conditions
	// AWS's confused-deputy guidance asks for (VPC user guide, "IAM role
	// for publishing flow logs to CloudWatch Logs").
	stack := awscdk.Stack_Of(vpc)
	if role, ok := vpc.Node().TryFindChild(jsii.String("rejected")).Node().TryFindChild(jsii.String("IAMRole")).(awsiam.Role); ok {
		role.Node().DefaultChild().(awsiam.CfnRole).AddPropertyOverride(jsii.String("AssumeRolePolicyDocument.Statement.0.Condition"), map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()},
			"ArnLike": map[string]any{"aws:SourceArn": *stack.FormatArn(&awscdk.ArnComponents{
				Service: jsii.String("ec2"), Resource: jsii.String("vpc-flow-log"), ResourceName: jsii.String("*"),
			})},
		})
	} else {
		return nil, errors.New("network: the flow logs' role is not where aws-cdk puts it (rejected/IAMRole): its trust cannot be limited to this account")
	}
	return &Network{Construct: vpc, vpc: vpc, nat: props.NatGateways > 0}, nil
}

// zones are the region's first two AZs, resolved by CloudFormation
// (Fn::GetAZs) whether or not the stack has an account and region.
func zones() []*string {
	return []*string{
		awscdk.Fn_Select(jsii.Number(0), awscdk.Fn_GetAzs(nil)),
		awscdk.Fn_Select(jsii.Number(1), awscdk.Fn_GetAzs(nil)),
	}
}

// AnswerZoneLookup keeps the synth of a stack with an account and a region
// offline: CDK would look the AZs up for it (which needs credentials), and
// this answers the lookup with the same Fn::GetAZs values. Call it before
// the stack has children: context cannot be set after.
func AnswerZoneLookup(stack awscdk.Stack) {
	acct, region := stack.Account(), stack.Region()
	if *awscdk.Token_IsUnresolved(acct) || *awscdk.Token_IsUnresolved(region) {
		return
	}
	stack.Node().SetContext(jsii.String(fmt.Sprintf("availability-zones:account=%s:region=%s", *acct, *region)), zones())
}

// Vpc is the VPC.
func (n *Network) Vpc() awsec2.IVpc { return n.vpc }

// PublicTasks says whether tasks run in public subnets with a public IP
// (no NAT gateway).
func (n *Network) PublicTasks() bool { return !n.nat }

// TaskSubnets are the subnets tasks and mount targets use.
func (n *Network) TaskSubnets() *awsec2.SubnetSelection {
	if n.nat {
		return &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS}
	}
	return &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC}
}
