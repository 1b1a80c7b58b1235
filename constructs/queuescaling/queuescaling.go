// Package queuescaling scales the regional Fargate service on the work
// queue with Application Auto Scaling: a scalable target on
// service/<cluster>/<service> and step scaling on a queue metric, as
// aws-cdk's QueueProcessingServiceBase does. Depth mode scales on visible
// messages; burst mode on the age of the oldest message, so a service with
// minimum 0 only starts when the sites fall behind. Step scaling, not target
// tracking, because target tracking does not act on insufficient data and a
// service at 0 tasks reports none (the queue's metrics always report).
//
// The fargate worker makes it inside its own construct ("Scaling"), so the
// worker owns its scaling. The scalable target is built here rather than by
// the service's AutoScaleTaskCount because the first version's target has
// this construct's ids: AutoScaleTaskCount's would be a new resource on the
// same service and dimension, and CloudFormation deleting the old one would
// deregister the new one's registration (Application Auto Scaling keeps one
// per service and dimension).
package queuescaling

import (
	"errors"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/constructs/queuescaling/contract"
	siteagentcontract "github.com/ecs-anywhere-stretched/stretched/constructs/siteagent/contract"
)

// Mode is what the service scales on.
type Mode string

const (
	// Depth scales on the visible messages (the default).
	Depth Mode = "depth"
	// Burst scales on the age of the oldest message.
	Burst Mode = "burst"
)

// Depth mode's steps, on ApproximateNumberOfMessagesVisible (maximum per
// minute): an empty queue removes a task, from ScaleOutBacklog messages one
// is added, from ScaleOutFastBacklog FastStep are added (the steps of
// aws-cdk's QueueProcessingServiceBase).
const (
	ScaleOutBacklog     = siteagentcontract.BacklogPerTask
	ScaleOutFastBacklog = 500
	FastStep            = 5
)

// DefaultBurstAgeSeconds is the oldest message's age from which a burst
// service adds a task.
const DefaultBurstAgeSeconds = contract.DefaultBurstAgeSeconds

// Props configure the scaling of one service.
type Props struct {
	// Service to scale. Required.
	Service awsecs.IBaseService
	// Cluster of the service. Required.
	Cluster awsecs.ICluster
	// Queue whose backlog drives the scaling. Required.
	Queue awssqs.IQueue
	// MinTasks and MaxTasks bound the task count. Required: 0 <= MinTasks <= MaxTasks, MaxTasks >= 1.
	MinTasks, MaxTasks int
	// Mode is what to scale on. Default: Depth.
	Mode Mode
	// BurstAgeSeconds: in Burst mode, add a task when the oldest message is
	// this old, three from 4x; remove one below a quarter. Default: 300.
	// Allowed: 60..43200.
	BurstAgeSeconds int
}

func (p Props) withDefaults() Props {
	if p.Mode == "" {
		p.Mode = Depth
	}
	if p.BurstAgeSeconds == 0 {
		p.BurstAgeSeconds = DefaultBurstAgeSeconds
	}
	return p
}

func (p Props) validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("queuescaling: "+format, args...)) }
	if p.Service == nil || p.Cluster == nil || p.Queue == nil {
		add("Service, Cluster and Queue are required: pass the service, its cluster and the work queue")
	}
	if p.MaxTasks < 1 || p.MinTasks < 0 || p.MinTasks > p.MaxTasks {
		add("MinTasks %d and MaxTasks %d: need 0 <= MinTasks <= MaxTasks and MaxTasks >= 1", p.MinTasks, p.MaxTasks)
	}
	if p.Mode != Depth && p.Mode != Burst {
		add("Mode is %q: must be %q or %q", p.Mode, Depth, Burst)
	}
	if p.BurstAgeSeconds < 60 || p.BurstAgeSeconds > 43200 {
		add("BurstAgeSeconds is %d: must be from 60 to 43200", p.BurstAgeSeconds)
	}
	return errors.Join(errs...)
}

// Scaling is the scalable target and its policy.
type Scaling struct {
	constructs.Construct
	target awsapplicationautoscaling.ScalableTarget
}

// New scales props.Service on props.Queue.
func New(scope constructs.Construct, id string, props Props) (*Scaling, error) {
	p := props.withDefaults()
	if err := p.validate(); err != nil {
		return nil, err
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(c)
	target := awsapplicationautoscaling.NewScalableTarget(c, jsii.String("Target"), &awsapplicationautoscaling.ScalableTargetProps{
		ServiceNamespace:  awsapplicationautoscaling.ServiceNamespace_ECS,
		ResourceId:        awscdk.Fn_Join(jsii.String(""), jsii.Strings("service/", *p.Cluster.ClusterName(), "/", *p.Service.ServiceName())),
		ScalableDimension: jsii.String("ecs:service:DesiredCount"),
		MinCapacity:       jsii.Number(float64(p.MinTasks)),
		MaxCapacity:       jsii.Number(float64(p.MaxTasks)),
		// The service-linked role Application Auto Scaling makes for ECS, as
		// aws-cdk's autoScaleTaskCount uses.
		Role: awsiam.Role_FromRoleArn(c, jsii.String("ServiceLinkedRole"), stack.FormatArn(&awscdk.ArnComponents{
			Region: jsii.String(""), Service: jsii.String("iam"),
			Resource:     jsii.String("role/aws-service-role/ecs.application-autoscaling.amazonaws.com"),
			ResourceName: jsii.String("AWSServiceRoleForApplicationAutoScaling_ECSService"),
		}), nil),
	})
	minute := awscdk.Duration_Minutes(jsii.Number(1))
	var metric awscloudwatch.IMetric
	var steps []*awsapplicationautoscaling.ScalingInterval
	if p.Mode == Depth {
		metric = p.Queue.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Maximum")})
		steps = []*awsapplicationautoscaling.ScalingInterval{
			{Upper: jsii.Number(0), Change: jsii.Number(-1)},
			{Lower: jsii.Number(ScaleOutBacklog), Change: jsii.Number(1)},
			{Lower: jsii.Number(ScaleOutFastBacklog), Change: jsii.Number(FastStep)},
		}
	} else {
		age := float64(p.BurstAgeSeconds)
		metric = p.Queue.MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Maximum")})
		steps = []*awsapplicationautoscaling.ScalingInterval{
			{Upper: jsii.Number(age / 4), Change: jsii.Number(-1)},
			{Lower: jsii.Number(age), Change: jsii.Number(1)},
			{Lower: jsii.Number(4 * age), Change: jsii.Number(3)},
		}
	}
	target.ScaleOnMetric(jsii.String("OnQueue"), &awsapplicationautoscaling.BasicStepScalingPolicyProps{
		Metric:         metric,
		ScalingSteps:   &steps,
		AdjustmentType: awsapplicationautoscaling.AdjustmentType_CHANGE_IN_CAPACITY,
		Cooldown:       awscdk.Duration_Minutes(jsii.Number(2)),
	})
	return &Scaling{Construct: c, target: target}, nil
}

// Target is the scalable target.
func (s *Scaling) Target() awsapplicationautoscaling.ScalableTarget { return s.target }
