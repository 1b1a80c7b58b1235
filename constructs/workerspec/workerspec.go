// Package workerspec is the one description of the worker container that both
// the in-region Fargate task definition and the EXTERNAL (ECS Anywhere) task
// definition are made from, so the two cannot drift: same image, environment,
// roles, log group, size and /data mount.
package workerspec

import (
	"errors"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ecs-anywhere-stretched/stretched/constructs/workerspec/contract"
	"github.com/ecs-anywhere-stretched/stretched/internal/trust"
)

// The worker's fixed contract with its container.
const (
	// ContainerName of the worker in every task definition.
	ContainerName = "worker"
	// DataPath is where the shared folder is mounted in the container.
	DataPath = "/data"
	// VolumeName of the task volume mounted at DataPath (the reference calls it share).
	VolumeName = "share"
	// SourceFolder and DestinationFolder are the reference's folders under /data.
	SourceFolder      = "/data/sourcefolder/"
	DestinationFolder = "/data/destinationfolder/"
	// UID and GID the image runs as; the EFS access point and the on-premises
	// /data folder must let this user write.
	UID = 1000
	GID = 1000
	// LogBufferMiB is the awslogs driver's buffer in non-blocking mode.
	LogBufferMiB = 25
)

// Queue is what the spec needs of the work queue: its URL and a way to let the
// task role consume it.
type Queue interface {
	Queue() awssqs.IQueue
	GrantConsume(grantee awsiam.IGrantable) awsiam.Grant
}

// Props describe the worker container.
type Props struct {
	// Image of the worker. Required.
	Image awsecs.ContainerImage
	// Queues the worker consumes, one per location (or one for all when
	// work is shared): the task role may consume each. Each task definition
	// names its own (AddContainer); nothing else differs between them.
	// Required: at least one.
	Queues []Queue
	// LogGroup both sides write to. Required.
	LogGroup awslogs.ILogGroup
	// Cpu units of the task. Default: 256. Allowed: the Fargate sizes 256, 512,
	// 1024, 2048, 4096.
	Cpu int
	// MemoryMiB of the task. Default: 512. Allowed: 512..30720 and valid for Cpu
	// on Fargate.
	MemoryMiB int
	// StopTimeout is how long ECS waits after SIGTERM before SIGKILL; the worker
	// finishes or releases its messages well within it. Default: 30 s. Allowed: 2..120 s.
	StopTimeout awscdk.Duration
	// Secrets are environment variables read from SSM parameters and Secrets
	// Manager secrets when a task starts; both task definitions get the same.
	// Default: none.
	Secrets []Secret
}

// Spec is the worker description plus the two roles every task definition of
// the worker uses.
type Spec struct {
	constructs.Construct
	props         Props
	taskRole      awsiam.Role
	executionRole awsiam.Role
	// executionRoles holds the execution roles (by construct path) whose
	// cdk-nag suppression is recorded and that may read the secrets.
	executionRoles map[string]bool
}

var fargateCpu = map[int]bool{256: true, 512: true, 1024: true, 2048: true, 4096: true}

// withDefaults returns the props with every default applied.
func (p Props) withDefaults() Props {
	if p.Cpu == 0 {
		p.Cpu = 256
	}
	if p.MemoryMiB == 0 {
		p.MemoryMiB = 512
	}
	if p.StopTimeout == nil {
		p.StopTimeout = awscdk.Duration_Seconds(jsii.Number(30))
	}
	return p
}

// validate reports every problem of p (defaults applied), changing nothing.
func (p Props) validate() error {
	var errs []error
	if p.Image == nil {
		errs = append(errs, errors.New("workerspec: Image is nil: pass the worker's container image"))
	}
	if len(p.Queues) == 0 {
		errs = append(errs, errors.New("workerspec: Queues is empty: pass the work queue of every location"))
	}
	if p.LogGroup == nil {
		errs = append(errs, errors.New("workerspec: LogGroup is nil: pass the log group both sides write to"))
	}
	if !fargateCpu[p.Cpu] {
		errs = append(errs, fmt.Errorf("workerspec: Cpu is %d: must be one of 256, 512, 1024, 2048, 4096", p.Cpu))
	}
	if p.MemoryMiB < 512 || p.MemoryMiB > 30720 {
		errs = append(errs, fmt.Errorf("workerspec: MemoryMiB is %d: must be from 512 to 30720", p.MemoryMiB))
	}
	if s := *p.StopTimeout.ToSeconds(nil); s < 2 || s > 120 {
		errs = append(errs, fmt.Errorf("workerspec: StopTimeout is %v s: must be from 2 to 120 s", s))
	}
	if err := contract.ValidateSecrets("workerspec", p.Secrets); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// New makes the spec and its task and execution roles. The task role may
// consume the queue; the execution role may pull the image and write the logs
// (granted as task definitions bind the image and log driver).
func New(scope constructs.Construct, id string, props Props) (*Spec, error) {
	props = props.withDefaults()
	if err := props.validate(); err != nil {
		return nil, err
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(c)
	s := &Spec{
		Construct:      c,
		props:          props,
		executionRoles: map[string]bool{},
		taskRole: awsiam.NewRole(c, jsii.String("TaskRole"), &awsiam.RoleProps{
			// ECS documents aws:SourceArn arn:...:ecs:<region>:<account>:*
			// for task roles (task-iam-roles.html).
			AssumedBy:   trust.Service(stack, "ecs-tasks.amazonaws.com", "ecs", ""),
			Description: jsii.String("worker tasks, in region and on premises: consume the work queue"),
		}),
		executionRole: awsiam.NewRole(c, jsii.String("ExecutionRole"), &awsiam.RoleProps{
			// The account only, as the sites' execution roles.
			AssumedBy:   trust.Service(stack, "ecs-tasks.amazonaws.com", "", ""),
			Description: jsii.String("ECS agent for worker tasks: pull the image, write the logs"),
		}),
	}
	for _, q := range props.Queues {
		q.GrantConsume(s.taskRole)
	}
	cdknag.NagSuppressions_AddResourceSuppressions(s.taskRole, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		AppliesTo: &[]any{jsii.String("Resource::*")},
		Reason:    jsii.String("ECS Exec adds ssmmessages:Create/OpenControlChannel and Create/OpenDataChannel, which have no resource-level permissions"),
	}}, jsii.Bool(true))
	return s, nil
}

// TaskRole is the role the worker runs as, on both sides.
func (s *Spec) TaskRole() awsiam.IRole { return s.taskRole }

// ExecutionRole is the role the ECS agent uses to start the worker, on both sides.
func (s *Spec) ExecutionRole() awsiam.IRole { return s.executionRole }

// Cpu units of a worker task.
func (s *Spec) Cpu() int { return s.props.Cpu }

// MemoryMiB of a worker task.
func (s *Spec) MemoryMiB() int { return s.props.MemoryMiB }

// LogGroup both sides write to.
func (s *Spec) LogGroup() awslogs.ILogGroup { return s.props.LogGroup }

// Environment is the reference's environment contract of the worker, for
// the location whose queue is given: the queue is its one per-location
// value. The
// region is the stack's own: the anywhere stacks live in the regional stack's
// region because they import its exports.
func (s *Spec) Environment(scope constructs.Construct, queue awssqs.IQueue) map[string]*string {
	return map[string]*string{
		contract.QueueURL:          queue.QueueUrl(),
		contract.SourceFolder:      jsii.String(SourceFolder),
		contract.DestinationFolder: jsii.String(DestinationFolder),
		contract.Region:            awscdk.Stack_Of(scope).Region(),
		// The worker refuses a shutdown grace that ECS would cut short.
		contract.StopTimeout: jsii.String(fmt.Sprint(*s.props.StopTimeout.ToSeconds(nil))),
	}
}

// AddContainer adds the worker container to td, consuming queue (the
// location's), logging with the given stream prefix and mounting the task
// volume named VolumeName at DataPath; the caller adds that volume (EFS in
// region, a host path on premises). td runs with the spec's roles.
func (s *Spec) AddContainer(td awsecs.TaskDefinition, streamPrefix string, queue awssqs.IQueue) awsecs.ContainerDefinition {
	logging := awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{
		LogGroup:      s.props.LogGroup,
		StreamPrefix:  jsii.String(streamPrefix),
		Mode:          awsecs.AwsLogDriverMode_NON_BLOCKING,
		MaxBufferSize: awscdk.Size_Mebibytes(jsii.Number(LogBufferMiB)),
	})
	return s.addContainer(td, queue, s.executionRole, logging, false)
}

// AddOwnContainer is AddContainer for a task definition with an execution
// role of its own (a site's): that role gets the secrets, and may write
// only the log streams under streamPrefix ("<prefix>/worker/<task id>"),
// not the whole log group as aws-cdk's awslogs driver would grant.
func (s *Spec) AddOwnContainer(td awsecs.TaskDefinition, streamPrefix string, queue awssqs.IQueue, executionRole awsiam.IRole) awsecs.ContainerDefinition {
	stack := awscdk.Stack_Of(td)
	// The awslogs driver written as a generic one grants nothing itself.
	logging := awsecs.NewGenericLogDriver(&awsecs.GenericLogDriverProps{
		LogDriver: jsii.String("awslogs"),
		Options: &map[string]*string{
			"awslogs-group":         s.props.LogGroup.LogGroupName(),
			"awslogs-region":        stack.Region(),
			"awslogs-stream-prefix": jsii.String(streamPrefix),
			"mode":                  jsii.String("non-blocking"),
			"max-buffer-size":       jsii.String(fmt.Sprintf("%db", LogBufferMiB*1024*1024)),
		},
	})
	executionRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:     jsii.String("WriteOwnLogStreams"),
		Actions: jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("logs"), Resource: jsii.String("log-group"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
			ResourceName: jsii.String(*s.props.LogGroup.LogGroupName() + ":log-stream:" + streamPrefix + "/*"),
		})),
	}))
	return s.addContainer(td, queue, executionRole, logging, true)
}

func (s *Spec) addContainer(td awsecs.TaskDefinition, queue awssqs.IQueue, executionRole awsiam.IRole, logging awsecs.LogDriver, ownLogs bool) awsecs.ContainerDefinition {
	container := td.AddContainer(jsii.String(ContainerName), &awsecs.ContainerDefinitionOptions{
		Image:          s.props.Image,
		Essential:      jsii.Bool(true),
		Environment:    ptrMap(s.Environment(td, queue)),
		Cpu:            jsii.Number(float64(s.props.Cpu)),
		MemoryLimitMiB: jsii.Number(float64(s.props.MemoryMiB)),
		User:           jsii.String(fmt.Sprintf("%d:%d", UID, GID)),
		StopTimeout:    s.props.StopTimeout,
		// Non-blocking: a site that cannot reach CloudWatch Logs (a cut
		// link) never blocks the worker's writes or a task's start; lines
		// beyond the buffer are dropped, the oldest kept.
		Logging: logging,
	})
	cdknag.NagSuppressions_AddResourceSuppressions(td, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-ECS2"),
		Reason: jsii.String("the environment holds only the reference's non-secret contract (queue URL, the two /data folders, the region) and the task's stop timeout; secrets come as container secrets"),
	}}, jsii.Bool(false))
	first := !s.executionRoles[*executionRole.Node().Path()]
	s.executionRoles[*executionRole.Node().Path()] = true
	if first {
		// The execution role's policy exists once the first container
		// bound its image and log driver.
		applies, reason := []any{jsii.String("Resource::*")}, "ecr:GetAuthorizationToken has no resource-level permissions; pulls themselves are limited to the image's repository"
		if ownLogs {
			applies = append(applies, &cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:.+:logs:.+:log-stream:.+\/\*$/`)})
			reason += "; the tasks write only the log streams under their own prefix"
		}
		cdknag.NagSuppressions_AddResourceSuppressions(executionRole, &[]*cdknag.NagPackSuppression{{
			Id: jsii.String("AwsSolutions-IAM5"), AppliesTo: &applies, Reason: jsii.String(reason),
		}}, jsii.Bool(true))
	}
	if len(s.props.Secrets) > 0 {
		// Written as the task definition's property: aws-cdk's SSM imports
		// would add an unused template parameter for every parameter.
		td.Node().DefaultChild().(awsecs.CfnTaskDefinition).AddPropertyOverride(jsii.String("ContainerDefinitions.0.Secrets"), s.secretEntries())
		if first {
			s.grantSecrets(executionRole)
		}
	}
	container.AddMountPoints(&awsecs.MountPoint{
		SourceVolume:  jsii.String(VolumeName),
		ContainerPath: jsii.String(DataPath),
		ReadOnly:      jsii.Bool(false),
	})
	return container
}

// ValidateService checks what every service of the worker needs: the spec
// and a cluster. Errors name the owner.
func ValidateService(owner string, spec *Spec, cluster awsecs.ICluster, queue awssqs.IQueue) []error {
	var errs []error
	if spec == nil {
		errs = append(errs, fmt.Errorf("%s: Spec is nil: pass the worker spec of the regional stack", owner))
	}
	if cluster == nil {
		errs = append(errs, fmt.Errorf("%s: Cluster is nil: pass the ECS cluster the service runs in", owner))
	}
	if queue == nil {
		errs = append(errs, fmt.Errorf("%s: Queue is nil: pass the work queue of the service's location", owner))
	}
	return errs
}

func ptrMap(m map[string]*string) *map[string]*string { return &m }
