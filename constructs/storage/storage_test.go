package storage

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/testkit/cdktest"
	"github.com/ecs-anywhere-stretched/stretched/testkit/errcheck"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

func TestEncryptedBackedUpRetained(t *testing.T) {
	stack := cdktest.Stack()
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(0),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC}}})
	if _, err := New(stack, "FileSystem", Props{Vpc: vpc, Subnets: &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC}}); err != nil {
		t.Fatal(err)
	}
	tmpl := cdktest.Template(t, stack)
	cdktest.Assert(t, func() {
		tmpl.HasResource(jsii.String("AWS::EFS::FileSystem"), map[string]any{
			"Properties": map[string]any{
				"Encrypted":         true,
				"ThroughputMode":    "elastic",
				"BackupPolicy":      map[string]any{"Status": "ENABLED"},
				"LifecyclePolicies": []any{map[string]any{"TransitionToIA": "AFTER_30_DAYS"}},
			},
			"DeletionPolicy": "Retain",
		})
		tmpl.ResourceCountIs(jsii.String("AWS::EFS::MountTarget"), jsii.Number(2))
	})
}

func TestBadProps(t *testing.T) {
	_, err := New(cdktest.Stack(), "FileSystem", Props{})
	errcheck.Contains(t, err, "Vpc or Subnets is nil")
}
