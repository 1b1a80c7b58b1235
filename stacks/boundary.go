package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
)

// bound sets the managed policy arn as the permissions boundary of every IAM
// role in stack, the ones CDK makes for its own custom resources among them;
// an empty arn sets none.
func bound(stack awscdk.Stack, arn string) {
	if arn == "" {
		return
	}
	awsiam.PermissionsBoundary_Of(stack).Apply(awsiam.ManagedPolicy_FromManagedPolicyArn(stack, jsii.String("PermissionsBoundary"), jsii.String(arn)))
}
