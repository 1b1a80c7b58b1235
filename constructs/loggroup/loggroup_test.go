package loggroup

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/testkit/cdktest"
	"github.com/ecs-anywhere-stretched/stretched/testkit/errcheck"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

func TestEncryptedRetainedWithTheRetention(t *testing.T) {
	stack := cdktest.Stack()
	key := awskms.NewKey(stack, jsii.String("Key"), nil)
	if _, err := New(stack, "Logs", Props{Key: key, RetentionDays: 731}); err != nil {
		t.Fatal(err)
	}
	tmpl := cdktest.Template(t, stack)
	cdktest.Assert(t, func() {
		tmpl.HasResource(jsii.String("AWS::Logs::LogGroup"), map[string]any{
			"Properties": map[string]any{
				"RetentionInDays": 731,
				"KmsKeyId":        assertions.Match_ObjectLike(&map[string]any{"Fn::GetAtt": assertions.Match_ArrayWith(&[]any{"Arn"})}),
			},
			"DeletionPolicy": "Retain",
		})
	})
}

func TestEveryRetentionMapsAndNoOther(t *testing.T) {
	for _, d := range Days() {
		if r, err := Retention(d); err != nil || r == "" {
			t.Errorf("%d days: %q, %v", d, r, err)
		}
	}
	_, err := Retention(10)
	errcheck.Contains(t, err, "retention 10 days", "one of [1 3 5")
	_, err = New(cdktest.Stack(), "Logs", Props{RetentionDays: 2})
	errcheck.Contains(t, err, "Key is nil", "retention 2 days")
}
