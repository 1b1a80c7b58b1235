package network

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/testkit/cdktest"
	"github.com/ecs-anywhere-stretched/stretched/testkit/errcheck"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

func TestPublicSubnetsGiveNoAddressAndRejectedTrafficIsLogged(t *testing.T) {
	stack := cdktest.Stack()
	n, err := New(stack, "Vpc", Props{Key: awskms.NewKey(stack, jsii.String("Key"), nil)})
	if err != nil {
		t.Fatal(err)
	}
	if !n.PublicTasks() || n.TaskSubnets().SubnetType != awsec2.SubnetType_PUBLIC {
		t.Errorf("without a NAT gateway tasks run in public subnets")
	}
	tmpl := cdktest.Template(t, stack)
	cdktest.Assert(t, func() {
		tmpl.ResourceCountIs(jsii.String("AWS::EC2::NatGateway"), jsii.Number(0))
		tmpl.ResourceCountIs(jsii.String("AWS::EC2::Subnet"), jsii.Number(2))
		tmpl.AllResourcesProperties(jsii.String("AWS::EC2::Subnet"), map[string]any{"MapPublicIpOnLaunch": false})
		tmpl.HasResourceProperties(jsii.String("AWS::EC2::Subnet"), map[string]any{
			"AvailabilityZone": map[string]any{"Fn::Select": []any{1, map[string]any{"Fn::GetAZs": ""}}},
		})
		tmpl.HasResourceProperties(jsii.String("AWS::EC2::FlowLog"), map[string]any{"TrafficType": "REJECT", "LogDestinationType": "cloud-watch-logs"})
		tmpl.HasResourceProperties(jsii.String("AWS::Logs::LogGroup"), map[string]any{"RetentionInDays": 365, "KmsKeyId": assertions.Match_AnyValue()})
	})
}

func TestWithANatGatewayTasksRunPrivate(t *testing.T) {
	stack := cdktest.Stack()
	n, err := New(stack, "Vpc", Props{Key: awskms.NewKey(stack, jsii.String("Key"), nil), NatGateways: 1, LogRetentionDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	if n.PublicTasks() || n.TaskSubnets().SubnetType != awsec2.SubnetType_PRIVATE_WITH_EGRESS {
		t.Errorf("with a NAT gateway tasks run in private subnets")
	}
	tmpl := cdktest.Template(t, stack)
	cdktest.Assert(t, func() {
		tmpl.ResourceCountIs(jsii.String("AWS::EC2::NatGateway"), jsii.Number(1))
		tmpl.ResourceCountIs(jsii.String("AWS::EC2::Subnet"), jsii.Number(4))
		tmpl.HasResourceProperties(jsii.String("AWS::Logs::LogGroup"), map[string]any{"RetentionInDays": 30})
	})
}

func TestBadProps(t *testing.T) {
	_, err := New(cdktest.Stack(), "Vpc", Props{NatGateways: 3})
	errcheck.Contains(t, err, "NatGateways is 3", "from 0 to 2", "Key is nil")
}
