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
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/config"
	"github.com/ecs-anywhere-stretched/stretched/constructs/alerts"
	"github.com/ecs-anywhere-stretched/stretched/constructs/dashboard"
	"github.com/ecs-anywhere-stretched/stretched/constructs/encryption"
	"github.com/ecs-anywhere-stretched/stretched/constructs/fargateworker"
	"github.com/ecs-anywhere-stretched/stretched/constructs/queuescaling"
	"github.com/ecs-anywhere-stretched/stretched/constructs/router"
	"github.com/ecs-anywhere-stretched/stretched/constructs/workerspec"
	"github.com/ecs-anywhere-stretched/stretched/constructs/workqueue"
	"github.com/ecs-anywhere-stretched/stretched/internal/names"
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

// NewRegional makes the regional stack.
func NewRegional(scope constructs.Construct, id string, props *awscdk.StackProps, cfg config.Config, image workerspec.ImageSource) (*Regional, error) {
	stack := awscdk.NewStack(scope, jsii.String(id), props)
	r := &Regional{Stack: stack}

	// The region's first two AZs, resolved by CloudFormation (Fn::GetAZs)
	// whether or not the stack has an account and region. CDK would still look
	// the AZs up for a stack with both (which needs credentials); answering its
	// lookup with the same values keeps synth offline.
	azs := []*string{
		awscdk.Fn_Select(jsii.Number(0), awscdk.Fn_GetAzs(nil)),
		awscdk.Fn_Select(jsii.Number(1), awscdk.Fn_GetAzs(nil)),
	}
	// (Context can only be set before the stack has children.)
	if cfg.Account != "" && cfg.Region != "" {
		stack.Node().SetContext(jsii.String(fmt.Sprintf("availability-zones:account=%s:region=%s", cfg.Account, cfg.Region)), azs)
	}

	key := encryption.NewKey(stack, "Key", "ecs worker: work queues and logs", awscdk.RemovalPolicy_RETAIN)
	wq, err := workqueue.New(stack, "WorkQueue", workqueue.Props{
		Key:               key,
		MaxReceiveCount:   cfg.MaxReceiveCount,
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(float64(cfg.VisibilityTimeoutSeconds))),
	})
	if err != nil {
		return nil, err
	}
	r.WorkQueue = wq
	r.Queues = map[string]*workqueue.WorkQueue{config.RegionLocation: wq}
	for _, site := range cfg.Sites {
		r.Queues[site.Name] = wq
		if cfg.Work != config.WorkRouted {
			continue
		}
		// In the regional stack, beside the region's: destroying a site
		// stack leaves its queue and messages; removing the site from the
		// configuration leaves them too (RETAIN).
		sq, err := workqueue.New(stack, "WorkQueue-"+site.Name, workqueue.Props{
			Key:               key,
			MaxReceiveCount:   cfg.MaxReceiveCount,
			VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(float64(cfg.VisibilityTimeoutSeconds))),
			RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		})
		if err != nil {
			return nil, fmt.Errorf("site %q: %w", site.Name, err)
		}
		r.Queues[site.Name] = sq
	}
	if cfg.Work == config.WorkRouted {
		byLocation := map[string]awssqs.IQueue{}
		for name, q := range r.Queues {
			byLocation[name] = q.Queue()
		}
		if r.Router, err = router.New(stack, "Entry", router.Props{Key: key, Queues: byLocation}); err != nil {
			return nil, err
		}
	}

	repo := awsecr.NewRepository(stack, jsii.String("Repository"), &awsecr.RepositoryProps{
		ImageScanOnPush:    jsii.Bool(true),
		ImageTagMutability: awsecr.TagMutability_IMMUTABLE,
		Encryption:         awsecr.RepositoryEncryption_KMS(),
		LifecycleRules: &[]*awsecr.LifecycleRule{
			// Counts tagged images only: one image index per commit (the
			// pipeline and make image-push build without attestations).
			// The untagged per-platform images an index references are
			// counted by no rule and expired by none: expiring them by age
			// could take a platform away from an image still deployed.
			{Description: jsii.String("keep the newest tagged images (one per commit)"), TagStatus: awsecr.TagStatus_TAGGED, TagPatternList: jsii.Strings("*"),
				MaxImageCount: jsii.Number(float64(cfg.EcrMaxImages)), RulePriority: jsii.Number(1)},
		},
	})
	// The pipeline's image step may push only to a repository with this tag.
	awscdk.Tags_Of(repo).Add(jsii.String(names.StackTagKey), stack.StackName(), nil)
	r.Repository = repo

	logGroup := awslogs.NewLogGroup(stack, jsii.String("LogGroup"), &awslogs.LogGroupProps{
		Retention:     retentionDays[cfg.LogRetentionDays],
		EncryptionKey: key,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	r.LogGroup = logGroup

	// Public subnets give no address by default: only the tasks that need one
	// (no NAT gateway) ask ECS for it.
	subnets := []*awsec2.SubnetConfiguration{{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24), MapPublicIpOnLaunch: jsii.Bool(false)}}
	if cfg.NatGateways > 0 {
		subnets = append(subnets, &awsec2.SubnetConfiguration{Name: jsii.String("private"), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: jsii.Number(24)})
	}
	flowLogs := awslogs.NewLogGroup(stack, jsii.String("FlowLogs"), &awslogs.LogGroupProps{
		Retention:     retentionDays[cfg.LogRetentionDays],
		EncryptionKey: key,
	})
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		AvailabilityZones:   &azs,
		NatGateways:         jsii.Number(float64(cfg.NatGateways)),
		SubnetConfiguration: &subnets,
		FlowLogs: &map[string]*awsec2.FlowLogOptions{
			"rejected": {
				Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(flowLogs, nil),
				TrafficType: awsec2.FlowLogTrafficType_REJECT,
			},
		},
	})
	r.Vpc = vpc

	fs := awsefs.NewFileSystem(stack, jsii.String("FileSystem"), &awsefs.FileSystemProps{
		Vpc:             vpc,
		Encrypted:       jsii.Bool(true),
		PerformanceMode: awsefs.PerformanceMode_GENERAL_PURPOSE,
		ThroughputMode:  awsefs.ThroughputMode_ELASTIC,
		LifecyclePolicy: awsefs.LifecyclePolicy_AFTER_30_DAYS,
		RemovalPolicy:   awscdk.RemovalPolicy_RETAIN,
		// AWS Backup's daily plan for /data, kept 35 days.
		EnableAutomaticBackups: jsii.Bool(true),
		VpcSubnets:             &awsec2.SubnetSelection{SubnetType: subnetTypeOf(cfg)},
	})

	spec, err := workerspec.New(stack, "WorkerSpec", workerspec.Props{
		Image:    image.ContainerImage(repo),
		Queues:   r.distinctQueues(),
		LogGroup: logGroup,
		Secrets:  cfg.WorkerSecrets,
	})
	if err != nil {
		return nil, err
	}
	r.Spec = spec

	cluster := awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{
		Vpc:                 vpc,
		ContainerInsightsV2: awsecs.ContainerInsights_ENABLED,
	})
	r.Cluster = cluster

	scaleOn := queuescaling.Depth
	if cfg.RegionalScaling == config.ScalingBurst {
		scaleOn = queuescaling.Burst
	}
	worker, err := fargateworker.New(stack, "Worker", fargateworker.Props{
		Spec:            spec,
		Queue:           wq.Queue(),
		Cluster:         cluster,
		FileSystem:      fs,
		MinTasks:        cfg.MinTasks,
		MaxTasks:        cfg.MaxTasks,
		ScaleOn:         scaleOn,
		BurstAgeSeconds: cfg.BurstAgeSeconds,
		PublicSubnets:   cfg.NatGateways == 0,
	})
	if err != nil {
		return nil, err
	}
	r.Worker = worker

	if r.Alerts, err = alerts.New(stack, "Alerts", alerts.Props{Email: cfg.AlarmEmail}); err != nil {
		return nil, err
	}
	// The region's alarms keep their first ids; a site's are named after it.
	queueAlarms(stack, r.Alerts, wq, "", cfg.AlarmMessageAgeSeconds)
	var sites []dashboard.Site
	locations := []dashboard.Location{{Name: config.RegionLocation, Queue: wq.Queue(), DeadLetterQueue: wq.DeadLetterQueue()}}
	if cfg.Work == config.WorkShared {
		locations[0].Name = "every location"
	}
	for _, s := range cfg.Sites {
		sites = append(sites, dashboard.Site{Name: s.Name, ClusterName: s.ClusterName})
		if q := r.Queues[s.Name]; q != wq {
			queueAlarms(stack, r.Alerts, q, "-"+s.Name, cfg.AlarmMessageAgeSeconds)
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
	output(stack, names.OutputWork, jsii.String(cfg.Work), "routed: a queue per location; shared: one queue for every location")
	board, err := dashboard.New(stack, "Dashboard", dashboard.Props{
		Name: cfg.StackPrefix, Locations: locations, Unrouted: unrouted, Cluster: cluster, Service: worker.Service(), Sites: sites,
	})
	if err != nil {
		return nil, err
	}

	output(stack, names.OutputQueueURL, wq.Queue().QueueUrl(), map[bool]string{true: "work queue of the region: send file names here directly, or publish to the entry with location=region", false: "work queue of every location: send file names here"}[cfg.Work == config.WorkRouted])
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

func subnetTypeOf(cfg config.Config) awsec2.SubnetType {
	if cfg.NatGateways == 0 {
		return awsec2.SubnetType_PUBLIC
	}
	return awsec2.SubnetType_PRIVATE_WITH_EGRESS
}

func output(stack awscdk.Stack, id string, value *string, description string) {
	awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(description)})
}

// retentionDays maps the validated config.LogRetentionDays values to CDK's enum.
var retentionDays = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}
