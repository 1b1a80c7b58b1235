// Package stacks wires the constructs into the app's stacks: one regional
// stack and one anywhere stack per on-premises site.
package stacks

import (
	"errors"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/constructs/activation"
	"github.com/ecs-anywhere-stretched/stretched/constructs/alerts"
	"github.com/ecs-anywhere-stretched/stretched/constructs/encryption"
	"github.com/ecs-anywhere-stretched/stretched/constructs/fargateworker"
	"github.com/ecs-anywhere-stretched/stretched/constructs/loggroup"
	"github.com/ecs-anywhere-stretched/stretched/constructs/network"
	"github.com/ecs-anywhere-stretched/stretched/constructs/queuescaling"
	"github.com/ecs-anywhere-stretched/stretched/constructs/registry"
	"github.com/ecs-anywhere-stretched/stretched/constructs/ringgate"
	"github.com/ecs-anywhere-stretched/stretched/constructs/router"
	"github.com/ecs-anywhere-stretched/stretched/constructs/siteagent"
	siteagentcontract "github.com/ecs-anywhere-stretched/stretched/constructs/siteagent/contract"
	"github.com/ecs-anywhere-stretched/stretched/constructs/sitenodes"
	"github.com/ecs-anywhere-stretched/stretched/constructs/storage"
	"github.com/ecs-anywhere-stretched/stretched/constructs/taskcount"
	"github.com/ecs-anywhere-stretched/stretched/constructs/workerspec"
	workerspeccontract "github.com/ecs-anywhere-stretched/stretched/constructs/workerspec/contract"
	"github.com/ecs-anywhere-stretched/stretched/constructs/workqueue"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// Regional is the in-region half: queue, registry, logs, network, EFS and the
// Fargate worker. Anywhere stacks take what they need from it.
type Regional struct {
	awscdk.Stack
	Vpc awsec2.IVpc
	// WorkQueue is the region's queue (every location's when work is
	// shared); its construct id is the one the first version gave the one
	// queue, so an upgrade keeps the queue and its messages.
	WorkQueue *workqueue.WorkQueue
	// Router is the entry producers publish to; nil when work is shared.
	Router     *router.Router
	Repository awsecr.IRepository
	LogGroup   awslogs.ILogGroup
	Spec       *workerspec.Spec
	Cluster    awsecs.ICluster
	Worker     *fargateworker.Worker
	// Alerts is the app's notification topic; every alarm of the app notifies it.
	Alerts *alerts.Alerts
	// Key is the app's KMS key: work queues, logs, the sites' activation
	// records; tagged stretched:fleet.
	Key awskms.IKey
	// Fleet is the app's stack prefix: the site directory's name and the
	// stretched:fleet tag of what the fleet's functions may act on.
	Fleet string
	// alarmMessageAgeSeconds is the age from which a location's oldest
	// message alarms.
	alarmMessageAgeSeconds int
	// maxReceiveCount and visibilityTimeout are the work queues' settings.
	maxReceiveCount   int
	visibilityTimeout awscdk.Duration
	// Agent is the fleet's one site agent.
	Agent *siteagent.Agent
	// Activations is the fleet's one activation function: every site's
	// Custom::SsmActivation and renewals.
	Activations *activation.Fleet
	// TaskCounts and SiteNodes answer every site's Custom::ServiceTaskCount
	// and Custom::SiteNodes.
	TaskCounts *taskcount.Fleet
	SiteNodes  *sitenodes.Fleet
	// Gate is the cell's fleet-health alarm and the pipeline's role in
	// it; nil unless a pipeline deploys the app in cells or rings.
	Gate *ringgate.Gate
}

// RegionalStackProps configure the regional stack.
type RegionalStackProps struct {
	awscdk.StackProps
	// Image is where the worker image comes from. Default: the worker's
	// Dockerfile, built as an image asset at deploy time.
	Image workerspec.ImageSource
	// SiteNames are the on-premises locations' names (the message attribute
	// location the entry routes on). Default: none.
	SiteNames []string
	// OwnInstanceRoles are the instance roles sites bring (their
	// instanceRoleArn): the fleet's activation function may pass exactly
	// these beside the app's own. Default: none.
	OwnInstanceRoles []string
	// Routed gives the region and every site a work queue of their own and
	// an entry topic that routes on the message attribute location; false
	// gives every location the region's queue. Default: false.
	Routed bool
	// EntryTopics is how many entry topics share the locations when work
	// is routed. Default: router's (1).
	EntryTopics int
	// MaxReceiveCount: receives before a message moves to its dead-letter
	// queue. Default: workqueue's.
	MaxReceiveCount int
	// VisibilityTimeout of the work queues. Default: workqueue's.
	VisibilityTimeout awscdk.Duration
	// LogRetentionDays of the worker's and the flow logs. Default: 365.
	LogRetentionDays int
	// NatGateways of the VPC. Default: 0 (tasks in public subnets).
	NatGateways int
	// MinTasks and MaxTasks bound the Fargate service; ScaleOn and
	// BurstAgeSeconds say how it scales. Default: fargateworker's.
	MinTasks, MaxTasks int
	ScaleOn            queuescaling.Mode
	BurstAgeSeconds    int
	// AlarmEmail is subscribed to the alarm topic. Default: none.
	AlarmEmail string
	// AlarmMessageAgeSeconds: a location's oldest message older than this
	// alarms. Required.
	AlarmMessageAgeSeconds int
	// EcrMaxImages is how many tagged images the repository keeps.
	// Default: registry's (20).
	EcrMaxImages int
	// WorkerSecrets are the worker's variables from SSM and Secrets
	// Manager. Default: none.
	WorkerSecrets []workerspeccontract.Secret
	// DashboardName names the dashboard. Required.
	DashboardName string
	// Fleet is the app's stack prefix: the site directory is
	// /<Fleet>/sites and the fleet's functions act only on what is tagged
	// stretched:fleet=<Fleet>. Required.
	Fleet string
	// PermissionsBoundary is the ARN of the managed policy set as the
	// permissions boundary of every role of the stack. Default: none.
	PermissionsBoundary string
	// Gate, when set, adds the cell's fleet-health alarm and the role of
	// the pipeline that deploys it in rings (ringgate). Default: none.
	Gate *GateProps
}

// GateProps say which pipeline deploys a cell in rings.
type GateProps struct {
	// PipelineAccount and PipelineStack are the pipeline's account and
	// stack name. Required.
	PipelineAccount, PipelineStack string
}

// NewRegional makes the regional stack.
func NewRegional(scope constructs.Construct, id string, props *RegionalStackProps) (*Regional, error) {
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	r := &Regional{Stack: stack, Fleet: props.Fleet, maxReceiveCount: props.MaxReceiveCount, visibilityTimeout: props.VisibilityTimeout}
	if props.Fleet == "" {
		return nil, errors.New("regional stack: Fleet is empty: pass the app's stack prefix")
	}
	network.AnswerZoneLookup(stack) // before any child
	bound(stack, props.PermissionsBoundary)

	// The construct ids of the first version's regional resources, which were
	// made directly in the stack: construct ids are API (a new id, or a scope
	// of their own, would replace the key, the repository, the log group, the
	// VPC and the file system, and lose what they hold).
	const keyID, repositoryID, logGroupID, vpcID, fileSystemID = "Key", "Repository", "LogGroup", "Vpc", "FileSystem"
	appKey, err := encryption.New(stack, keyID, encryption.Props{Description: "ecs worker: work queues, logs and the sites' activation records"})
	if err != nil {
		return nil, err
	}
	key := appKey.Key()
	// The fleet's activation function uses keys with the app's tag only.
	awscdk.Tags_Of(key).Add(jsii.String(stackscontract.FleetTagKey), jsii.String(props.Fleet), nil)
	r.Key = key
	if err := r.addLocations(key, props); err != nil {
		return nil, err
	}
	wq := r.WorkQueue

	registry, err := registry.New(stack, repositoryID, registry.Props{MaxImages: props.EcrMaxImages})
	if err != nil {
		return nil, err
	}
	repo := registry.Repository()
	r.Repository = repo
	logs, err := loggroup.New(stack, logGroupID, loggroup.Props{Key: key, RetentionDays: props.LogRetentionDays})
	if err != nil {
		return nil, err
	}
	logGroup := logs.LogGroup()
	r.LogGroup = logGroup
	network, err := network.New(stack, vpcID, network.Props{NatGateways: props.NatGateways, Key: key, LogRetentionDays: props.LogRetentionDays})
	if err != nil {
		return nil, err
	}
	r.Vpc = network.Vpc()
	storage, err := storage.New(stack, fileSystemID, storage.Props{Vpc: network.Vpc(), Subnets: network.TaskSubnets()})
	if err != nil {
		return nil, err
	}
	fs := storage.FileSystem()

	spec, err := workerspec.New(stack, "WorkerSpec", workerspec.Props{
		Image:    props.Image.ContainerImage(repo),
		Queues:   []workerspec.Queue{r.WorkQueue},
		LogGroup: logGroup,
		Secrets:  props.WorkerSecrets,
	})
	if err != nil {
		return nil, err
	}
	r.Spec = spec
	// The previous version's sites ran as these roles (imported): their
	// exports stay until every site's stack moved to roles of its own, or
	// the regional stack's update would fail on exports still in use.
	stack.ExportValue(spec.TaskRole().RoleArn(), nil)
	stack.ExportValue(spec.ExecutionRole().RoleArn(), nil)

	cluster := awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{
		Vpc:                 network.Vpc(),
		ContainerInsightsV2: awsecs.ContainerInsights_ENABLED,
	})
	r.Cluster = cluster

	worker, err := fargateworker.New(stack, "Worker", fargateworker.Props{
		Spec:            spec,
		Queue:           wq.Queue(),
		Cluster:         cluster,
		FileSystem:      fs,
		MinTasks:        props.MinTasks,
		MaxTasks:        props.MaxTasks,
		ScaleOn:         props.ScaleOn,
		BurstAgeSeconds: props.BurstAgeSeconds,
		PublicSubnets:   network.PublicTasks(),
	})
	if err != nil {
		return nil, err
	}
	r.Worker = worker

	// One agent for every site: it reads the site directory each minute.
	retention, err := loggroup.Retention(props.LogRetentionDays)
	if err != nil {
		return nil, err
	}
	agent, err := siteagent.New(stack, "SiteAgent", siteagent.Props{
		Directory: siteagentcontract.SiteDirectory(props.Fleet), Fleet: props.Fleet, Key: key, LogRetention: retention,
	})
	if err != nil {
		return nil, err
	}
	r.Agent = agent
	if err := r.addOperations(props, cluster, worker, logGroup, repo); err != nil {
		return nil, err
	}
	for _, alarm := range agent.Alarms() {
		r.Alerts.Notify(alarm)
	}
	if r.Activations, err = activation.NewFleet(stack, "Activations", activation.FleetProps{Fleet: props.Fleet, Key: key, RecordKey: key, OwnInstanceRoles: props.OwnInstanceRoles, LogRetention: retention}); err != nil {
		return nil, err
	}
	for _, alarm := range r.Activations.Alarms() {
		r.Alerts.Notify(alarm)
	}
	if r.TaskCounts, err = taskcount.NewFleet(stack, "TaskCounts", taskcount.FleetProps{Key: key, LogRetention: retention}); err != nil {
		return nil, err
	}
	if r.SiteNodes, err = sitenodes.NewFleet(stack, "SiteNodes", sitenodes.FleetProps{Fleet: props.Fleet, Key: key, LogRetention: retention}); err != nil {
		return nil, err
	}
	if props.Gate != nil {
		// The region's own alarms (the sites' stacks are deployed after
		// it), with the fleet's count of sites with dead letters.
		r.Alerts.Notify(agent.DeadLettersAlarm())
		var alarms []awscloudwatch.IAlarm
		for _, a := range r.Alerts.Notified() {
			if x, ok := a.(awscloudwatch.IAlarm); ok {
				alarms = append(alarms, x)
			}
		}
		if r.Gate, err = ringgate.New(stack, "RingGate", ringgate.Props{Name: props.Fleet, Alarms: alarms, PipelineAccount: props.Gate.PipelineAccount,
			PipelineStack: props.Gate.PipelineStack, Repository: repo, RegionalStack: *stack.StackName()}); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func output(stack awscdk.Stack, id string, value *string, description string) {
	awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(description)})
}
