package activation

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/constructs/activation/contract"
	"github.com/ecs-anywhere-stretched/stretched/testkit/cdktest"
	"github.com/ecs-anywhere-stretched/stretched/testkit/errcheck"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

func TestValidate(t *testing.T) {
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("S"), nil)
	role := awsiam.NewRole(stack, jsii.String("R"), &awsiam.RoleProps{AssumedBy: awsiam.NewServicePrincipal(jsii.String("ssm.amazonaws.com"), nil)})
	fleet := &Fleet{fleet: "T"}
	key := awskms.NewKey(stack, jsii.String("K"), nil)
	cluster := awsecs.Cluster_FromClusterArn(stack, jsii.String("C"), jsii.String("arn:aws:ecs:eu-west-1:123456789012:cluster/site"))
	long := strings.Repeat("x", 257)
	cases := []struct {
		name  string
		props Props
		want  []string
	}{
		{"defaults", Props{Fleet: fleet, Key: key, InstanceRole: role}, nil},
		{"all set", Props{Fleet: fleet, Key: key, InstanceRole: role, Site: set(func(s *contract.SiteSettings) { s.RegistrationLimit, s.ExpiryDays = 1000, 30 }), DefaultInstanceName: "node-1.a_b", Description: "d", Tags: map[string]string{"site": "a"}}, nil},
		{"no role: the construct makes one", Props{Fleet: fleet, Key: key, Cluster: cluster}, nil},
		{"no role and no cluster", Props{Fleet: fleet, Key: key}, []string{"InstanceRole and Cluster are nil"}},
		{"no fleet", Props{Key: key, InstanceRole: role}, []string{"Fleet is nil", "activation.NewFleet"}},
		{"no key", Props{Fleet: fleet, InstanceRole: role}, []string{"Key is nil", "stretched:fleet"}},
		{"tag the fleet may not set", Props{Fleet: fleet, Key: key, InstanceRole: role, Tags: map[string]string{"team": "a"}}, []string{`tag key "team": must be one of cluster, site`}},
		{"limit too high", Props{Fleet: fleet, Key: key, InstanceRole: role, Site: set(func(s *contract.SiteSettings) { s.RegistrationLimit = 1001 })}, []string{"registrationLimit is 1001", "from 1 to 1000"}},
		{"limit negative", Props{Fleet: fleet, Key: key, InstanceRole: role, Site: set(func(s *contract.SiteSettings) { s.RegistrationLimit = -1 })}, []string{"registrationLimit is -1"}},
		{"expiry too long", Props{Fleet: fleet, Key: key, InstanceRole: role, Site: set(func(s *contract.SiteSettings) { s.ExpiryDays = 31 })}, []string{"activationExpiryDays is 31", "from 1 to 30"}},
		{"expiry negative", Props{Fleet: fleet, Key: key, InstanceRole: role, Site: set(func(s *contract.SiteSettings) { s.ExpiryDays = -2 })}, []string{"activationExpiryDays is -2"}},
		{"instance name chars", Props{Fleet: fleet, Key: key, InstanceRole: role, DefaultInstanceName: "node 1"}, []string{`DefaultInstanceName is "node 1"`}},
		{"instance name long", Props{Fleet: fleet, Key: key, InstanceRole: role, DefaultInstanceName: long}, []string{"DefaultInstanceName is"}},
		{"description long", Props{Fleet: fleet, Key: key, InstanceRole: role, Description: long}, []string{"Description is 257 characters"}},
		{"tag key aws", Props{Fleet: fleet, Key: key, InstanceRole: role, Tags: map[string]string{"aws:x": "v"}}, []string{`tag key "aws:x"`}},
		{"tag value long", Props{Fleet: fleet, Key: key, InstanceRole: role, Tags: map[string]string{"k": long}}, []string{`tag "k" has a value of 257`}},
		{"serial", Props{Fleet: fleet, Key: key, InstanceRole: role, Site: set(func(s *contract.SiteSettings) { s.Serial = -1 })}, []string{"activationSerial is -1"}},
		{"renewal off", Props{Fleet: fleet, Key: key, InstanceRole: role, Site: set(func(s *contract.SiteSettings) { s.RenewDays = 0 })}, nil},
		{"renew days not below expiry", Props{Fleet: fleet, Key: key, InstanceRole: role, Site: set(func(s *contract.SiteSettings) { s.ExpiryDays, s.RenewDays = 3, 3 })}, []string{"activationRenewDays is 3", "from 0 (no renewal) to 2"}},
		{"renew days negative", Props{Fleet: fleet, Key: key, InstanceRole: role, Site: set(func(s *contract.SiteSettings) { s.RenewDays = -1 })}, []string{"activationRenewDays is -1"}},
		{"schedule", Props{Fleet: fleet, Key: key, InstanceRole: role, Site: set(func(s *contract.SiteSettings) { s.RenewSchedule = "daily" })}, []string{`activationRenewSchedule is "daily"`, "rate(1 day)"}},
		{"cron schedule", Props{Fleet: fleet, Key: key, InstanceRole: role, Site: set(func(s *contract.SiteSettings) { s.RenewSchedule = "cron(0 3 * * ? *)" })}, nil},
		{"stack tag is the construct's", Props{Fleet: fleet, Key: key, InstanceRole: role, Tags: map[string]string{"stretched:stack": "x"}}, []string{`tag key "stretched:stack"`}},
		{"every problem at once", Props{Site: set(func(s *contract.SiteSettings) { s.RegistrationLimit, s.ExpiryDays = 5000, 99 })}, []string{"Fleet", "Key", "registrationLimit", "activationExpiryDays"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.props.withDefaults().validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("valid props rejected: %v", err)
				}
				return
			}
			errcheck.Contains(t, err, tc.want...)
			// Every problem is its own line, naming the package first.
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "activation: ") {
					t.Errorf("problem line %q does not start with the package name", line)
				}
			}
		})
	}
}

func TestDefaultsAsDocumented(t *testing.T) {
	p := Props{}.withDefaults().Site
	if p.RegistrationLimit != 10 || p.ExpiryDays != 7 || p.RenewDays != 2 || p.RenewSchedule != "rate(1 day)" || p.Serial != 1 {
		t.Errorf("documented defaults are 10 nodes, 7 days, renew 2 days before expiry daily, serial 1; got %+v", p)
	}
	off := set(func(s *contract.SiteSettings) { s.RenewDays = 0 })
	if got := (Props{Site: off}).withDefaults().Site; got.RenewDays != 0 {
		t.Error("RenewDays 0 must stay 0 (renewal off), not become the default")
	}
}

// set is the default site settings with one change.
func set(change func(*contract.SiteSettings)) contract.SiteSettings {
	s := contract.DefaultSiteSettings()
	change(&s)
	return s
}

// A site's instance role: trusted by SSM for this account and region
// only, no AWS managed policy, the agents' actions limited to the site's
// cluster, and the fleet's tag (the only roles the fleet's function may
// pass).
func TestInstanceRole(t *testing.T) {
	stack := cdktest.Stack()
	cluster := awsecs.Cluster_FromClusterArn(stack, jsii.String("C"), jsii.String("arn:aws:ecs:eu-west-1:123456789012:cluster/site"))
	if _, err := NewInstanceRole(stack, "InstanceRole", InstanceRoleProps{Fleet: "App", Cluster: cluster}); err != nil {
		t.Fatal(err)
	}
	tmpl := cdktest.Template(t, stack)
	cdktest.Assert(t, func() {
		tmpl.HasResourceProperties(jsii.String("AWS::IAM::Role"), map[string]any{
			"AssumeRolePolicyDocument": map[string]any{"Statement": []any{map[string]any{
				"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": map[string]any{"Service": "ssm.amazonaws.com"},
				"Condition": map[string]any{
					"StringEquals": map[string]any{"aws:SourceAccount": assertions.Match_AnyValue()},
					"ArnLike":      map[string]any{"aws:SourceArn": assertions.Match_AnyValue()},
				},
			}}},
			"ManagedPolicyArns": assertions.Match_Absent(),
			"Policies": []any{map[string]any{"PolicyName": "Agents", "PolicyDocument": map[string]any{
				"Statement": assertions.Match_ArrayWith(&[]any{
					assertions.Match_ObjectLike(&map[string]any{"Sid": "EcsAgentCluster", "Resource": "arn:aws:ecs:eu-west-1:123456789012:cluster/site"}),
					assertions.Match_ObjectLike(&map[string]any{"Sid": "EcsAgentInstances", "Condition": map[string]any{"ArnEquals": map[string]any{"ecs:cluster": "arn:aws:ecs:eu-west-1:123456789012:cluster/site"}}}),
				}),
				"Version": "2012-10-17",
			}}},
			"Tags": []any{map[string]any{"Key": "stretched:fleet", "Value": "App"}},
		})
	})
	_, err := NewInstanceRole(cdktest.Stack(), "InstanceRole", InstanceRoleProps{})
	errcheck.Contains(t, err, "InstanceRoleProps.Fleet is empty", "InstanceRoleProps.Cluster is nil")
}
