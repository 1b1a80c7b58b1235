package registry

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/testkit/cdktest"
	"github.com/ecs-anywhere-stretched/stretched/testkit/errcheck"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

func TestScannedImmutableEncryptedKeepingTaggedImages(t *testing.T) {
	stack := cdktest.Stack()
	if _, err := New(stack, "Repository", Props{MaxImages: 7}); err != nil {
		t.Fatal(err)
	}
	tmpl := cdktest.Template(t, stack)
	cdktest.Assert(t, func() {
		tmpl.HasResourceProperties(jsii.String("AWS::ECR::Repository"), map[string]any{
			"ImageScanningConfiguration": map[string]any{"ScanOnPush": true},
			"ImageTagMutability":         "IMMUTABLE",
			"EncryptionConfiguration":    map[string]any{"EncryptionType": "KMS"},
			"LifecyclePolicy": map[string]any{"LifecyclePolicyText": assertions.Match_SerializedJson(map[string]any{
				"rules": []any{map[string]any{
					"rulePriority": 1, "description": assertions.Match_AnyValue(),
					"selection": map[string]any{"tagStatus": "tagged", "tagPatternList": []any{"*"}, "countType": "imageCountMoreThan", "countNumber": 7},
					"action":    map[string]any{"type": "expire"},
				}},
			})},
			"Tags": assertions.Match_ArrayWith(&[]any{map[string]any{"Key": "stretched:stack", "Value": "Test"}}),
		})
	})
}

func TestBadProps(t *testing.T) {
	_, err := New(cdktest.Stack(), "Repository", Props{MaxImages: -1})
	errcheck.Contains(t, err, "MaxImages is -1", "from 1 to 10000")
}
