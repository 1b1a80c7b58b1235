// Package externalworker runs the worker on ECS Anywhere nodes: an EXTERNAL
// task definition made from the same worker spec as the in-region one (bridge
// network, the node's /data as a host volume, logs to the regional log group
// with stream prefix "external") and an EXTERNAL service.
package externalworker

import (
	"errors"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/constructs/workerspec"
)

// Family of the EXTERNAL task definition, as in the reference.
const Family = "ecsworker-external"

// StreamPrefix of the on-premises tasks' log streams, as in the reference.
const StreamPrefix = "external"

// Props configure the on-premises worker.
type Props struct {
	// Spec describes the worker; the same value the regional worker uses. Required.
	Spec *workerspec.Spec
	// Queue is the site's work queue (the shared one when work is shared).
	// Required.
	Queue awssqs.IQueue
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
	return p
}

func (p Props) validate() error {
	errs := workerspec.ValidateService("externalworker", p.Spec, p.Cluster, p.Queue)
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
	td := awsecs.NewExternalTaskDefinition(c, jsii.String("TaskDefinition"), &awsecs.ExternalTaskDefinitionProps{
		Family:        jsii.String(Family),
		NetworkMode:   awsecs.NetworkMode_BRIDGE,
		TaskRole:      spec.TaskRole(),
		ExecutionRole: spec.ExecutionRole(),
		Volumes: &[]*awsecs.Volume{{
			Name: jsii.String(workerspec.VolumeName),
			Host: &awsecs.Host{SourcePath: jsii.String(props.HostPath)},
		}},
	})
	// Task-level size, as in the reference (cpu 256, memory 512).
	cfnTd := td.Node().DefaultChild().(awsecs.CfnTaskDefinition)
	cfnTd.SetCpu(jsii.String(fmt.Sprint(spec.Cpu())))
	cfnTd.SetMemory(jsii.String(fmt.Sprint(spec.MemoryMiB())))
	spec.AddContainer(td, StreamPrefix, props.Queue)
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

// TaskDefinition is the EXTERNAL task definition.
func (w *Worker) TaskDefinition() awsecs.ExternalTaskDefinition { return w.taskDefinition }
