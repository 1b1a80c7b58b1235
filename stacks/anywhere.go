package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/config"
	"github.com/ecs-anywhere-stretched/stretched/constructs/activation"
	"github.com/ecs-anywhere-stretched/stretched/constructs/externalworker"
	"github.com/ecs-anywhere-stretched/stretched/constructs/fleetmanager"
	"github.com/ecs-anywhere-stretched/stretched/constructs/siteagent"
	siteagentcontract "github.com/ecs-anywhere-stretched/stretched/constructs/siteagent/contract"
	"github.com/ecs-anywhere-stretched/stretched/constructs/sitenodes"
	"github.com/ecs-anywhere-stretched/stretched/constructs/taskcount"
	"github.com/ecs-anywhere-stretched/stretched/internal/join"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// Anywhere is one on-premises site: the external cluster its nodes join, the
// instance role and activation they join with, and the EXTERNAL worker.
type Anywhere struct {
	awscdk.Stack
	Cluster      awsecs.ICluster
	InstanceRole awsiam.IRole
	Activation   *activation.Activation
	Worker       *externalworker.Worker
	// Nodes deregisters the site's nodes on destroy; nil with keepNodesOnDestroy.
	Nodes *sitenodes.Nodes
}

// AnywhereStackProps configure one site's stack.
type AnywhereStackProps struct {
	awscdk.StackProps
	// Regional is the regional stack: the site's queue, the worker spec,
	// the alarm topic and the VPC handle the cluster needs. Required.
	Regional *Regional
	// Site is the site's configuration, every default applied. Required.
	Site config.Site
}

// NewAnywhere makes the anywhere stack of one site from the regional stack's
// constructs.
func NewAnywhere(scope constructs.Construct, id string, props *AnywhereStackProps) (*Anywhere, error) {
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	a := &Anywhere{Stack: stack}
	site, regional := props.Site, props.Regional
	// Every role of the site's stack, the instance role among them.
	bound(stack, site.PermissionsBoundary)

	cluster := awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{
		// The VPC is only a required handle here: external instances bring
		// their own network, and this cluster has no capacity in the VPC.
		Vpc:                 regional.Vpc,
		ClusterName:         jsii.String(site.ClusterName),
		ContainerInsightsV2: containerInsights(site.ContainerInsights),
	})
	a.Cluster = cluster

	var role awsiam.IRole
	if site.InstanceRoleArn != "" {
		// The user's own role: the app passes it to SSM and changes nothing on it.
		role = awsiam.Role_FromRoleArn(stack, jsii.String("InstanceRole"), jsii.String(site.InstanceRoleArn), &awsiam.FromRoleArnOptions{Mutable: jsii.Bool(false)})
	} else {
		// In the stack as "InstanceRole", the first version's id: a new one
		// would replace the role the site's nodes are registered with.
		made, err := activation.NewInstanceRole(stack, "InstanceRole", activation.InstanceRoleProps{
			Fleet: regional.Fleet, Cluster: cluster, Description: fmt.Sprintf("ECS Anywhere nodes of site %s: SSM agent and ECS agent", site.Name),
		})
		if err != nil {
			return nil, fmt.Errorf("site %q: %w", site.Name, err)
		}
		role = made.Role()
	}
	a.InstanceRole = role

	act, err := activation.New(stack, "Activation", activation.Props{
		Fleet:               regional.Activations,
		Key:                 regional.Key,
		InstanceRole:        role,
		Site:                site.Activation,
		DefaultInstanceName: site.InstanceName,
		Description:         fmt.Sprintf("ECS Anywhere nodes of site %s, cluster %s", site.Name, site.ClusterName),
		// The cluster by reference: the activation is made after the
		// cluster, which the fleet's function checks the stack holds.
		Tags: map[string]string{"site": site.Name, "cluster": *cluster.ClusterName()},
	})
	if err != nil {
		return nil, fmt.Errorf("site %q: %w", site.Name, err)
	}
	a.Activation = act

	// The site's own queue in its stack (the region's when work is shared).
	siteQueue, err := regional.SiteQueue(stack, site.Name)
	if err != nil {
		return nil, fmt.Errorf("site %q: %w", site.Name, err)
	}
	queue := siteQueue.Queue()
	var entryTopic awssns.ITopic
	if siteQueue != regional.WorkQueue {
		regional.siteQueueAlarms(stack, siteQueue)
		entryTopic = regional.Router.TopicFor(site.Name)
	}
	// The site's tasks run as roles of the site's own: a node holds the
	// credentials of the tasks placed on it.
	worker, err := externalworker.New(stack, "Worker", externalworker.Props{
		Spec: regional.Spec, Cluster: cluster, Queue: siteQueue,
		LogStreamPrefix: externalworker.StreamPrefix + "-" + site.Name,
	})
	if err != nil {
		return nil, fmt.Errorf("site %q: %w", site.Name, err)
	}
	a.Worker = worker
	// The service is created with 0 tasks (no node has joined yet) and keeps
	// the count the agent chose at every later deploy.
	count, err := taskcount.New(stack, "TaskCount", taskcount.Props{
		Fleet: regional.TaskCounts, Cluster: cluster, Service: worker.Service(), TaskDefinition: worker.TaskDefinition(),
	})
	if err != nil {
		return nil, fmt.Errorf("site %q: %w", site.Name, err)
	}
	worker.DeployWith(count.DesiredCount())

	// The fleet's agent (regional) serves the site through its directory
	// entry; the site's part is the entry and its alarms.
	agentSite, err := siteagent.NewSite(stack, "Agent", siteagent.SiteProps{
		Directory: siteagentcontract.SiteDirectory(regional.Fleet), Site: site.Name, Fleet: regional.Fleet,
		Cluster: cluster, Service: worker.Service(), Queue: queue, DeadLetterQueue: siteQueue.DeadLetterQueue(), EntryTopic: entryTopic,
		Tasks: site.Tasks, InstanceRole: role,
	})
	if err != nil {
		return nil, fmt.Errorf("site %q: %w", site.Name, err)
	}
	operator := act.NodeOperatorPolicy(agentSite.Entry(), cluster)
	tagKey, tagValue := act.StackTag()
	if _, err := fleetmanager.New(stack, "Fleet", fleetmanager.Props{TagKey: tagKey, TagValue: tagValue, Site: site.Fleet}); err != nil {
		return nil, fmt.Errorf("site %q: %w", site.Name, err)
	}

	if !site.KeepNodesOnDestroy {
		nodes, err := sitenodes.New(stack, "Nodes", sitenodes.Props{Fleet: regional.SiteNodes, Cluster: cluster, TagKey: tagKey, TagValue: tagValue})
		if err != nil {
			return nil, fmt.Errorf("site %q: %w", site.Name, err)
		}
		// Delete order: the service (its tasks stop), then the nodes, then
		// the cluster (the resource refers to it).
		nodes.DeregisterAfter(worker.Service())
		a.Nodes = nodes
	}

	output(stack, stackscontract.OutputClusterName, cluster.ClusterName(), "external ECS cluster the nodes join")
	output(stack, stackscontract.OutputServiceName, worker.Service().ServiceName(), "EXTERNAL worker service")
	output(stack, stackscontract.OutputActivationSecret, act.Secret().SecretArn(), "Secrets Manager secret with the site's current activation (id, code, expiry as JSON); the renewer keeps it current")
	output(stack, stackscontract.OutputJoinPolicy, act.JoinPolicy().ManagedPolicyArn(), "managed policy that may read the activation: attach it to whoever runs the join command")
	output(stack, stackscontract.OutputNodeOperatorPolicy, operator.ManagedPolicyArn(), "managed policy for fleet node userdata, list, drain and retire: attach it to whoever joins, drains and retires the site's machines")
	output(stack, stackscontract.OutputJoinCommand, jsii.String(join.Command(*stack.Region(), *cluster.ClusterName(), *act.Secret().SecretArn())),
		"run on a node with AWS credentials that have the join policy; append optional install flags such as --enable-gpu")
	return a, nil
}

// containerInsights is a site cluster's Container Insights setting.
func containerInsights(on bool) awsecs.ContainerInsights {
	if on {
		return awsecs.ContainerInsights_ENABLED
	}
	return awsecs.ContainerInsights_DISABLED
}
