// Package stacks wires the constructs into the app's stacks: one regional
// stack and one anywhere stack per on-premises site.
package stacks

import (
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/constructs/alerts"
	"github.com/ecs-anywhere-stretched/stretched/constructs/dashboard"
	"github.com/ecs-anywhere-stretched/stretched/constructs/encryption"
	"github.com/ecs-anywhere-stretched/stretched/constructs/fargateworker"
	"github.com/ecs-anywhere-stretched/stretched/constructs/loggroup"
	"github.com/ecs-anywhere-stretched/stretched/constructs/network"
	"github.com/ecs-anywhere-stretched/stretched/constructs/queuescaling"
	"github.com/ecs-anywhere-stretched/stretched/constructs/registry"
	"github.com/ecs-anywhere-stretched/stretched/constructs/router"
	"github.com/ecs-anywhere-stretched/stretched/constructs/storage"
	"github.com/ecs-anywhere-stretched/stretched/constructs/workerspec"
	"github.com/ecs-anywhere-stretched/stretched/constructs/workqueue"
	"github.com/ecs-anywhere-stretched/stretched/internal/names"
	"github.com/ecs-anywhere-stretched/stretched/internal/workersecrets"
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
	// Queues are the work queues by location ("region" and each site's
	// name); with shared work every location has WorkQueue.
	Queues map[string]*workqueue.WorkQueue
	// Router is the entry producers publish to; nil when work is shared.
	Router     *router.Router
	Repository awsecr.IRepository
	LogGroup   awslogs.ILogGroup
	Spec       *workerspec.Spec
	Cluster    awsecs.ICluster
	Worker     *fargateworker.Worker
	// Alerts is the app's notification topic; every alarm of the app notifies it.
	Alerts *alerts.Alerts
}

// RegionalStackProps configure the regional stack.
type RegionalStackProps struct {
	awscdk.StackProps
	// Image is where the worker image comes from. Default: the worker's
	// Dockerfile, built as an image asset at deploy time.
	Image workerspec.ImageSource
	// Sites are the on-premises locations: their names (message attribute
	// location) and clusters (for the dashboard). Default: none.
	Sites []dashboard.Site
	// Routed gives the region and every site a work queue of their own and
	// an entry topic that routes on the message attribute location; false
	// gives every location the region's queue. Default: false.
	Routed bool
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
	WorkerSecrets []workersecrets.Secret
	// DashboardName names the dashboard. Required.
	DashboardName string
	// PermissionsBoundary is the ARN of the managed policy set as the
	// permissions boundary of every role of the stack. Default: none.
	PermissionsBoundary string
}

// NewRegional makes the regional stack.
func NewRegional(scope constructs.Construct, id string, props *RegionalStackProps) (*Regional, error) {
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	r := &Regional{Stack: stack}
	network.AnswerZoneLookup(stack) // before any child
	bound(stack, props.PermissionsBoundary)

	key := encryption.NewKey(stack, "Key", "ecs worker: work queues and logs", awscdk.RemovalPolicy_RETAIN)
	queueProps := func(policy awscdk.RemovalPolicy) workqueue.Props {
		return workqueue.Props{Key: key, MaxReceiveCount: props.MaxReceiveCount, VisibilityTimeout: props.VisibilityTimeout, RemovalPolicy: policy}
	}
	wq, err := workqueue.New(stack, "WorkQueue", queueProps(""))
	if err != nil {
		return nil, err
	}
	r.WorkQueue = wq
	r.Queues = map[string]*workqueue.WorkQueue{names.RegionLocation: wq}
	for _, site := range props.Sites {
		r.Queues[site.Name] = wq
		if !props.Routed {
			continue
		}
		// In the regional stack, beside the region's: destroying a site
		// stack leaves its queue and messages; removing the site from the
		// configuration leaves them too (RETAIN).
		sq, err := workqueue.New(stack, "WorkQueue-"+site.Name, queueProps(awscdk.RemovalPolicy_RETAIN))
		if err != nil {
			return nil, fmt.Errorf("site %q: %w", site.Name, err)
		}
		r.Queues[site.Name] = sq
	}
	if props.Routed {
		byLocation := map[string]awssqs.IQueue{}
		for name, q := range r.Queues {
			byLocation[name] = q.Queue()
		}
		if r.Router, err = router.New(stack, "Entry", router.Props{Key: key, Queues: byLocation}); err != nil {
			return nil, err
		}
	}

	repo, err := registry.New(stack, registry.Props{MaxImages: props.EcrMaxImages})
	if err != nil {
		return nil, err
	}
	r.Repository = repo
	logGroup, err := loggroup.New(stack, "LogGroup", loggroup.Props{Key: key, RetentionDays: props.LogRetentionDays})
	if err != nil {
		return nil, err
	}
	r.LogGroup = logGroup
	network, err := network.New(stack, network.Props{NatGateways: props.NatGateways, Key: key, LogRetentionDays: props.LogRetentionDays})
	if err != nil {
		return nil, err
	}
	r.Vpc = network.Vpc()
	fs, err := storage.New(stack, storage.Props{Vpc: network.Vpc(), Subnets: network.TaskSubnets()})
	if err != nil {
		return nil, err
	}

	spec, err := workerspec.New(stack, "WorkerSpec", workerspec.Props{
		Image:    props.Image.ContainerImage(repo),
		Queues:   r.distinctQueues(),
		LogGroup: logGroup,
		Secrets:  props.WorkerSecrets,
	})
	if err != nil {
		return nil, err
	}
	r.Spec = spec

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

	if r.Alerts, err = alerts.New(stack, "Alerts", alerts.Props{Email: props.AlarmEmail}); err != nil {
		return nil, err
	}
	// The region's alarms keep their first ids; a site's are named after it.
	queueAlarms(stack, r.Alerts, wq, "", props.AlarmMessageAgeSeconds)
	locations := []dashboard.Location{{Name: names.RegionLocation, Queue: wq.Queue(), DeadLetterQueue: wq.DeadLetterQueue()}}
	if !props.Routed {
		locations[0].Name = "every location"
	}
	for _, s := range props.Sites {
		if q := r.Queues[s.Name]; q != wq {
			queueAlarms(stack, r.Alerts, q, "-"+s.Name, props.AlarmMessageAgeSeconds)
			locations = append(locations, dashboard.Location{Name: s.Name, Queue: q.Queue(), DeadLetterQueue: q.DeadLetterQueue()})
			output(stack, names.OutputQueueURL+names.Pascal(s.Name), q.Queue().QueueUrl(), fmt.Sprintf("work queue of site %s: send file names here directly, or publish to the entry with location=%s", s.Name, s.Name))
			output(stack, names.OutputDeadLetterQueueURL+names.Pascal(s.Name), q.DeadLetterQueue().QueueUrl(), fmt.Sprintf("messages site %s failed maxReceiveCount times", s.Name))
		}
	}
	var unrouted awssqs.IQueue
	if r.Router != nil {
		unrouted = r.Router.Unrouted()
		unroutedAlarm(stack, r.Alerts, unrouted)
		output(stack, names.OutputEntryTopic, r.Router.Topic().TopicArn(), "send work here: publish the file name with the message attribute location (region or a site's name)")
		output(stack, names.OutputUnroutedQueueURL, unrouted.QueueUrl(), "messages published without a known location: read, fix the producer, publish again")
		output(stack, names.OutputProducerPolicy, r.Router.ProducerPolicy().ManagedPolicyArn(), "managed policy that may send work: attach it to every producer")
	}
	output(stack, names.OutputLocations, jsii.String(strings.Join(r.locationNames(), ",")), "the locations work can be sent to")
	output(stack, names.OutputWork, jsii.String(map[bool]string{true: names.WorkRouted, false: names.WorkShared}[props.Routed]), "routed: a queue per location; shared: one queue for every location")
	board, err := dashboard.New(stack, "Dashboard", dashboard.Props{
		Name: props.DashboardName, Locations: locations, Unrouted: unrouted, Cluster: cluster, Service: worker.Service(), Sites: props.Sites,
	})
	if err != nil {
		return nil, err
	}

	output(stack, names.OutputQueueURL, wq.Queue().QueueUrl(), map[bool]string{true: "work queue of the region: send file names here directly, or publish to the entry with location=region", false: "work queue of every location: send file names here"}[props.Routed])
	output(stack, names.OutputDeadLetterQueueURL, wq.DeadLetterQueue().QueueUrl(), "messages that failed maxReceiveCount times")
	output(stack, names.OutputRepositoryURI, repo.RepositoryUri(), "push the worker image here (make image-push)")
	output(stack, names.OutputLogGroupName, logGroup.LogGroupName(), "logs of both sides (stream prefixes regional/ and external/)")
	output(stack, names.OutputClusterName, cluster.ClusterName(), "regional ECS cluster")
	output(stack, names.OutputServiceName, worker.Service().ServiceName(), "regional Fargate service")
	output(stack, names.OutputAlarmTopic, r.Alerts.Topic().TopicArn(), "every alarm of the app notifies this topic: subscribe to it")
	output(stack, names.OutputDashboard, board.DashboardName(), "the app's CloudWatch dashboard")
	return r, nil
}

// queueAlarms watch the work: dead letters, and a backlog nobody works off.
// QueueFor is the queue of a location: "region" or a site's name.
func (r *Regional) QueueFor(location string) *workqueue.WorkQueue { return r.Queues[location] }

// distinctQueues are the work queues, each once, the region's first.
func (r *Regional) distinctQueues() []workerspec.Queue {
	out := []workerspec.Queue{r.WorkQueue}
	for _, name := range r.locationNames() {
		if q := r.Queues[name]; q != r.WorkQueue {
			out = append(out, q)
		}
	}
	return out
}

// locationNames are the locations, sorted.
func (r *Regional) locationNames() []string {
	out := make([]string, 0, len(r.Queues))
	for name := range r.Queues {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// unroutedAlarm goes off when a message reached the entry without a known
// location.
func unroutedAlarm(stack awscdk.Stack, a *alerts.Alerts, unrouted awssqs.IQueue) {
	a.Notify(awscloudwatch.NewAlarm(stack, jsii.String("UnroutedAlarm"), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String("a message reached the entry without a location attribute, or with one no location has: it is kept in the unrouted queue; fix the producer and publish it again"),
		Metric: unrouted.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
			Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Maximum"),
		}),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	}))
}

// queueAlarms are a location's dead-letter and oldest-message alarms; the
// suffix names the location ("" for the region, whose ids are the first).
func queueAlarms(stack awscdk.Stack, a *alerts.Alerts, wq *workqueue.WorkQueue, suffix string, ageSeconds int) {
	fiveMinutes := awscdk.Duration_Minutes(jsii.Number(5))
	dead := awscloudwatch.NewAlarm(stack, jsii.String("DeadLettersAlarm"+suffix), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String("messages are in the dead-letter queue: the worker failed them maxReceiveCount times; read its logs, fix the cause, then redrive them"),
		Metric: wq.DeadLetterQueue().MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
			Period: fiveMinutes, Statistic: jsii.String("Maximum"),
		}),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	old := awscloudwatch.NewAlarm(stack, jsii.String("OldestMessageAlarm"+suffix), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String(fmt.Sprintf("the oldest message has waited more than %d s: work is not being done; check `make status`", ageSeconds)),
		Metric: wq.Queue().MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{
			Period: fiveMinutes, Statistic: jsii.String("Maximum"),
		}),
		Threshold:          jsii.Number(float64(ageSeconds)),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	a.Notify(dead)
	a.Notify(old)
}

func output(stack awscdk.Stack, id string, value *string, description string) {
	awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(description)})
}
