// Package activation is a site's SSM hybrid activation, kept current by one
// Go Lambda for the whole fleet (NewFleet, in the regional stack; handler
// "activation"): it answers the site's Custom::SsmActivation on every deploy
// (its handler, ./handler) and renews the site's activation on the site's own
// schedule (./handler too; an EventBridge Scheduler schedule per site, so
// sites add no EventBridge rule), replacing it before it expires or fills up.
// The site's Secrets Manager secret is the one record of the current
// activation (id, code, expiry); the code never appears in a template,
// output, log line or response.
package activation

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ecs-anywhere-stretched/stretched/constructs/activation/contract"
	"github.com/ecs-anywhere-stretched/stretched/constructs/gofunction"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// Props configure the activation.
type Props struct {
	// Fleet is the fleet's activation function (NewFleet) that answers the
	// custom resource and renews. Required.
	Fleet *Fleet
	// Key encrypts the secret: the app's key, shared by the sites (a key per
	// site was USD 1 a month each), tagged stretched:fleet like everything
	// the fleet's function may use. Its ARN is one of the custom resource's
	// properties, so a new key makes the next deploy write the record anew
	// under it. Required.
	Key awskms.IKey
	// InstanceRole is the role SSM gives the nodes that join; it must trust
	// ssm.amazonaws.com and carry the tag stretched:fleet = the fleet's
	// prefix (the fleet's function may pass only such roles). Bring your
	// own, or one from NewInstanceRole under an id of your choosing.
	// Default: NewInstanceRole as "InstanceRole" inside the construct,
	// limited to Cluster.
	InstanceRole awsiam.IRole
	// Cluster is the site's external cluster, which the default instance
	// role is limited to. Required when InstanceRole is nil.
	Cluster awsecs.ICluster
	// Site is the site's activation settings (the site settings
	// registrationLimit, activationExpiryDays, activationSerial,
	// activationRenewDays, activationRenewSchedule): nodes per activation
	// (1..1000), days an activation accepts nodes (1..30), the serial to
	// change for a new activation (1..1000000), the renewal's days before
	// expiry (0 turns renewal off: no schedule is made; less than the expiry
	// days) and its EventBridge schedule. Default (the zero value):
	// contract.DefaultSiteSettings(), 10 nodes, 7 days, serial 1, renewed 2
	// days before expiry, checked daily; a Site that sets any field is taken
	// as given.
	Site contract.SiteSettings
	// DefaultInstanceName is the name SSM gives joined nodes. Default: none
	// (SSM shows the host name). Allowed: 1..256 of letters, digits, '.', '-', '_'.
	DefaultInstanceName string
	// Description of the activation. Default: none. Allowed: at most 256 characters.
	Description string
	// Tags of the activation (and so of the nodes that join). The tag
	// stackscontract.StackTagKey = the stack name is always added. Default: none.
	// Allowed: keys among SiteTagKeys (the fleet's function may create
	// activations with those tags only), values 0..256 characters.
	Tags map[string]string
}

// SiteTagKeys are the tag keys a site's activations may carry beside
// stackscontract.StackTagKey.
var SiteTagKeys = []string{contract.TagCluster, contract.TagSite}

// Activation is the activation, the secret that records it, its key and
// the site's renewal schedule.
type Activation struct {
	constructs.Construct
	resource   awscdk.CustomResource
	secret     awssecretsmanager.Secret
	key        awskms.IKey
	joinPolicy awsiam.ManagedPolicy
	stackTag   string
	tags       map[string]string
	role       awsiam.IRole
}

var instanceNameRe = regexp.MustCompile(contract.InstanceNamePattern)

// withDefaults returns the props with every default applied.
func (p Props) withDefaults() Props {
	if p.Site == (contract.SiteSettings{}) {
		p.Site = contract.DefaultSiteSettings()
	}
	return p
}

func (p Props) validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("activation: "+format, args...)) }
	if p.Fleet == nil {
		add("Fleet is nil: pass the fleet's activation function (activation.NewFleet in the regional stack)")
	}
	if p.Key == nil {
		add("Key is nil: pass the app's KMS key (tagged stretched:fleet) to encrypt the activation record")
	}
	if p.InstanceRole == nil && p.Cluster == nil {
		add("InstanceRole and Cluster are nil: pass the site's cluster (the default instance role is limited to it) or a role of your own")
	}
	for _, problem := range p.Site.Problems() {
		errs = append(errs, fmt.Errorf("activation: Site.%w", problem))
	}
	if n := p.DefaultInstanceName; n != "" && !instanceNameRe.MatchString(n) {
		add("DefaultInstanceName is %q: must be 1 to %d letters, digits, '.', '-' or '_'", n, contract.MaxInstanceName)
	}
	if len(p.Description) > contract.MaxDescription {
		add("Description is %d characters long: must be at most %d", len(p.Description), contract.MaxDescription)
	}
	for _, k := range sortedKeys(p.Tags) {
		if !slices.Contains(SiteTagKeys, k) {
			add("tag key %q: must be one of %s (the fleet's activation function may create activations with those tags only; %q is set by the construct)", k, strings.Join(SiteTagKeys, ", "), stackscontract.StackTagKey)
		}
		if len(p.Tags[k]) > contract.MaxTagValue {
			add("tag %q has a value of %d characters: must be at most %d", k, len(p.Tags[k]), contract.MaxTagValue)
		}
	}
	return errors.Join(errs...)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// New makes the site's secret, the custom resource the fleet's function
// answers, the site's renewal schedule (unless renewal is off) and the join
// policy. The secret carries the tag stretched:fleet: the fleet's function
// may use only such.
func New(scope constructs.Construct, id string, props Props) (*Activation, error) {
	p := props.withDefaults()
	if err := p.validate(); err != nil {
		return nil, err
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(c)
	if p.InstanceRole == nil {
		role, err := NewInstanceRole(c, "InstanceRole", InstanceRoleProps{Fleet: p.Fleet.fleet, Cluster: p.Cluster})
		if err != nil {
			return nil, err
		}
		p.InstanceRole = role.Role()
	}
	a := &Activation{Construct: c, stackTag: *stack.StackName(), tags: p.Tags, role: p.InstanceRole}

	key := p.Key
	a.key = key
	a.secret = awssecretsmanager.NewSecret(c, jsii.String("Code"), &awssecretsmanager.SecretProps{
		Description:   jsii.String("the site's current ssm activation (id, code, expiry) as JSON, written by the activation custom resource and its renewer"),
		EncryptionKey: key,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	awscdk.Tags_Of(a.secret).Add(jsii.String(stackscontract.FleetTagKey), jsii.String(p.Fleet.fleet), nil)

	properties := a.properties(p)
	a.resource = gofunction.AnsweredBy(c, p.Fleet.function, contract.ResourceType, properties)

	if p.Site.RenewDays > 0 {
		// The renewal's input is the custom resource's properties: both
		// make activations alike.
		input := stack.ToJsonString(map[string]any{
			contract.RenewalSettings:  properties,
			contract.RenewalRenewDays: p.Site.RenewDays,
		}, nil)
		schedule := awsscheduler.NewCfnSchedule(c, jsii.String("Renewal"), &awsscheduler.CfnScheduleProps{
			Description:        jsii.String(fmt.Sprintf("renews the activation of stack %s when it expires within %d days or is full", a.stackTag, p.Site.RenewDays)),
			ScheduleExpression: jsii.String(p.Site.RenewSchedule),
			FlexibleTimeWindow: &awsscheduler.CfnSchedule_FlexibleTimeWindowProperty{Mode: jsii.String("OFF")},
			Target: &awsscheduler.CfnSchedule_TargetProperty{
				Arn:     p.Fleet.function.FunctionArn(),
				RoleArn: p.Fleet.schedulerRole.RoleArn(),
				Input:   input,
				RetryPolicy: &awsscheduler.CfnSchedule_RetryPolicyProperty{
					MaximumRetryAttempts:     jsii.Number(2),
					MaximumEventAgeInSeconds: jsii.Number(3600),
				},
			},
		})
		// On delete the schedule goes before the activation resource: a run
		// between the two would see the activation gone and make a new one
		// that nothing deletes.
		schedule.Node().AddDependency(a.resource)
	}

	cdknag.NagSuppressions_AddResourceSuppressions(a.secret, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SMG4"),
		Reason: jsii.String("the value is an SSM activation that only SSM can issue: the renewer replaces it on a schedule (a new activation), not a rotation Lambda"),
	}}, jsii.Bool(false))
	viaSecretsManager := &map[string]any{"StringEquals": map[string]any{"kms:ViaService": fmt.Sprintf("secretsmanager.%s.amazonaws.com", *stack.Region())}}
	a.joinPolicy = awsiam.NewManagedPolicy(c, jsii.String("JoinPolicy"), &awsiam.ManagedPolicyProps{
		Description: jsii.String("read the site's current ssm activation to join ECS Anywhere nodes; attach to whoever runs the join command"),
		Statements: &[]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
				Resources: jsii.Strings(*a.secret.SecretArn()),
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:    jsii.Strings("kms:Decrypt"),
				Resources:  jsii.Strings(*key.KeyArn()),
				Conditions: viaSecretsManager,
			}),
		},
	})
	return a, nil
}

// properties are the custom resource's properties; the renewer gets the
// same values as JSON, so both make activations alike.
func (a *Activation) properties(p Props) map[string]any {
	tags := []map[string]string{{"Key": stackscontract.StackTagKey, "Value": a.stackTag}}
	for _, k := range sortedKeys(p.Tags) {
		tags = append(tags, map[string]string{"Key": k, "Value": p.Tags[k]})
	}
	properties := map[string]any{
		contract.PropIamRole:           p.InstanceRole.RoleName(),
		contract.PropRegistrationLimit: fmt.Sprint(p.Site.RegistrationLimit),
		contract.PropExpiryDays:        fmt.Sprint(p.Site.ExpiryDays),
		contract.PropSecretArn:         a.secret.SecretArn(),
		contract.PropSecretKey:         p.Key.KeyArn(),
		contract.PropSerial:            fmt.Sprint(p.Site.Serial),
		contract.PropTags:              tags,
	}
	if p.DefaultInstanceName != "" {
		properties[contract.PropDefaultInstanceName] = p.DefaultInstanceName
	}
	if p.Description != "" {
		properties[contract.PropDescription] = p.Description
	}
	return properties
}

// NodeOperatorPolicy makes the managed policy (id "NodeOperatorPolicy",
// beside the join policy) for whoever runs `fleet node userdata` for the
// site: read the site's directory entry, make activations only tagged with
// the site's stack (and the sites' tag keys only), pass only the site's
// instance role, and only to SSM.
func (a *Activation) NodeOperatorPolicy(entry awsssm.IStringParameter, cluster awsecs.ICluster) awsiam.ManagedPolicy {
	stack := awscdk.Stack_Of(a.Construct)
	inCluster := &map[string]any{"ArnEquals": map[string]any{"ecs:cluster": *cluster.ClusterArn()}}
	// The site's nodes in SSM: every managed instance, limited to the ones
	// tagged with the site's stack.
	siteInstances := jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ssm"), Resource: jsii.String("managed-instance"), ResourceName: jsii.String("*")}))
	onSiteNodes := &map[string]any{"StringEquals": map[string]any{"ssm:resourceTag/" + stackscontract.StackTagKey: a.stackTag}}
	keys := append([]string{stackscontract.StackTagKey}, SiteTagKeys...)
	sort.Strings(keys)
	// Every tag an activation of the site carries, pinned: a batch tagged
	// with another site's name or cluster would look like that site's.
	requestTags := map[string]any{"aws:RequestTag/" + stackscontract.StackTagKey: a.stackTag}
	for k, v := range a.tags {
		requestTags["aws:RequestTag/"+k] = v
	}
	p := awsiam.NewManagedPolicy(a.Construct, jsii.String("NodeOperatorPolicy"), &awsiam.ManagedPolicyProps{
		Description: jsii.String("fleet node userdata, list, drain, retire and update-agents for this site: read its directory entry, make a batch's activation (tagged with the site's stack) and pass its instance role to SSM, list, drain and deregister its nodes in its cluster and SSM"),
		Statements: &[]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("ReadSiteEntry"),
				Actions:   jsii.Strings("ssm:GetParameter"),
				Resources: jsii.Strings(*entry.ParameterArn()),
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("BatchActivation"),
				Actions:   jsii.Strings("ssm:CreateActivation"),
				Resources: jsii.Strings("*"),
				Conditions: &map[string]any{
					"StringEquals":              requestTags,
					"ForAllValues:StringEquals": map[string]any{"aws:TagKeys": keys},
				},
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("SiteNodesInECS"),
				Actions:   jsii.Strings("ecs:ListContainerInstances", "ecs:DeregisterContainerInstance"),
				Resources: jsii.Strings(*cluster.ClusterArn()),
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:     jsii.String("DrainSiteNodes"),
				Actions: jsii.Strings("ecs:DescribeContainerInstances", "ecs:UpdateContainerInstancesState"),
				Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{
					Service: jsii.String("ecs"), Resource: jsii.String("container-instance"), ResourceName: jsii.String(*cluster.ClusterName() + "/*"),
				})),
				Conditions: inCluster,
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("FindManagedInstances"),
				Actions:   jsii.Strings("ssm:DescribeInstanceInformation"),
				Resources: jsii.Strings("*"),
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String("RetireSiteManagedInstances"),
				Actions:    jsii.Strings("ssm:DeregisterManagedInstance"),
				Resources:  siteInstances,
				Conditions: onSiteNodes,
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:     jsii.String("UpdateAgentsDocument"),
				Actions: jsii.Strings("ssm:SendCommand"),
				Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{
					// AWS's own documents have no account in their ARN: '*' matches it.
					Service: jsii.String("ssm"), Account: jsii.String("*"), Resource: jsii.String("document"), ResourceName: jsii.String("AWS-RunShellScript"),
				})),
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String("UpdateAgentsOnSiteNodes"),
				Actions:    jsii.Strings("ssm:SendCommand"),
				Resources:  siteInstances,
				Conditions: onSiteNodes,
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:     jsii.String("RecommendedAgentVersion"),
				Actions: jsii.Strings("ssm:GetParameter"),
				Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{
					// AWS's public parameters have no account in their ARN: '*' matches it.
					Service: jsii.String("ssm"), Account: jsii.String("*"), Resource: jsii.String("parameter"), ResourceName: jsii.String(contract.RecommendedAgentParameter[1:]),
				})),
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("ReadUpdateResults"),
				Actions:   jsii.Strings("ssm:GetCommandInvocation"),
				Resources: jsii.Strings("*"),
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String("PassSiteRole"),
				Actions:    jsii.Strings("iam:PassRole"),
				Resources:  jsii.Strings(*a.role.RoleArn()),
				Conditions: &map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "ssm.amazonaws.com"}},
			}),
		},
	})
	cdknag.NagSuppressions_AddResourceSuppressions(p, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		AppliesTo: &[]any{jsii.String("Resource::*"), &cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:.+:(ecs:.+:container-instance\/.+\/\*|ssm:.+:managed-instance\/\*|ssm:.+:\*:document\/AWS-RunShellScript|ssm:.+:\*:parameter\/aws\/service\/ecs\/optimized-ami\/amazon-linux-2023\/recommended)$/`)}},
		Reason:    jsii.String("ssm:CreateActivation, ssm:DescribeInstanceInformation and ssm:GetCommandInvocation have no resource-level permissions (the first is allowed only with the site's stack tag and the sites' tag keys, the others only read); Run Command only with AWS-RunShellScript and the recommended ECS agent version read from AWS's one public parameter (AWS's own: their ARNs have no account, hence '*') and only on the site's managed instances (tag); container instances are the site cluster's only (ecs:cluster), managed instances only those tagged with the site's stack"),
	}}, jsii.Bool(false))
	return p
}

// Secret records the current activation; nodes read it when they join.
func (a *Activation) Secret() awssecretsmanager.ISecret { return a.secret }

// Key encrypts the secret.
func (a *Activation) Key() awskms.IKey { return a.key }

// JoinPolicy may read the current activation; attach it to the people or
// roles that join nodes.
func (a *Activation) JoinPolicy() awsiam.IManagedPolicy { return a.joinPolicy }

// StackTag is the tag every activation of the site, and so every node that
// joined through one, carries: stackscontract.StackTagKey = the stack name.
func (a *Activation) StackTag() (key, value string) { return stackscontract.StackTagKey, a.stackTag }
