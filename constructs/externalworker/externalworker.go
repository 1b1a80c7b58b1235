// Package externalworker runs the worker on ECS Anywhere nodes: an EXTERNAL
// task definition made from the same worker spec as the in-region one (bridge
// network, the node's /data as a host volume, logs to the regional log group
// under the site's own stream prefix) and an EXTERNAL service. Its tasks run
// with roles of the site's own: a node holds the credentials of the tasks
// placed on it, so those reach only the site's queue and log streams.
package externalworker

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ecs-anywhere-stretched/stretched/constructs/workerspec"
	"github.com/ecs-anywhere-stretched/stretched/internal/trust"
)

// Family of the EXTERNAL task definition, as in the reference.
const Family = "ecsworker-external"

// StreamPrefix starts the on-premises tasks' log streams (the reference's
// "external"); a site's streams are StreamPrefix-<site>/worker/<task id>.
const StreamPrefix = "external"

// Props configure the on-premises worker.
type Props struct {
	// Spec describes the worker; the same value the regional worker uses. Required.
	Spec *workerspec.Spec
	// Queue is the site's work queue (the shared one when work is shared):
	// the task role may consume it and nothing else. Required.
	Queue workerspec.Queue
	// LogStreamPrefix of the tasks' log streams in the spec's log group;
	// the execution role may write only the streams under it. Default:
	// StreamPrefix. Allowed: 1..256 characters without ':' or '*'.
	LogStreamPrefix string
	// TaskRole the site's tasks run as; bring your own (trusted by
	// ecs-tasks.amazonaws.com) or get one that may consume Queue and
	// nothing else. Default: a new role "TaskRole" in the construct.
	TaskRole awsiam.IRole
	// ExecutionRole the ECS agent starts the site's tasks with (on an
	// external instance it pulls the image and writes the awslogs streams
	// with it, and reads the worker's secrets). Default: a new role
	// "ExecutionRole" in the construct, limited to the image, the streams
	// under LogStreamPrefix and the spec's secrets.
	ExecutionRole awsiam.IRole
	// Cluster is the external cluster the nodes join. Required.
	Cluster awsecs.ICluster
	// HostPath is the node folder mounted at /data. Default: /data. Allowed: an absolute path.
	HostPath string
}

// Worker is the on-premises worker.
type Worker struct {
	constructs.Construct
	service        awsecs.ExternalService
	taskDefinition awsecs.ExternalTaskDefinition
}

func (p Props) withDefaults() Props {
	if p.HostPath == "" {
		p.HostPath = workerspec.DataPath
	}
	if p.LogStreamPrefix == "" {
		p.LogStreamPrefix = StreamPrefix
	}
	return p
}

func (p Props) validate() error {
	var queue awssqs.IQueue
	if p.Queue != nil {
		queue = p.Queue.Queue()
	}
	errs := workerspec.ValidateService("externalworker", p.Spec, p.Cluster, queue)
	if len(p.LogStreamPrefix) > 256 || strings.ContainsAny(p.LogStreamPrefix, ":*") {
		errs = append(errs, fmt.Errorf("externalworker: LogStreamPrefix is %q: must be 1 to 256 characters without ':' or '*', such as %s-<site>", p.LogStreamPrefix, StreamPrefix))
	}
	if p.HostPath[0] != '/' {
		errs = append(errs, fmt.Errorf("externalworker: HostPath is %q: must be an absolute path on the node, such as /data", p.HostPath))
	}
	return errors.Join(errs...)
}

// RestartAttemptSeconds is how long the worker container must have run
// before the agent restarts it when it exits (ECS allows 60 to 1800).
const RestartAttemptSeconds = 60

// New makes the EXTERNAL task definition and service.
func New(scope constructs.Construct, id string, props Props) (*Worker, error) {
	props = props.withDefaults()
	if err := props.validate(); err != nil {
		return nil, err
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	spec := props.Spec
	stack := awscdk.Stack_Of(c)
	taskRole := props.TaskRole
	if taskRole == nil {
		taskRole = awsiam.NewRole(c, jsii.String("TaskRole"), &awsiam.RoleProps{
			// ECS documents aws:SourceArn arn:...:ecs:<region>:<account>:*
			// for task roles (task-iam-roles.html).
			AssumedBy:   trust.Service(stack, "ecs-tasks.amazonaws.com", "ecs", ""),
			Description: jsii.String("the site's worker tasks: consume the site's queue"),
		})
		props.Queue.GrantConsume(taskRole)
		cdknag.NagSuppressions_AddResourceSuppressions(taskRole, &[]*cdknag.NagPackSuppression{{
			Id:        jsii.String("AwsSolutions-IAM5"),
			AppliesTo: &[]any{jsii.String("Resource::*")},
			Reason:    jsii.String("ECS Exec adds ssmmessages:Create/OpenControlChannel and Create/OpenDataChannel, which have no resource-level permissions"),
		}}, jsii.Bool(true))
	}
	executionRole := props.ExecutionRole
	if executionRole == nil {
		executionRole = awsiam.NewRole(c, jsii.String("ExecutionRole"), &awsiam.RoleProps{
			// The account only: ECS documents no aws:SourceArn for the
			// agent's execution-role sessions.
			AssumedBy:   trust.Service(stack, "ecs-tasks.amazonaws.com", "", ""),
			Description: jsii.String("ECS agent for the site's worker tasks: pull the image, write the site's log streams"),
		})
	}
	td := awsecs.NewExternalTaskDefinition(c, jsii.String("TaskDefinition"), &awsecs.ExternalTaskDefinitionProps{
		Family:        jsii.String(Family),
		NetworkMode:   awsecs.NetworkMode_BRIDGE,
		TaskRole:      taskRole,
		ExecutionRole: executionRole,
		Volumes: &[]*awsecs.Volume{{
			Name: jsii.String(workerspec.VolumeName),
			Host: &awsecs.Host{SourcePath: jsii.String(props.HostPath)},
		}},
	})
	// Task-level size, as in the reference (cpu 256, memory 512).
	cfnTd := td.Node().DefaultChild().(awsecs.CfnTaskDefinition)
	cfnTd.SetCpu(jsii.String(fmt.Sprint(spec.Cpu())))
	cfnTd.SetMemory(jsii.String(fmt.Sprint(spec.MemoryMiB())))
	spec.AddOwnContainer(td, props.LogStreamPrefix, props.Queue.Queue(), executionRole)
	// A worker that exits on a node is restarted there by the ECS agent,
	// even while the site cannot reach ECS (a cut link): without it the
	// task would stop and wait for the control plane to place a new one.
	// A clean stop (exit 0: SIGTERM, a deployment) is not restarted; a
	// container that ran less than RestartAttemptPeriod is not either, so
	// a worker that cannot start (a bad setting) stops instead of looping.
	cfnTd.AddPropertyOverride(jsii.String("ContainerDefinitions.0.RestartPolicy"), map[string]any{
		"Enabled":              true,
		"IgnoredExitCodes":     []int{0},
		"RestartAttemptPeriod": RestartAttemptSeconds,
	})

	service := awsecs.NewExternalService(c, jsii.String("Service"), &awsecs.ExternalServiceProps{
		Cluster:        props.Cluster,
		TaskDefinition: td,
		// Site capacity is fixed: stop an old task before starting its
		// replacement, so a deployment never needs a spare node.
		MinHealthyPercent:    jsii.Number(0),
		MaxHealthyPercent:    jsii.Number(100),
		CircuitBreaker:       &awsecs.DeploymentCircuitBreaker{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)},
		EnableExecuteCommand: jsii.Bool(true),
	})
	cfnService := service.Node().DefaultChild().(awsecs.CfnService)
	// Spread the tasks over the site's nodes, so one node going down stops
	// as few tasks as possible.
	cfnService.SetPlacementStrategies(&[]any{&awsecs.CfnService_PlacementStrategyProperty{
		Type:  jsii.String("spread"),
		Field: jsii.String("instanceId"),
	}})
	return &Worker{Construct: c, service: service, taskDefinition: td}, nil
}

// Service is the EXTERNAL service.
func (w *Worker) Service() awsecs.ExternalService { return w.service }

// DeployWith sets the DesiredCount the service is deployed with. The fleet's
// site agent (constructs/siteagent) owns the running count; give the task
// count's answer (constructs/taskcount: the count the service has when the
// deploy runs), so a deploy leaves the count alone. Without it, CloudFormation
// starts one task and waits for it, which a site with no node never runs.
func (w *Worker) DeployWith(desiredCount *float64) {
	w.service.Node().DefaultChild().(awsecs.CfnService).SetDesiredCount(desiredCount)
}

// TaskRole is the role the site's tasks run as.
func (w *Worker) TaskRole() awsiam.IRole { return w.taskDefinition.TaskRole() }

// ExecutionRole is the role the ECS agent starts the site's tasks with.
func (w *Worker) ExecutionRole() awsiam.IRole { return w.taskDefinition.ExecutionRole() }

// TaskDefinition is the EXTERNAL task definition.
func (w *Worker) TaskDefinition() awsecs.ExternalTaskDefinition { return w.taskDefinition }
