package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/constructs/alerts"
	"github.com/ecs-anywhere-stretched/stretched/constructs/dashboard"
	"github.com/ecs-anywhere-stretched/stretched/constructs/fargateworker"
	routercontract "github.com/ecs-anywhere-stretched/stretched/constructs/router/contract"
	siteagentcontract "github.com/ecs-anywhere-stretched/stretched/constructs/siteagent/contract"
	"github.com/ecs-anywhere-stretched/stretched/constructs/workqueue"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// addOperations makes what operators use: the alarm topic and every
// location's alarms, the dashboard and the stack's outputs.
func (r *Regional) addOperations(props *RegionalStackProps, cluster awsecs.ICluster, worker *fargateworker.Worker, logGroup awslogs.ILogGroup, repo awsecr.IRepository) error {
	stack, wq := r.Stack, r.WorkQueue
	var err error
	if r.Alerts, err = alerts.New(stack, "Alerts", alerts.Props{Email: props.AlarmEmail}); err != nil {
		return err
	}
	// The region's alarms keep their first ids; a site's are named after it.
	r.alarmMessageAgeSeconds = props.AlarmMessageAgeSeconds
	queueAlarms(stack, r.Alerts, wq.Queue().QueueName(), wq.DeadLetterQueue().QueueName(), "", props.AlarmMessageAgeSeconds)
	locations := []dashboard.Location{{Name: routercontract.RegionLocation, Queue: wq.Queue(), DeadLetterQueue: wq.DeadLetterQueue()}}
	if !props.Routed {
		locations[0].Name = "every location"
	}
	// A site's queue, its alarms and its directory entry are in its own
	// stack: the regional stack adds nothing per site.
	var unrouted awssqs.IQueue
	if r.Router != nil {
		unrouted = r.Router.Unrouted()
		unroutedAlarm(stack, r.Alerts, unrouted)
		output(stack, stackscontract.OutputEntryTopic, r.Router.Topic().TopicArn(), "send work here: publish the file name with the message attribute location (region or a site's name); with entryTopics > 1, to the location's topic (EntryTopicArns, and the site's directory entry)")
		var arns []*string
		for _, t := range r.Router.Topics() {
			arns = append(arns, t.TopicArn())
		}
		output(stack, stackscontract.OutputEntryTopics, awscdk.Fn_Join(jsii.String(","), &arns), "every entry topic; a location's is in its directory entry (entryTopicArn) and is route.Topic of its name")
		output(stack, stackscontract.OutputUnroutedQueueURL, unrouted.QueueUrl(), "messages published without a known location: read, fix the producer, publish again")
		output(stack, stackscontract.OutputProducerPolicy, r.Router.ProducerPolicy().ManagedPolicyArn(), "managed policy that may send work: attach it to every producer")
	}
	output(stack, stackscontract.OutputSiteDirectory, jsii.String(siteagentcontract.SiteDirectory(r.Fleet)), "the site directory: one SSM parameter per site (its queue, entry topic, cluster, service), read by fleet send, fleet status and producers")
	output(stack, stackscontract.OutputWork, jsii.String(map[bool]string{true: routercontract.WorkRouted, false: routercontract.WorkShared}[props.Routed]), "routed: a queue per location; shared: one queue for every location")
	board, err := dashboard.New(stack, "Dashboard", dashboard.Props{
		Name: props.DashboardName, Locations: locations, Unrouted: unrouted, Cluster: cluster, Service: worker.Service(), Fleet: r.Fleet, AgentLogs: r.Agent.LogGroup(),
		QueueSearch: r.Fleet + "-",
	})
	if err != nil {
		return err
	}

	output(stack, stackscontract.OutputQueueURL, wq.Queue().QueueUrl(), map[bool]string{true: "work queue of the region: send file names here directly, or publish to the entry with location=region", false: "work queue of every location: send file names here"}[props.Routed])
	output(stack, stackscontract.OutputDeadLetterQueueURL, wq.DeadLetterQueue().QueueUrl(), "messages that failed maxReceiveCount times")
	output(stack, stackscontract.OutputRepositoryURI, repo.RepositoryUri(), "push the worker image here (make image-push)")
	output(stack, stackscontract.OutputLogGroupName, logGroup.LogGroupName(), "logs of both sides (stream prefixes regional/ and external/)")
	output(stack, stackscontract.OutputClusterName, cluster.ClusterName(), "regional ECS cluster")
	output(stack, stackscontract.OutputServiceName, worker.Service().ServiceName(), "regional Fargate service")
	output(stack, stackscontract.OutputAlarmTopic, r.Alerts.Topic().TopicArn(), "every alarm of the app notifies this topic: subscribe to it")
	output(stack, stackscontract.OutputDashboard, board.Dashboard().DashboardName(), "the app's CloudWatch dashboard")
	return nil
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

// queueAlarms are a location's dead-letter and oldest-message alarms, in
// scope; the suffix names the location in their ids ("" for the region,
// whose ids are the first, and for a site, whose alarms are in its stack).
func queueAlarms(scope constructs.Construct, a *alerts.Alerts, queueName, deadLetterQueueName *string, suffix string, ageSeconds int) {
	metric := func(name string, queue *string) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String("AWS/SQS"), MetricName: jsii.String(name),
			DimensionsMap: &map[string]*string{"QueueName": queue},
			Period:        awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Maximum"),
		})
	}
	dead := awscloudwatch.NewAlarm(scope, jsii.String("DeadLettersAlarm"+suffix), &awscloudwatch.AlarmProps{
		AlarmDescription:   jsii.String("messages are in the dead-letter queue: the worker failed them maxReceiveCount times; read its logs, fix the cause, then redrive them"),
		Metric:             metric("ApproximateNumberOfMessagesVisible", deadLetterQueueName),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	old := awscloudwatch.NewAlarm(scope, jsii.String("OldestMessageAlarm"+suffix), &awscloudwatch.AlarmProps{
		AlarmDescription:   jsii.String(fmt.Sprintf("the oldest message has waited more than %d s: work is not being done; check `make status`", ageSeconds)),
		Metric:             metric("ApproximateAgeOfOldestMessage", queueName),
		Threshold:          jsii.Number(float64(ageSeconds)),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	a.Notify(dead)
	a.Notify(old)
}

// siteQueueAlarms are a site's own queue's dead-letter and oldest-message
// alarms (on the app's topic), in the site's stack beside the queue.
func (r *Regional) siteQueueAlarms(stack awscdk.Stack, wq *workqueue.WorkQueue) {
	queueAlarms(stack, r.Alerts, wq.Queue().QueueName(), wq.DeadLetterQueue().QueueName(), "", r.alarmMessageAgeSeconds)
}
