package encryption

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/testkit/cdktest"
	"github.com/ecs-anywhere-stretched/stretched/testkit/errcheck"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

// A key rotates yearly, waits seven days before deletion, keeps what the
// caller asked with its stack, refuses grants except to AWS services, and
// lets CloudWatch Logs use it only for this account's log groups.
func TestKeyPolicyAndLifecycle(t *testing.T) {
	stack := cdktest.Stack()
	for id, props := range map[string]Props{"Kept": {Description: "kept"}, "Dropped": {Description: "dropped", RemovalPolicy: awscdk.RemovalPolicy_DESTROY}} {
		if _, err := New(stack, id, props); err != nil {
			t.Fatal(err)
		}
	}
	tmpl := cdktest.Template(t, stack)
	cdktest.Assert(t, func() {
		tmpl.HasResource(jsii.String("AWS::KMS::Key"), map[string]any{
			"Properties":     assertions.Match_ObjectLike(&map[string]any{"Description": "kept", "EnableKeyRotation": true, "PendingWindowInDays": 7}),
			"DeletionPolicy": "Retain",
		})
		tmpl.HasResource(jsii.String("AWS::KMS::Key"), map[string]any{
			"Properties":     assertions.Match_ObjectLike(&map[string]any{"Description": "dropped"}),
			"DeletionPolicy": "Delete",
		})
		tmpl.HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{"KeyPolicy": assertions.Match_ObjectLike(&map[string]any{
			"Statement": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&map[string]any{"Sid": "DenyGrantsExceptForAwsServices", "Effect": "Deny", "Action": "kms:CreateGrant",
					"Condition": map[string]any{"BoolIfExists": map[string]any{"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}}}),
				assertions.Match_ObjectLike(&map[string]any{"Sid": "AllowCloudWatchLogs", "Condition": assertions.Match_ObjectLike(&map[string]any{
					"ArnLike": assertions.Match_ObjectLike(&map[string]any{"kms:EncryptionContext:aws:logs:arn": assertions.Match_AnyValue()})})}),
			}),
		})})
	})
}

func TestAKeySaysWhatItProtects(t *testing.T) {
	_, err := New(cdktest.Stack(), "Key", Props{})
	errcheck.Contains(t, err, "encryption: Description is empty")
}
