// Package dashboard is the app's one CloudWatch dashboard: each location's
// queue (depth, age of the oldest message, dead letters), the region's
// tasks, the fleet's counts of sites (served, failed, offline, a node
// disconnected, tasks below desired: the site agent's fleet metrics) and a
// table of the sites with a problem from the agent's log. It names no site,
// so the regional stack that holds it refers to no site stack and its size
// does not grow with the fleet.
package dashboard

import (
	"errors"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	siteagentcontract "github.com/ecs-anywhere-stretched/stretched/constructs/siteagent/contract"
)

// Location is a work queue the dashboard shows: a location's (region or a
// site) or, when work is shared, the one queue of every location.
type Location struct {
	// Name for the legend, such as "region" or "factory".
	Name string
	// Queue and DeadLetterQueue are the location's work queue and its
	// dead-letter queue.
	Queue, DeadLetterQueue awssqs.IQueue
}

// Props configure the dashboard.
type Props struct {
	// Name of the dashboard. Required.
	Name string
	// Locations are the work queues, one per location. Required: at least one.
	Locations []Location
	// Unrouted is the queue of messages no location takes. Default: none
	// (work is shared).
	Unrouted awssqs.IQueue
	// Cluster and Service are the regional cluster and Fargate service. Required.
	Cluster awsecs.ICluster
	Service awsecs.IBaseService
	// Fleet is the app's stack prefix: the dimension of the site agent's
	// counts of sites. Required.
	Fleet string
	// AgentLogs is the site agent's log group: the fleet view lists the
	// sites with a problem from its "site state" lines. Default: none (no
	// such list).
	AgentLogs awslogs.ILogGroup
	// QueueSearch is a term every location queue's name holds (their
	// generated names start with the regional stack's name and
	// "-WorkQueue"): the fleet view searches the queues' metrics with it.
	// Required.
	QueueSearch string
}

// Fleet view: with more locations or sites than MaxListed, the per-location
// graphs show the region only, and the fleet view (always there) the TopN
// queues with the most messages and the oldest (CloudWatch search), the
// counts of sites with a problem (the site agent's metrics) and up to
// 2×TopN such sites by name (the agent's log): its size does not grow with
// the fleet (a widget holds at most 500 metrics).
const (
	MaxListed = 20
	TopN      = 10
)

// Dashboard is the app's dashboard. Its construct is the dashboard itself.
type Dashboard struct {
	constructs.Construct
	board awscloudwatch.Dashboard
}

// Dashboard is the CloudWatch dashboard.
func (d *Dashboard) Dashboard() awscloudwatch.Dashboard { return d.board }

func (p Props) validate() error {
	if p.Name == "" || len(p.Locations) == 0 || p.Cluster == nil || p.Service == nil || p.QueueSearch == "" || p.Fleet == "" {
		return errors.New("dashboard: Name, Locations, Cluster, Service, QueueSearch and Fleet are required")
	}
	return nil
}

// New makes the dashboard.
func New(scope constructs.Construct, id string, p Props) (*Dashboard, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	if len(p.Locations) > MaxListed {
		p.Locations = p.Locations[:1] // the region's: beyond MaxListed the graphs search by name
	}
	minute := awscdk.Duration_Minutes(jsii.Number(1))
	opts := func(label, stat string) *awscloudwatch.MetricOptions {
		return &awscloudwatch.MetricOptions{Label: jsii.String(label), Statistic: jsii.String(stat), Period: minute}
	}
	graph := func(title string, left ...awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String(title), Left: &left, Width: jsii.Number(8), Height: jsii.Number(6)})
	}
	insights := func(metric, label string) awscloudwatch.IMetric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String("ECS/ContainerInsights"), MetricName: jsii.String(metric), Label: jsii.String(label),
			DimensionsMap: &map[string]*string{"ClusterName": p.Cluster.ClusterName(), "ServiceName": p.Service.ServiceName()},
			Statistic:     jsii.String("Average"), Period: minute,
		})
	}
	sites := func(metric, label, stat string) awscloudwatch.IMetric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(siteagentcontract.MetricNamespace), MetricName: jsii.String(metric), Label: jsii.String(label),
			DimensionsMap: &map[string]*string{siteagentcontract.DimensionFleet: jsii.String(p.Fleet)},
			Statistic:     jsii.String(stat), Period: minute,
		})
	}
	d := awscloudwatch.NewDashboard(scope, jsii.String(id), &awscloudwatch.DashboardProps{
		DashboardName:   jsii.String(p.Name),
		DefaultInterval: awscdk.Duration_Hours(jsii.Number(3)),
	})
	var waiting, oldest, dead []awscloudwatch.IMetric
	for _, l := range p.Locations {
		waiting = append(waiting,
			l.Queue.MetricApproximateNumberOfMessagesVisible(opts(l.Name+" visible", "Maximum")),
			l.Queue.MetricApproximateNumberOfMessagesNotVisible(opts(l.Name+" in flight", "Maximum")))
		oldest = append(oldest, l.Queue.MetricApproximateAgeOfOldestMessage(opts(l.Name, "Maximum")))
		dead = append(dead, l.DeadLetterQueue.MetricApproximateNumberOfMessagesVisible(opts(l.Name, "Maximum")))
	}
	if p.Unrouted != nil {
		dead = append(dead, p.Unrouted.MetricApproximateNumberOfMessagesVisible(opts("unrouted", "Maximum")))
	}
	d.AddWidgets(
		graph("Work per location: messages", waiting...),
		graph("Work per location: age of the oldest message (s)", oldest...),
		graph("Dead letters per location (and unrouted)", dead...),
	)
	d.AddWidgets(
		graph("Tasks in the region", insights("RunningTaskCount", "running"), insights("DesiredTaskCount", "desired")),
		graph("Sites", sites(siteagentcontract.MetricSites, "served", "Maximum"), sites(siteagentcontract.MetricSitesFailed, "agent failed", "Maximum")),
		graph("Sites with a problem", sites(siteagentcontract.MetricSitesOffline, "offline", "Minimum"),
			sites(siteagentcontract.MetricSitesNodeDisconnected, "node disconnected", "Minimum"), sites(siteagentcontract.MetricSitesTasksBelowDesired, "tasks below desired", "Minimum")),
	)
	search := func(label, expression string) awscloudwatch.IMetric {
		return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String(expression), Label: jsii.String(label), Period: minute,
			UsingMetrics: &map[string]awscloudwatch.IMetric{},
		})
	}
	queues := func(metric string, order string) string {
		return fmt.Sprintf(`SORT(SEARCH('{AWS/SQS,QueueName} MetricName="%s" "%s"', 'Maximum', 60), MAX, %s, %d)`, metric, p.QueueSearch, order, TopN)
	}
	d.AddWidgets(
		graph(fmt.Sprintf("Fleet: the %d queues with the most messages", TopN), search("", queues("ApproximateNumberOfMessagesVisible", "DESC"))),
		graph(fmt.Sprintf("Fleet: the %d oldest messages (s)", TopN), search("", queues("ApproximateAgeOfOldestMessage", "DESC"))),
	)
	if p.AgentLogs != nil {
		// The sites whose last state (the agent logs one a minute per site)
		// shows a problem, the offline first.
		d.AddWidgets(awscloudwatch.NewLogQueryWidget(&awscloudwatch.LogQueryWidgetProps{
			Title:         jsii.String(fmt.Sprintf("Fleet: up to %d sites with a problem (last 15 minutes of the agent's log)", TopN*2)),
			LogGroupNames: jsii.Strings(*p.AgentLogs.LogGroupName()),
			QueryLines: jsii.Strings(
				fmt.Sprintf(`filter msg = %q`, siteagentcontract.LogSiteState),
				fmt.Sprintf(`stats latest(%s) as connected, latest(%s) as disconnected, latest(%s) as desired, latest(%s) as running by site`,
					siteagentcontract.LogConnectedNodes, siteagentcontract.LogDisconnectedNodes, siteagentcontract.LogDesiredTasks, siteagentcontract.LogRunningTasks),
				`filter connected = 0 or disconnected > 0 or running < desired`,
				`sort connected asc, disconnected desc`,
				fmt.Sprintf(`limit %d`, TopN*2),
			),
			View: awscloudwatch.LogQueryVisualizationType_TABLE, Width: jsii.Number(24), Height: jsii.Number(6),
		}))
	}
	return &Dashboard{Construct: d, board: d}, nil
}
