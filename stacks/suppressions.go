package stacks

import (
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// suppressAnywhere records, with a true reason, the cdk-nag findings an
// anywhere stack accepts beyond those its constructs record themselves.
func suppressAnywhere(a *Anywhere) {
	cdknag.NagSuppressions_AddResourceSuppressions(a.InstanceRole, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM4"),
		AppliesTo: &[]any{
			jsii.String("Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore"),
			jsii.String("Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"),
		},
		Reason: jsii.String("ECS Anywhere documents exactly these two AWS managed policies for the instance role; AWS keeps them in step with the SSM and ECS agents"),
	}}, jsii.Bool(true))
}
