package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/config"
	"github.com/ecs-anywhere-stretched/stretched/constructs/activation"
	"github.com/ecs-anywhere-stretched/stretched/constructs/externalworker"
)

// InstallScriptURL is the ECS Anywhere install script every node runs.
const InstallScriptURL = "https://amazon-ecs-agent.s3.amazonaws.com/ecs-anywhere-install-latest.sh"

// Anywhere is one on-premises site: the external cluster its nodes join, the
// instance role and activation they join with, and the EXTERNAL worker.
type Anywhere struct {
	awscdk.Stack
	Cluster      awsecs.ICluster
	InstanceRole awsiam.IRole
	Activation   *activation.Activation
	Worker       *externalworker.Worker
}

// NewAnywhere makes the anywhere stack of one site from the regional stack's
// constructs.
func NewAnywhere(scope constructs.Construct, id string, props *awscdk.StackProps, site config.Site, regional *Regional) (*Anywhere, error) {
	stack := awscdk.NewStack(scope, jsii.String(id), props)
	a := &Anywhere{Stack: stack}

	cluster := awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{
		// The VPC is only a required handle here: external instances bring
		// their own network, and this cluster has no capacity in the VPC.
		Vpc:                 regional.Vpc,
		ClusterName:         jsii.String(site.ClusterName),
		ContainerInsightsV2: awsecs.ContainerInsights_ENABLED,
	})
	a.Cluster = cluster

	roleProps := &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ssm.amazonaws.com"), nil),
		Description: jsii.String(fmt.Sprintf("ECS Anywhere nodes of site %s: SSM agent and ECS agent", site.Name)),
		ManagedPolicies: &[]awsiam.IManagedPolicy{
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AmazonSSMManagedInstanceCore")),
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("service-role/AmazonEC2ContainerServiceforEC2Role")),
		},
	}
	if site.PermissionsBoundary != "" {
		roleProps.PermissionsBoundary = awsiam.ManagedPolicy_FromManagedPolicyArn(stack, jsii.String("Boundary"), jsii.String(site.PermissionsBoundary))
	}
	role := awsiam.NewRole(stack, jsii.String("InstanceRole"), roleProps)
	a.InstanceRole = role

	act, err := activation.New(stack, "Activation", activation.Props{
		InstanceRole:        role,
		RegistrationLimit:   site.SiteRegistrationLimit(),
		ExpiryDays:          site.SiteExpiryDays(),
		Serial:              site.SiteActivationSerial(),
		DefaultInstanceName: site.InstanceName,
		Description:         fmt.Sprintf("ECS Anywhere nodes of site %s, cluster %s", site.Name, site.ClusterName),
		Tags:                map[string]string{"site": site.Name, "cluster": site.ClusterName},
	})
	if err != nil {
		return nil, fmt.Errorf("site %q: %w", site.Name, err)
	}
	a.Activation = act

	worker, err := externalworker.New(stack, "Worker", externalworker.Props{
		Spec:         regional.Spec,
		Cluster:      cluster,
		DesiredCount: site.SiteDesiredCount(),
		ZeroTasks:    site.SiteDesiredCount() == 0,
	})
	if err != nil {
		return nil, fmt.Errorf("site %q: %w", site.Name, err)
	}
	a.Worker = worker

	output(stack, "ClusterName", cluster.ClusterName(), "external ECS cluster the nodes join")
	output(stack, "ServiceName", worker.Service().ServiceName(), "EXTERNAL worker service")
	output(stack, "ActivationId", act.ActivationID(), "SSM activation id (not secret)")
	output(stack, "ActivationExpiry", act.ExpirationDate(), "after this the activation accepts no new node; raise the site's activationSerial and deploy to get a new one")
	output(stack, "ActivationCodeSecretArn", act.Secret().SecretArn(), "Secrets Manager secret holding the activation code")
	output(stack, "JoinPolicyArn", act.JoinPolicy().ManagedPolicyArn(), "managed policy that may read the code: attach it to whoever runs the join command")
	output(stack, "JoinCommand", JoinCommand(stack, cluster.ClusterName(), act), "run on a node as root, with AWS credentials that have the join policy")
	return a, nil
}

// JoinCommand is the shell command that joins a node: it reads the activation
// code from Secrets Manager when it runs, so the code is in no template or output.
func JoinCommand(stack awscdk.Stack, clusterName *string, act *activation.Activation) *string {
	return awscdk.Fn_Join(jsii.String(""), jsii.Strings(
		"curl --proto '=https' --tlsv1.2 -fsSL -o /tmp/ecs-anywhere-install.sh ", InstallScriptURL,
		" && sudo bash /tmp/ecs-anywhere-install.sh --region ", *stack.Region(),
		" --cluster ", *clusterName,
		" --activation-id ", *act.ActivationID(),
		" --activation-code \"$(aws secretsmanager get-secret-value --region ", *stack.Region(),
		" --secret-id ", *act.Secret().SecretArn(),
		" --query SecretString --output text)\"",
	))
}
