package workqueue

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/testkit/cdktest"
	"github.com/ecs-anywhere-stretched/stretched/testkit/errcheck"
)

// Bad props are refused by New, before anything is made, naming each problem.
func TestNewRefusesBadProps(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props Props
		want  []string
	}{
		{"no key", Props{MaxReceiveCount: 3}, []string{"Key is nil"}},
		{"receive count", Props{MaxReceiveCount: 1001}, []string{"Key is nil", "MaxReceiveCount is 1001", "from 1 to 1000"}},
		{"negative", Props{MaxReceiveCount: -4}, []string{"MaxReceiveCount is -4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(nil, "Queue", tc.props)
			errcheck.Contains(t, err, tc.want...)
		})
	}
}

func TestMain(m *testing.M) { cdktest.Main(m) }

// The queue and its dead-letter queue are encrypted with the key; a
// consumer's grant is the four consume actions on the work queue (not the
// dead-letter queue) and kms:Decrypt on the key, and it is returned to the
// caller.
func TestConsumerGrant(t *testing.T) {
	stack := cdktest.Stack()
	key := awskms.NewKey(stack, jsii.String("Key"), nil)
	wq, err := New(stack, "Work", Props{Key: key, MaxReceiveCount: 3})
	if err != nil {
		t.Fatal(err)
	}
	role := awsiam.NewRole(stack, jsii.String("Consumer"), &awsiam.RoleProps{AssumedBy: awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil)})
	grant := wq.GrantConsume(role)
	if !*grant.Success() || len(*grant.PrincipalStatements()) != 2 {
		t.Fatalf("grant: success %v, %d principal statements, want 2", *grant.Success(), len(*grant.PrincipalStatements()))
	}
	tmpl := cdktest.Template(t, stack)
	cdktest.Assert(t, func() {
		tmpl.ResourceCountIs(jsii.String("AWS::SQS::Queue"), jsii.Number(2))
		tmpl.HasResourceProperties(jsii.String("AWS::SQS::Queue"), map[string]any{
			"RedrivePolicy":  map[string]any{"maxReceiveCount": 3, "deadLetterTargetArn": assertions.Match_AnyValue()},
			"KmsMasterKeyId": assertions.Match_AnyValue(),
		})
		tmpl.HasResourceProperties(jsii.String("AWS::IAM::Policy"), map[string]any{
			"PolicyDocument": map[string]any{"Statement": []any{
				map[string]any{"Effect": "Allow", "Action": ConsumeActions, "Resource": assertions.Match_AnyValue()},
				map[string]any{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": assertions.Match_AnyValue()},
			}},
		})
	})
}
