// Package handler is the siteagent feature's runtime (handler "siteagent"): one function for
// the whole fleet (Fleet) that runs once a minute for every site of the site
// directory, each site bounded in time (Scaler): it scales the site's EXTERNAL service on the work
// queue's backlog by setting its desired count, and logs the site's state
// (nodes connected and disconnected, tasks desired and running: one JSON
// line, "site state"). Each scheduled run then writes the fleet's metrics
// (how many sites are offline, have a node disconnected or miss tasks) in
// the CloudWatch embedded metric format, one line, no CloudWatch call: a
// fixed number of custom metrics, whatever the number of sites. A Go function sets the count because AWS's
// documentation does not establish that Application Auto Scaling serves
// EXTERNAL services (docs/operations.md, Scaling on the queue).
package handler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/ecs-anywhere-stretched/stretched/constructs/siteagent/contract"
	"github.com/ecs-anywhere-stretched/stretched/internal/awserr"
)

// ServiceAPI is what the agent calls of ECS.
type ServiceAPI interface {
	ECSAPI
	DescribeServices(context.Context, *ecs.DescribeServicesInput, ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	UpdateService(context.Context, *ecs.UpdateServiceInput, ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error)
}

// QueueAPI is what the agent calls of SQS.
type QueueAPI interface {
	GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// Scaler is one site's run of the agent: it scales the site's service.
type Scaler struct {
	ECS              ServiceAPI
	SQS              QueueAPI
	Cluster, Service string
	QueueURL         string
	// DeadLetterQueueURL, when set, is read for its depth (Report.DeadLetters).
	DeadLetterQueueURL string
	MinTasks, MaxTasks int
	BacklogPerTask     int
	Log                *slog.Logger
}

// Report is what one run saw and did.
type Report struct {
	Nodes                     Counts
	Visible, InFlight         int
	Desired, Running, Pending int
	// NewDesired is the desired count after the run.
	NewDesired int
	// NodesKnown and TasksKnown say whether the nodes, and the service and
	// queue, were read: a count that was not read is not a zero.
	NodesKnown, TasksKnown bool
	// DeadLetters is how many messages the site's dead-letter queue holds
	// (0 when it was not read: the run's error says so).
	DeadLetters int
}

// Offline: no node connected (the link is cut, or none joined yet).
func (r Report) Offline() bool { return r.NodesKnown && r.Nodes.Connected == 0 }

// NodeDisconnected: a node disconnected while the site is online.
func (r Report) NodeDisconnected() bool {
	return r.NodesKnown && r.Nodes.Connected >= 1 && r.Nodes.Disconnected >= 1
}

// TasksBelowDesired: fewer tasks run than desired while the site is online.
func (r Report) TasksBelowDesired() bool {
	return r.NodesKnown && r.TasksKnown && r.Nodes.Connected >= 1 && r.Running < r.NewDesired
}

// Decide is the desired count for a backlog: enough tasks that each has at
// most perTask messages, within [min, max]; it grows at once and shrinks by
// one task a run, so a short lull does not stop tasks that are still busy.
func Decide(current, backlog, minTasks, maxTasks, perTask int) int {
	want := (backlog + perTask - 1) / perTask
	if want < current {
		want = current - 1
	}
	return max(minTasks, min(maxTasks, want))
}

// Run counts, decides, sets the desired count when it changes and logs the
// site's state. A failure to read nodes does not stop the scaling, and the
// reverse; every failure is returned.
func (a *Scaler) Run(ctx context.Context) (Report, error) {
	var r Report
	var errs []error
	nodes, nodesErr := Count(ctx, a.ECS, a.Cluster)
	if nodesErr != nil {
		errs = append(errs, nodesErr)
	}
	r.Nodes = nodes
	scaleErr := a.scale(ctx, &r, nodesErr == nil)
	if scaleErr != nil {
		errs = append(errs, scaleErr)
	}
	r.NodesKnown, r.TasksKnown = nodesErr == nil, scaleErr == nil
	if a.DeadLetterQueueURL != "" {
		q, err := a.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(a.DeadLetterQueueURL), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages},
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("read the dead letters of queue %s: %w", a.DeadLetterQueueURL, awserr.Explain(err)))
		} else {
			r.DeadLetters, _ = strconv.Atoi(q.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
		}
	}
	a.logState(r)
	return r, errors.Join(errs...)
}

// scale sets the desired count from the backlog. A site with no connected
// node (offline, or none joined yet) gets no more tasks: nothing can be
// placed there, and its work waits in its own queue until a node is back.
func (a *Scaler) scale(ctx context.Context, r *Report, nodesKnown bool) error {
	q, err := a.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(a.QueueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible},
	})
	if err != nil {
		return fmt.Errorf("read the backlog of queue %s: %w", a.QueueURL, awserr.Explain(err))
	}
	r.Visible, _ = strconv.Atoi(q.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	r.InFlight, _ = strconv.Atoi(q.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	out, err := a.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(a.Cluster), Services: []string{a.Service}})
	if err != nil {
		return fmt.Errorf("describe service %s: %w", a.Service, awserr.Explain(err))
	}
	if len(out.Services) != 1 {
		return fmt.Errorf("service %s not found in cluster %s (failures %v): deploy the site's stack", a.Service, a.Cluster, out.Failures)
	}
	svc := out.Services[0]
	r.Desired, r.Running, r.Pending = int(svc.DesiredCount), int(svc.RunningCount), int(svc.PendingCount)
	r.NewDesired = r.Desired
	want := Decide(r.Desired, r.Visible+r.InFlight, a.MinTasks, a.MaxTasks, a.BacklogPerTask)
	if want > r.Desired && nodesKnown && r.Nodes.Connected == 0 {
		a.Log.Info("site offline: no node connected; not adding tasks", "service", a.Service, "desired", r.Desired, "wanted", want,
			"disconnectedNodes", r.Nodes.Disconnected)
		want = r.Desired
	}
	if want == r.Desired {
		return nil
	}
	if _, err := a.ECS.UpdateService(ctx, &ecs.UpdateServiceInput{
		Cluster: aws.String(a.Cluster), Service: aws.String(a.Service), DesiredCount: aws.Int32(int32(want)),
	}); err != nil {
		return fmt.Errorf("set the desired count of service %s to %d: %w", a.Service, want, awserr.Explain(err))
	}
	r.NewDesired = want
	a.Log.Info("desired count set", "service", a.Service, "from", r.Desired, "to", want, "visible", r.Visible, "inFlight", r.InFlight)
	return nil
}

// logState logs what the run saw, the counts it read only (a zero for
// "unknown" would read as an empty site): the dashboard's fleet view lists
// the sites with a problem from these lines.
func (a *Scaler) logState(r Report) {
	var attrs []any
	if r.NodesKnown {
		attrs = append(attrs, contract.LogConnectedNodes, r.Nodes.Connected, contract.LogDisconnectedNodes, r.Nodes.Disconnected)
	}
	if r.TasksKnown {
		attrs = append(attrs, contract.LogDesiredTasks, r.NewDesired, contract.LogRunningTasks, r.Running, "visible", r.Visible, "inFlight", r.InFlight)
	}
	if len(attrs) > 0 {
		a.Log.Info(contract.LogSiteState, attrs...)
	}
}
