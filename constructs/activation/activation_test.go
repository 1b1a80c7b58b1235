package activation

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/internal/errcheck"
)

func TestValidate(t *testing.T) {
	defer jsii.Close()
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("S"), nil)
	role := awsiam.NewRole(stack, jsii.String("R"), &awsiam.RoleProps{AssumedBy: awsiam.NewServicePrincipal(jsii.String("ssm.amazonaws.com"), nil)})
	long := strings.Repeat("x", 257)
	cases := []struct {
		name  string
		props Props
		want  []string
	}{
		{"defaults", Props{InstanceRole: role}, nil},
		{"all set", Props{InstanceRole: role, RegistrationLimit: 1000, ExpiryDays: 30, DefaultInstanceName: "node-1.a_b", Description: "d", Tags: map[string]string{"site": "a"}}, nil},
		{"no role", Props{}, []string{"InstanceRole is nil"}},
		{"limit too high", Props{InstanceRole: role, RegistrationLimit: 1001}, []string{"RegistrationLimit is 1001", "from 1 to 1000"}},
		{"limit negative", Props{InstanceRole: role, RegistrationLimit: -1}, []string{"RegistrationLimit is -1"}},
		{"expiry too long", Props{InstanceRole: role, ExpiryDays: 31}, []string{"ExpiryDays is 31", "from 1 to 30"}},
		{"expiry negative", Props{InstanceRole: role, ExpiryDays: -2}, []string{"ExpiryDays is -2"}},
		{"instance name chars", Props{InstanceRole: role, DefaultInstanceName: "node 1"}, []string{`DefaultInstanceName is "node 1"`}},
		{"instance name long", Props{InstanceRole: role, DefaultInstanceName: long}, []string{"DefaultInstanceName is"}},
		{"description long", Props{InstanceRole: role, Description: long}, []string{"Description is 257 characters"}},
		{"tag key aws", Props{InstanceRole: role, Tags: map[string]string{"aws:x": "v"}}, []string{`tag key "aws:x"`}},
		{"tag value long", Props{InstanceRole: role, Tags: map[string]string{"k": long}}, []string{`tag "k" has a value of 257`}},
		{"serial", Props{InstanceRole: role, Serial: -1}, []string{"Serial is -1"}},
		{"every problem at once", Props{RegistrationLimit: 5000, ExpiryDays: 99}, []string{"InstanceRole", "RegistrationLimit", "ExpiryDays"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.props.validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("valid props rejected: %v", err)
				}
				if tc.props.RegistrationLimit < 1 || tc.props.ExpiryDays < 1 || tc.props.HandlerDir == "" {
					t.Errorf("defaults not applied: %+v", tc.props)
				}
				return
			}
			errcheck.Contains(t, err, tc.want...)
			if err.Error() != strings.ToLower(err.Error()[:1])+err.Error()[1:] {
				t.Errorf("messages start lowercase: %q", err)
			}
		})
	}
}

func TestDefaultsAsDocumented(t *testing.T) {
	p := Props{InstanceRole: nil}
	_ = p.validate()
	if p.RegistrationLimit != 10 || p.ExpiryDays != 7 {
		t.Errorf("documented defaults are 10 nodes and 7 days, got %d and %d", p.RegistrationLimit, p.ExpiryDays)
	}
}
