// Package trust makes the service principals the app's roles trust, with
// the conditions AWS's cross-service confused-deputy guidance asks for
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html):
// the service may assume the role only while it acts for this account
// (aws:SourceAccount) and, where the service documents it, for a resource
// of this account and region (aws:SourceArn).
package trust

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
)

// Service is the principal service (such as "ssm.amazonaws.com") held to
// the stack's account and, when sourceArnService is not empty, to that
// service's resources in the stack's account and region
// (arn:<partition>:<sourceArnService>:<region>:<account>:<resource>).
// resource defaults to "*".
func Service(stack awscdk.Stack, service, sourceArnService, resource string) awsiam.ServicePrincipal {
	conditions := map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()}}
	if sourceArnService != "" {
		if resource == "" {
			resource = "*"
		}
		conditions["ArnLike"] = map[string]any{"aws:SourceArn": *stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String(sourceArnService), Resource: jsii.String(resource),
		})}
	}
	return awsiam.NewServicePrincipal(jsii.String(service), &awsiam.ServicePrincipalOpts{Conditions: &conditions})
}
