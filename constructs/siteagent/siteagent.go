// Package siteagent is the sites' agent: one Go Lambda for the whole fleet
// (handler "siteagent", ./handler, in the regional stack: New), run every
// minute and on every "ECS Container Instance State Change", that reads the
// site directory (one Parameter Store entry per site, made by NewSite in the
// site's stack) and, for each site within a bounded time, scales its
// EXTERNAL service on the queue's backlog within its bounds and logs its
// state; each scheduled run writes the fleet's counts of sites offline,
// with a node disconnected, or missing tasks (a fixed set of metrics). A
// site adds no function, role, rule, log group, metric or alarm: only its
// entry. Three fleet alarms watch the counts: a site offline, a node that
// stays disconnected, tasks that stay below desired; brief agent
// disconnects, which happen several times an hour, set off none.
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
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ecs-anywhere-stretched/stretched/constructs/alerts"
	"github.com/ecs-anywhere-stretched/stretched/constructs/gofunction"
	"github.com/ecs-anywhere-stretched/stretched/constructs/siteagent/contract"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
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

// Props configure the fleet's agent.
type Props struct {
	// Directory is the path of the site directory the agent reads
	// (contract.SiteDirectory). Required.
	Directory string
	// Fleet is the value of stackscontract.FleetTagKey on the clusters, services
	// and queues the agent may act on: the app's stack prefix. Required.
	Fleet string
	// Key encrypts the function's logs and environment. Default: a key of its own.
	Key awskms.IKey
	// LogRetention of the function's logs. Default: one year.
	LogRetention awslogs.RetentionDays
}

func (p Props) validate() error {
	var errs []error
	if len(p.Directory) < 2 || p.Directory[0] != '/' {
		errs = append(errs, fmt.Errorf("siteagent: Directory is %q: pass the site directory's path, such as /EcsWorker/sites", p.Directory))
	}
	if p.Fleet == "" {
		errs = append(errs, errors.New("siteagent: Fleet is empty: pass the app's stack prefix, the value of the stretched:fleet tag"))
	}
	return errors.Join(errs...)
}

// Agent is the fleet's one agent function, its triggers and its alarm.
type Agent struct {
	constructs.Construct
	function                                     awslambda.IFunction
	logs                                         awslogs.ILogGroup
	failing, offline, disconnected, missingTasks awscloudwatch.Alarm
	deadLetters                                  awscloudwatch.Alarm
	fleet                                        string
}

// New makes the fleet's agent: one function that serves every site of the
// directory, run every minute and on every container instance state change
// in the account and region (it runs only the site of the cluster, and
// nothing for another app's).
func New(scope constructs.Construct, id string, props Props) (*Agent, error) {
	if err := props.validate(); err != nil {
		return nil, err
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(c)
	fn, err := gofunction.New(c, "Handler", gofunction.Props{
		Handler:      contract.Handler,
		Description:  "scales every site's EXTERNAL service on its queue and writes the sites' node and task metrics",
		Key:          props.Key,
		LogRetention: props.LogRetention,
		Timeout:      awscdk.Duration_Seconds(jsii.Number(50)),
		MemoryMiB:    256,
		TextLogs:     true,
		Environment:  map[string]*string{contract.EnvDirectory: jsii.String(props.Directory)},
	})
	if err != nil {
		return nil, fmt.Errorf("siteagent: %w", err)
	}
	tagged := &map[string]any{"StringEquals": map[string]any{"aws:ResourceTag/" + stackscontract.FleetTagKey: props.Fleet}}
	arn := func(service, resource string) string {
		return *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String(service), Resource: jsii.String(resource), ArnFormat: awscdk.ArnFormat_NO_RESOURCE_NAME})
	}
	role := fn.Role()
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ReadSiteDirectory"),
		Actions:   jsii.Strings("ssm:GetParametersByPath"),
		Resources: jsii.Strings(arn("ssm", "parameter"+props.Directory)),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("ListSiteNodes"),
		Actions:    jsii.Strings("ecs:ListContainerInstances"),
		Resources:  jsii.Strings(arn("ecs", "cluster/*")),
		Conditions: tagged,
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("DescribeSiteNodes"),
		Actions:   jsii.Strings("ecs:DescribeContainerInstances"),
		Resources: jsii.Strings(arn("ecs", "container-instance/*")),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("ScaleSiteServices"),
		Actions:    jsii.Strings("ecs:DescribeServices", "ecs:UpdateService"),
		Resources:  jsii.Strings(arn("ecs", "service/*")),
		Conditions: tagged,
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("ReadBacklogs"),
		Actions:    jsii.Strings("sqs:GetQueueAttributes"),
		Resources:  jsii.Strings(arn("sqs", "*")),
		Conditions: tagged,
	}))
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		AppliesTo: &[]any{
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:.+:ecs:.+:(cluster|service|container-instance)\/\*$/`)},
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:.+:sqs:.+:\*$/`)},
		},
		Reason: jsii.String("one agent serves every site of the fleet, so its resources are the fleet's: listing nodes, scaling services and reading backlogs are limited to clusters, services and queues tagged stretched:fleet with this app's prefix; describing container instances (read only) takes the ids the tagged clusters listed"),
	}}, jsii.Bool(true))

	// No reserved concurrency: Lambda refuses a reservation that leaves an
	// account under 100 unreserved (new accounts often have 10 in all). Two
	// overlapping runs are safe: each sets the desired count from what it
	// reads, within the same bounds, and never reads it back to add to it
	// (tested in ./handler).
	// A failed run is not run again by Lambda (by default it retries an
	// asynchronous invocation twice, one and two minutes later, on top of
	// the next scheduled runs): the next minute's run reads everything
	// afresh, and AgentFailing counts the failure.
	fn.Function().ConfigureAsyncInvoke(&awslambda.EventInvokeConfigOptions{
		RetryAttempts: jsii.Number(0), MaxEventAge: awscdk.Duration_Minutes(jsii.Number(1)),
	})
	target := awseventstargets.NewLambdaFunction(fn.Function(), &awseventstargets.LambdaFunctionProps{
		RetryAttempts: jsii.Number(0), MaxEventAge: awscdk.Duration_Minutes(jsii.Number(1)),
	})
	awsevents.NewRule(c, jsii.String("Schedule"), &awsevents.RuleProps{
		Description: jsii.String("runs the site agent for every site every minute"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(1))),
		Targets:     &[]awsevents.IRuleTarget{target},
	})
	awsevents.NewRule(c, jsii.String("StateChange"), &awsevents.RuleProps{
		Description: jsii.String("runs the site agent for the site whose node connected, disconnected or changed state"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.ecs"),
			DetailType: jsii.Strings("ECS Container Instance State Change"),
		},
		Targets: &[]awsevents.IRuleTarget{target},
	})
	a := &Agent{Construct: c, function: fn.Function(), fleet: props.Fleet}
	// The sites' alarms go quiet when the agent writes nothing, so the
	// agent's own failures alarm too: every run failing for a quarter hour
	// (one bad minute, e.g. a throttled call, does not count). A run fails
	// when any site's does; the log names the site.
	a.failing = awscloudwatch.NewAlarm(c, jsii.String("AgentFailing"), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String(fmt.Sprintf("the site agent has failed for %d minutes for at least one site: that site neither scales nor reports its nodes; its log group names the site (\"site agent run failed\")", AgentFailingMinutes)),
		Metric: fn.Function().MetricErrors(&awscloudwatch.MetricOptions{
			Statistic: jsii.String("Sum"), Period: awscdk.Duration_Minutes(jsii.Number(1)),
		}),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(float64(AgentFailingMinutes)),
		DatapointsToAlarm:  jsii.Number(float64(AgentFailingMinutes)),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	a.logs = fn.LogGroup()
	// The fleet's alarms, one per symptom for every site: the agent's
	// counts of sites (a site's name is in the agent's "site state" log
	// lines, the dashboard's fleet view and `fleet status`). The minimum
	// over a minute: one good run clears the minute.
	count := func(name string) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(contract.MetricNamespace), MetricName: jsii.String(name),
			DimensionsMap: &map[string]*string{contract.DimensionFleet: jsii.String(props.Fleet)},
			Statistic:     jsii.String("Minimum"), Period: awscdk.Duration_Minutes(jsii.Number(1)),
		})
	}
	alarm := func(id, metric string, minutes int, description string) awscloudwatch.Alarm {
		return awscloudwatch.NewAlarm(c, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(description),
			Metric:             count(metric),
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(float64(minutes)),
			DatapointsToAlarm:  jsii.Number(float64(minutes)),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
	}
	a.offline = alarm("SitesOffline", contract.MetricSitesOffline, OfflineMinutes, fmt.Sprintf(
		"a site has had no connected node for %d minutes: offline (link cut, power, or no node joined yet); its work waits in its queue and the agent does not add tasks there; `fleet status` and the dashboard's fleet view name it", OfflineMinutes))
	a.disconnected = alarm("SitesNodeDisconnected", contract.MetricSitesNodeDisconnected, DisconnectedMinutes, fmt.Sprintf(
		"a node's ECS agent has been disconnected for %d minutes at a site that is online: check the machine, its network and `systemctl status ecs`; `fleet status` names the site and node", DisconnectedMinutes))
	a.missingTasks = alarm("SitesTasksBelowDesired", contract.MetricSitesTasksBelowDesired, MissingTaskMinutes, fmt.Sprintf(
		"a site that is online has run fewer worker tasks than desired for %d minutes: nodes full or failing; `fleet status` names the site, its service's events say why", MissingTaskMinutes))
	return a, nil
}

// DeadLettersAlarm is the fleet's alarm on sites whose dead-letter queue
// holds a message, made on first use: a pipeline's ring gate watches it
// (each site's own dead-letter alarm notifies the topic too).
func (a *Agent) DeadLettersAlarm() awscloudwatch.Alarm {
	if a.deadLetters == nil {
		a.deadLetters = awscloudwatch.NewAlarm(a.Construct, jsii.String("SitesWithDeadLetters"), &awscloudwatch.AlarmProps{
			AlarmDescription: jsii.String("a site's dead-letter queue holds a message: its worker failed a message maxReceiveCount times; `fleet status` names the site"),
			Metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace: jsii.String(contract.MetricNamespace), MetricName: jsii.String(contract.MetricSitesDeadLetters),
				DimensionsMap: &map[string]*string{contract.DimensionFleet: jsii.String(a.fleet)},
				Statistic:     jsii.String("Minimum"), Period: awscdk.Duration_Minutes(jsii.Number(1)),
			}),
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
	}
	return a.deadLetters
}

// Function is the agent's function.
func (a *Agent) Function() awslambda.IFunction { return a.function }

// Alarms are the agent's alarms that notify: the agent failing, and for
// every site at once: a site offline; a node disconnected and tasks below
// desired at a site that is online.
func (a *Agent) Alarms() []alerts.Alarm {
	return []alerts.Alarm{a.failing, a.offline, a.disconnected, a.missingTasks}
}

// LogGroup holds the agent's "site state" lines, one per site and run.
func (a *Agent) LogGroup() awslogs.ILogGroup { return a.logs }

// SiteProps configure a site's part: its directory entry.
type SiteProps struct {
	// Directory is the site directory's path. Required.
	Directory string
	// Site is the site's name. Required.
	Site string
	// Fleet is the value of the stretched:fleet tag the entry's cluster
	// and service get (the agent may act only on those). Required.
	Fleet string
	// Cluster is the site's external cluster. Required.
	Cluster awsecs.ICluster
	// Service is the site's EXTERNAL service. Required.
	Service awsecs.IBaseService
	// Queue is the site's work queue (tagged by the regional stack). Required.
	Queue awssqs.IQueue
	// DeadLetterQueue is the queue's dead-letter queue: its URL is in the
	// entry for operators (fleet status). Required.
	DeadLetterQueue awssqs.IQueue
	// EntryTopic is the entry topic that routes the site's work (routed
	// work): producers read it from the entry. Default: none (shared work).
	EntryTopic awssns.ITopic
	// Tasks bound the service's task count (the site settings minTasks and
	// maxTasks): 0 <= MinTasks <= MaxTasks, 1 <= MaxTasks <= 1000. Default
	// (the zero value): contract.DefaultSiteSettings(), 1 to 3.
	Tasks contract.SiteSettings
	// BacklogPerTask is the backlog one task is given. Default: 100.
	BacklogPerTask int
	// InstanceRole is the role the site's nodes register with: its name is
	// in the entry for fleet node userdata. Default: none in the entry.
	InstanceRole awsiam.IRole
}

func (p SiteProps) withDefaults() SiteProps {
	if p.Tasks == (contract.SiteSettings{}) {
		p.Tasks = contract.DefaultSiteSettings()
	}
	if p.BacklogPerTask == 0 {
		p.BacklogPerTask = contract.BacklogPerTask
	}
	return p
}

func (p SiteProps) validate() error {
	var errs []error
	if p.Cluster == nil || p.Service == nil || p.Queue == nil || p.DeadLetterQueue == nil || p.Site == "" || p.Fleet == "" || p.Directory == "" {
		errs = append(errs, errors.New("siteagent: Directory, Site, Fleet, Cluster, Service, Queue and DeadLetterQueue are required: pass the directory, the site's name, the app's prefix, its cluster, its EXTERNAL service, its work queue and that queue's dead-letter queue"))
	}
	for _, problem := range p.Tasks.Problems() {
		errs = append(errs, fmt.Errorf("siteagent: Tasks.%w", problem))
	}
	if p.BacklogPerTask < 1 {
		errs = append(errs, fmt.Errorf("siteagent: BacklogPerTask is %d: must be at least 1", p.BacklogPerTask))
	}
	return errors.Join(errs...)
}

// Site is a site's directory entry.
type Site struct {
	constructs.Construct
	entry awsssm.StringParameter
}

// NewSite makes a site's directory entry (a standard Parameter Store
// parameter: no charge), tags its cluster and service for the fleet's
// agent.
func NewSite(scope constructs.Construct, id string, props SiteProps) (*Site, error) {
	props = props.withDefaults()
	if err := props.validate(); err != nil {
		return nil, err
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(c)
	for _, r := range []constructs.IConstruct{props.Cluster, props.Service} {
		awscdk.Tags_Of(r).Add(jsii.String(stackscontract.FleetTagKey), jsii.String(props.Fleet), nil)
	}
	a := &Site{Construct: c}
	value := map[string]any{
		contract.DirSite:           props.Site,
		contract.DirCluster:        props.Cluster.ClusterName(),
		contract.DirService:        props.Service.ServiceName(),
		contract.DirQueueURL:       props.Queue.QueueUrl(),
		contract.DirDeadLetterURL:  props.DeadLetterQueue.QueueUrl(),
		contract.DirMinTasks:       props.Tasks.MinTasks,
		contract.DirMaxTasks:       props.Tasks.MaxTasks,
		contract.DirBacklogPerTask: props.BacklogPerTask,
	}
	if props.EntryTopic != nil {
		value[contract.DirEntryTopic] = props.EntryTopic.TopicArn()
	}
	if props.InstanceRole != nil {
		value[contract.DirInstanceRole] = props.InstanceRole.RoleName()
		value[contract.DirStack] = stack.StackName()
	}
	a.entry = awsssm.NewStringParameter(c, jsii.String("Entry"), &awsssm.StringParameterProps{
		ParameterName: jsii.String(props.Directory + "/" + props.Site),
		Description:   jsii.String(fmt.Sprintf("site %s for the fleet's site agent, fleet send and producers: cluster, service, queue, entry topic, task bounds", props.Site)),
		StringValue:   stack.ToJsonString(value, nil),
		Tier:          awsssm.ParameterTier_STANDARD,
	})
	return a, nil
}

// Entry is the site's directory entry.
func (a *Site) Entry() awsssm.IStringParameter { return a.entry }
