// Package siteagent is a site's agent: a Go Lambda (handler "siteagent", lambda/agent), run
// every minute and on every "ECS Container Instance State Change" of the
// site's cluster, that scales the site's EXTERNAL service on the queue's
// backlog within its bounds and writes the site's metrics (nodes connected
// and disconnected, tasks desired, running and missing, backlog). Two
// alarms watch those metrics: a node that stays disconnected, and tasks
// that stay below desired; brief agent disconnects, which happen several
// times an hour, set off neither.
package siteagent

import (
	"errors"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ecs-anywhere-stretched/stretched/constructs/alerts"
	"github.com/ecs-anywhere-stretched/stretched/constructs/gofunction"
	"github.com/ecs-anywhere-stretched/stretched/internal/limits"
	"github.com/ecs-anywhere-stretched/stretched/internal/names"
)

// Alarm thresholds, in one-minute periods.
const (
	// DisconnectedMinutes a node's agent must stay disconnected for an alarm.
	DisconnectedMinutes = 10
	// MissingTaskMinutes the running tasks must stay below desired for an alarm.
	MissingTaskMinutes = 10
	// AgentFailingMinutes is how long every run of the agent must fail
	// before AgentFailing alarms.
	AgentFailingMinutes = 15
	// OfflineMinutes without a connected node make the site offline; fewer
	// than the symptoms' minutes, so the offline alarm is in ALARM first.
	OfflineMinutes = 5
)

// Props configure the agent.
type Props struct {
	// Cluster is the site's external cluster. Required.
	Cluster awsecs.ICluster
	// ClusterName is the cluster's name as a plain string: the metrics'
	// dimension, which the app's dashboard reads too. Required.
	ClusterName string
	// Service is the site's EXTERNAL service. Required.
	Service awsecs.IBaseService
	// Queue is the work queue. Required.
	Queue awssqs.IQueue
	// MinTasks and MaxTasks bound the service's task count. Required:
	// 0 <= MinTasks <= MaxTasks, MaxTasks >= 1.
	MinTasks, MaxTasks int
	// BacklogPerTask is the backlog one task is given. Default: 100.
	BacklogPerTask int
	// Key encrypts the function's logs and environment. Default: a key of its own.
	Key awskms.IKey
	// LogRetention of the function's logs. Default: one year.
	LogRetention awslogs.RetentionDays
}

func (p Props) validate() error {
	var errs []error
	if p.Cluster == nil || p.ClusterName == "" || p.Service == nil || p.Queue == nil {
		errs = append(errs, errors.New("siteagent: Cluster, ClusterName, Service and Queue are required: pass the site's cluster, its name, its EXTERNAL service and the work queue"))
	}
	if p.MaxTasks < 1 || p.MinTasks < 0 || p.MinTasks > p.MaxTasks {
		errs = append(errs, fmt.Errorf("siteagent: MinTasks %d and MaxTasks %d: need 0 <= MinTasks <= MaxTasks and MaxTasks >= 1", p.MinTasks, p.MaxTasks))
	}
	if p.BacklogPerTask < 0 {
		errs = append(errs, fmt.Errorf("siteagent: BacklogPerTask is %d: must be at least 1", p.BacklogPerTask))
	}
	return errors.Join(errs...)
}

// Agent is the function, its triggers and its alarms.
type Agent struct {
	constructs.Construct
	disconnected, missingTasks, failing, offline awscloudwatch.Alarm
	// The symptoms notify only while the site is online: an offline site
	// sends one alarm, not a storm.
	disconnectedOnline, missingTasksOnline awscloudwatch.CompositeAlarm
}

// New makes the agent.
func New(scope constructs.Construct, id string, props Props) (*Agent, error) {
	if err := props.validate(); err != nil {
		return nil, err
	}
	if props.BacklogPerTask == 0 {
		props.BacklogPerTask = limits.BacklogPerTask
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(c)
	fn, err := gofunction.New(c, "Handler", gofunction.Props{
		Handler:      names.HandlerSiteAgent,
		Description:  "scales the site's EXTERNAL service on the queue and writes the site's node and task metrics",
		Key:          props.Key,
		LogRetention: props.LogRetention,
		Timeout:      awscdk.Duration_Seconds(jsii.Number(50)),
		TextLogs:     true,
		Environment: map[string]*string{
			names.EnvClusterName:    props.Cluster.ClusterName(),
			names.EnvServiceName:    props.Service.ServiceName(),
			names.EnvQueueURL:       props.Queue.QueueUrl(),
			names.EnvMinTasks:       jsii.String(fmt.Sprint(props.MinTasks)),
			names.EnvMaxTasks:       jsii.String(fmt.Sprint(props.MaxTasks)),
			names.EnvBacklogPerTask: jsii.String(fmt.Sprint(props.BacklogPerTask)),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("siteagent: %w", err)
	}
	onCluster := &map[string]any{"ArnEquals": map[string]any{"ecs:cluster": props.Cluster.ClusterArn()}}
	role := fn.Role()
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ListSiteNodes"),
		Actions:   jsii.Strings("ecs:ListContainerInstances"),
		Resources: jsii.Strings(*props.Cluster.ClusterArn()),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:     jsii.String("DescribeSiteNodes"),
		Actions: jsii.Strings("ecs:DescribeContainerInstances"),
		Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("ecs"), Resource: jsii.String("container-instance"), ResourceName: jsii.String("*"),
		})),
		Conditions: onCluster,
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("ScaleSiteService"),
		Actions:    jsii.Strings("ecs:DescribeServices", "ecs:UpdateService"),
		Resources:  jsii.Strings(*props.Service.ServiceArn()),
		Conditions: onCluster,
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ReadBacklog"),
		Actions:   jsii.Strings("sqs:GetQueueAttributes"),
		Resources: jsii.Strings(*props.Queue.QueueArn()),
	}))
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		AppliesTo: &[]any{&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:.+:ecs:.+:container-instance\/\*$/`)}},
		Reason:    jsii.String("container instance ids are not known in advance: describing them is limited to the site's cluster by the ecs:cluster condition"),
	}}, jsii.Bool(true))

	// No reserved concurrency: Lambda refuses a reservation that leaves an
	// account under 100 unreserved (new accounts often have 10 in all). Two
	// overlapping runs are safe: each sets the desired count from what it
	// reads, within the same bounds, and never reads it back to add to it
	// (tested in lambda/agent).
	target := awseventstargets.NewLambdaFunction(fn.Function(), &awseventstargets.LambdaFunctionProps{
		RetryAttempts: jsii.Number(0), MaxEventAge: awscdk.Duration_Minutes(jsii.Number(1)),
	})
	awsevents.NewRule(c, jsii.String("Schedule"), &awsevents.RuleProps{
		Description: jsii.String("runs the site agent every minute"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(1))),
		Targets:     &[]awsevents.IRuleTarget{target},
	})
	awsevents.NewRule(c, jsii.String("StateChange"), &awsevents.RuleProps{
		Description: jsii.String("runs the site agent when a node of the site connects, disconnects or changes state"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.ecs"),
			DetailType: jsii.Strings("ECS Container Instance State Change"),
			Detail:     &map[string]any{"clusterArn": []any{props.Cluster.ClusterArn()}},
		},
		Targets: &[]awsevents.IRuleTarget{target},
	})
	metric := func(name string) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:     jsii.String(names.MetricNamespace),
			MetricName:    jsii.String(name),
			DimensionsMap: &map[string]*string{names.DimensionCluster: jsii.String(props.ClusterName)},
			// The minimum over a minute: one good sample clears the minute.
			Statistic: jsii.String("Minimum"),
			Period:    awscdk.Duration_Minutes(jsii.Number(1)),
		})
	}
	sustained := func(id, name string, minutes int, description string) awscloudwatch.Alarm {
		return awscloudwatch.NewAlarm(c, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(description),
			Metric:             metric(name),
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(float64(minutes)),
			DatapointsToAlarm:  jsii.Number(float64(minutes)),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
	}
	a := &Agent{Construct: c}
	a.disconnected = sustained("NodeDisconnected", names.MetricDisconnectedNodes, DisconnectedMinutes,
		fmt.Sprintf("a node of cluster %s has had its ECS agent disconnected for %d minutes: check the machine, its network and `systemctl status ecs`", props.ClusterName, DisconnectedMinutes))
	a.missingTasks = sustained("TasksBelowDesired", names.MetricMissingTasks, MissingTaskMinutes,
		fmt.Sprintf("cluster %s has run fewer worker tasks than desired for %d minutes: nodes down or full; see `make status` and the service's events", props.ClusterName, MissingTaskMinutes))
	// Every node disconnected (or none joined): nothing can run there. It
	// fires before the symptoms (OfflineMinutes < the others), which are
	// then held back.
	a.offline = awscloudwatch.NewAlarm(c, jsii.String("SiteOffline"), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String(fmt.Sprintf("site cluster %s has had no connected node for %d minutes: the site is offline (link cut, power, or no node joined yet); its work waits in its queue and the agent does not add tasks", props.ClusterName, OfflineMinutes)),
		Metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(names.MetricNamespace), MetricName: jsii.String(names.MetricConnectedNodes),
			DimensionsMap: &map[string]*string{names.DimensionCluster: jsii.String(props.ClusterName)},
			// The maximum over a minute: one connected sample clears it.
			Statistic: jsii.String("Maximum"), Period: awscdk.Duration_Minutes(jsii.Number(1)),
		}),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(OfflineMinutes),
		DatapointsToAlarm:  jsii.Number(OfflineMinutes),
		ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	whileOnline := func(id string, symptom awscloudwatch.Alarm, what string) awscloudwatch.CompositeAlarm {
		return awscloudwatch.NewCompositeAlarm(c, jsii.String(id), &awscloudwatch.CompositeAlarmProps{
			AlarmDescription: jsii.String(fmt.Sprintf("%s in cluster %s while the site is online (when it is offline, SiteOffline says so once)", what, props.ClusterName)),
			AlarmRule: awscloudwatch.AlarmRule_AllOf(
				awscloudwatch.AlarmRule_FromAlarm(symptom, awscloudwatch.AlarmState_ALARM),
				awscloudwatch.AlarmRule_Not(awscloudwatch.AlarmRule_FromAlarm(a.offline, awscloudwatch.AlarmState_ALARM)),
			),
		})
	}
	a.disconnectedOnline = whileOnline("NodeDisconnectedWhileOnline", a.disconnected, "a node disconnected")
	a.missingTasksOnline = whileOnline("TasksBelowDesiredWhileOnline", a.missingTasks, "fewer tasks than desired")
	// The two alarms above go quiet when the agent writes nothing, so the
	// agent's own failures alarm too: every run failing for a quarter hour
	// (one bad minute, e.g. a throttled call, does not count).
	a.failing = awscloudwatch.NewAlarm(c, jsii.String("AgentFailing"), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String(fmt.Sprintf("the site agent of cluster %s has failed for %d minutes: the site neither scales nor reports its nodes; see the agent's log group", props.ClusterName, AgentFailingMinutes)),
		Metric: fn.Function().MetricErrors(&awscloudwatch.MetricOptions{
			Statistic: jsii.String("Sum"), Period: awscdk.Duration_Minutes(jsii.Number(1)),
		}),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(float64(AgentFailingMinutes)),
		DatapointsToAlarm:  jsii.Number(float64(AgentFailingMinutes)),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	return a, nil
}

// Alarms are the agent's alarms that notify: the site offline; a node
// disconnected and tasks below desired, each only while the site is not
// offline; the agent failing.
func (a *Agent) Alarms() []alerts.Alarm {
	return []alerts.Alarm{a.offline, a.disconnectedOnline, a.missingTasksOnline, a.failing}
}
