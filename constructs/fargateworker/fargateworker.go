// Package fargateworker runs the worker in the region: a Fargate task
// definition made from the worker spec, with EFS mounted at /data through an
// access point, and a service with ECS Exec and a rolling-back circuit breaker.
package fargateworker

import (
	"errors"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/constructs/queuescaling"
	"github.com/ecs-anywhere-stretched/stretched/constructs/workerspec"
)

// Family of the in-region task definition, as in the reference.
const Family = "ecsworker"

// Props configure the in-region worker.
type Props struct {
	// Spec describes the worker. Required.
	Spec *workerspec.Spec
	// Queue is the region's work queue: the tasks consume it and the
	// service scales on it. Required.
	Queue awssqs.IQueue
	// Cluster runs the service; its VPC holds the tasks. Required.
	Cluster awsecs.ICluster
	// FileSystem is mounted at /data. Required.
	FileSystem awsefs.IFileSystem
	// MinTasks and MaxTasks bound the task count, which scaling on the queue
	// owns (the template sets no DesiredCount, so a deploy leaves it alone).
	// Required: 0 <= MinTasks <= MaxTasks, MaxTasks >= 1.
	MinTasks, MaxTasks int
	// ScaleOn is what the service scales on: queuescaling.Depth (visible
	// messages) or queuescaling.Burst (age of the oldest message, for a
	// region that only helps the sites). Default: Depth.
	ScaleOn queuescaling.Mode
	// BurstAgeSeconds is the oldest message's age from which Burst adds a
	// task. Default: 300.
	BurstAgeSeconds int
	// PublicSubnets places the tasks in public subnets with a public IP (for a
	// VPC without NAT gateways); otherwise they run in private subnets with
	// egress. Default: false.
	PublicSubnets bool
}

// Worker is the in-region worker.
type Worker struct {
	constructs.Construct
	service     awsecs.FargateService
	accessPoint awsefs.AccessPoint
	scaling     *queuescaling.Scaling
}

func (p Props) validate() error {
	errs := workerspec.ValidateService("fargateworker", p.Spec, p.Cluster, p.Queue)
	if p.FileSystem == nil {
		errs = append(errs, errors.New("fargateworker: FileSystem is nil: pass the EFS file system mounted at /data"))
	}
	return errors.Join(errs...)
}

// New makes the access point, task definition and service.
func New(scope constructs.Construct, id string, props Props) (*Worker, error) {
	if err := props.validate(); err != nil {
		return nil, err
	}

	c := constructs.NewConstruct(scope, jsii.String(id))
	spec := props.Spec
	ap := awsefs.NewAccessPoint(c, jsii.String("AccessPoint"), &awsefs.AccessPointProps{
		FileSystem: props.FileSystem,
		Path:       jsii.String("/ecsworker"),
		PosixUser:  &awsefs.PosixUser{Uid: jsii.String(fmt.Sprint(workerspec.UID)), Gid: jsii.String(fmt.Sprint(workerspec.GID))},
		CreateAcl: &awsefs.Acl{
			OwnerUid:    jsii.String(fmt.Sprint(workerspec.UID)),
			OwnerGid:    jsii.String(fmt.Sprint(workerspec.GID)),
			Permissions: jsii.String("750"),
		},
	})
	td := awsecs.NewFargateTaskDefinition(c, jsii.String("TaskDefinition"), &awsecs.FargateTaskDefinitionProps{
		Family:         jsii.String(Family),
		Cpu:            jsii.Number(float64(spec.Cpu())),
		MemoryLimitMiB: jsii.Number(float64(spec.MemoryMiB())),
		TaskRole:       spec.TaskRole(),
		ExecutionRole:  spec.ExecutionRole(),
		Volumes: &[]*awsecs.Volume{{
			Name: jsii.String(workerspec.VolumeName),
			EfsVolumeConfiguration: &awsecs.EfsVolumeConfiguration{
				FileSystemId:      props.FileSystem.FileSystemId(),
				TransitEncryption: jsii.String("ENABLED"),
				AuthorizationConfig: &awsecs.AuthorizationConfig{
					AccessPointId: ap.AccessPointId(),
					Iam:           jsii.String("ENABLED"),
				},
			},
		}},
	})
	spec.AddContainer(td, "regional", props.Queue)
	spec.TaskRole().AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"),
		Resources:  jsii.Strings(*props.FileSystem.FileSystemArn()),
		Conditions: &map[string]any{"StringEquals": map[string]any{"elasticfilesystem:AccessPointArn": ap.AccessPointArn()}},
	}))
	subnetType := awsec2.SubnetType_PRIVATE_WITH_EGRESS
	if props.PublicSubnets {
		subnetType = awsec2.SubnetType_PUBLIC
	}
	service := awsecs.NewFargateService(c, jsii.String("Service"), &awsecs.FargateServiceProps{
		Cluster:              props.Cluster,
		TaskDefinition:       td,
		EnableExecuteCommand: jsii.Bool(true),
		CircuitBreaker:       &awsecs.DeploymentCircuitBreaker{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)},
		MinHealthyPercent:    jsii.Number(100),
		MaxHealthyPercent:    jsii.Number(200),
		AssignPublicIp:       jsii.Bool(props.PublicSubnets),
		VpcSubnets:           &awsec2.SubnetSelection{SubnetType: subnetType},
		PlatformVersion:      awsecs.FargatePlatformVersion_LATEST,
	})
	props.FileSystem.Connections().AllowDefaultPortFrom(service, jsii.String("worker tasks mount /data"))
	scaling, err := queuescaling.New(c, "Scaling", queuescaling.Props{
		Service: service, Cluster: props.Cluster, Queue: props.Queue,
		MinTasks: props.MinTasks, MaxTasks: props.MaxTasks, Mode: props.ScaleOn, BurstAgeSeconds: props.BurstAgeSeconds,
	})
	if err != nil {
		return nil, fmt.Errorf("fargateworker: %w", err)
	}
	return &Worker{Construct: c, service: service, accessPoint: ap, scaling: scaling}, nil
}

// Service is the Fargate service.
func (w *Worker) Service() awsecs.FargateService { return w.service }

// Scaling is the service's scaling on the queue.
func (w *Worker) Scaling() *queuescaling.Scaling { return w.scaling }

// AccessPoint through which the worker mounts EFS.
func (w *Worker) AccessPoint() awsefs.AccessPoint { return w.accessPoint }
