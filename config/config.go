// Package config reads the app's settings from CDK context in three named
// steps: decode (what the user gave, with values of the wrong type
// reported), withDefaults (the one place a default is applied) and validate
// (every problem at once, one line each, naming the key, the value and what
// is allowed). Values may come from cdk.json (JSON types) or from
// `cdk synth -c key=value` (always strings). The configuration table in
// docs/configuration.md is generated from this package (Table).
package config

import (
	activationcontract "github.com/ecs-anywhere-stretched/stretched/constructs/activation/contract"
	fleetmanagercontract "github.com/ecs-anywhere-stretched/stretched/constructs/fleetmanager/contract"
	siteagentcontract "github.com/ecs-anywhere-stretched/stretched/constructs/siteagent/contract"
	workerspeccontract "github.com/ecs-anywhere-stretched/stretched/constructs/workerspec/contract"
)

// Config is the validated configuration of the whole app, every default
// applied.
type Config struct {
	// Account and Region pin the stacks to an environment; empty means
	// environment-agnostic.
	Account, Region string
	// StackPrefix starts every stack name: <prefix>-Regional, <prefix>-Anywhere-<site>.
	StackPrefix string
	// ImageTag selects the image in the stack's own ECR repository; ImageURI any
	// image. With neither, the worker's Dockerfile is built as a CDK image asset
	// at deploy time.
	ImageTag, ImageURI string
	// MaxReceiveCount is how often a message is received before it moves to the
	// dead-letter queue.
	MaxReceiveCount int
	// VisibilityTimeoutSeconds is the queues' default visibility timeout.
	VisibilityTimeoutSeconds int
	// LogRetentionDays is the retention of every log group the app makes.
	LogRetentionDays int
	// NatGateways is the number of NAT gateways of the regional VPC; with 0 the
	// Fargate tasks run in public subnets with a public IP and no inbound rule.
	NatGateways int
	// MinTasks and MaxTasks bound the in-region Fargate tasks; scaling on the
	// queue chooses the count between them.
	MinTasks, MaxTasks int
	// RegionalScaling is ScalingDepth or ScalingBurst.
	RegionalScaling string
	// Work is WorkRouted or WorkShared.
	Work string
	// BurstAgeSeconds is the oldest message's age from which burst scaling
	// adds a Fargate task.
	BurstAgeSeconds int
	// AlarmEmail, when set, is subscribed to the app's alarm topic.
	AlarmEmail string
	// AlarmMessageAgeSeconds: the oldest message older than this alarms.
	AlarmMessageAgeSeconds int
	// EcrMaxImages is how many tagged images the ECR lifecycle rule keeps.
	EcrMaxImages int
	// IamRolesQuota is the account's IAM roles-per-account quota (AWS's
	// default, or what the user raised it to): synth fails when the app's
	// roles would exceed it.
	IamRolesQuota int
	// EntryTopics is how many entry topics share the locations (routed work).
	EntryTopics int
	// PermissionsBoundary, when set, is the ARN of the managed policy set as
	// the permissions boundary of every IAM role the app makes, in every
	// stack; a site's own PermissionsBoundary replaces it in that site's
	// stack.
	PermissionsBoundary string
	// Sites are the on-premises locations, one anywhere stack each.
	Sites []Site
	// WorkerSecrets are the worker's variables read from SSM parameters and
	// Secrets Manager secrets, sorted by name.
	WorkerSecrets []workerspeccontract.Secret
	// Pipeline, when set, makes the app a CodePipeline that deploys the
	// stacks; nil deploys them directly (make deploy).
	Pipeline *Pipeline
	// Cells are the accounts and regions the fleet is split into; nil is
	// one cell, the app's own account and region (Account, Region).
	Cells []Cell
	// NodeTier is the Systems Manager tier for hybrid nodes of the app's
	// account and region (without cells), and every cell's default.
	NodeTier string
}

// Pipeline is the pipeline mode's source and options.
type Pipeline struct {
	// ConnectionArn and Repository ("owner/name") name a GitHub, GitLab or
	// Bitbucket repository through a CodeStar (CodeConnections) connection.
	ConnectionArn string `json:"connectionArn"`
	Repository    string `json:"repository"`
	// CodeCommitRepository names a CodeCommit repository instead.
	CodeCommitRepository string `json:"codeCommitRepository"`
	// Branch to deploy.
	Branch string `json:"branch"`
	// ApproveSites adds a manual approval between the region and the sites.
	ApproveSites bool `json:"approveSites"`
	// WaveSize is how many sites deploy side by side in one pipeline stage
	// (a wave); the waves run one after another, after the region.
	WaveSize int `json:"waveSize"`
	// Rings, when set, deploy the sites ring by ring, each with a bake time
	// and the fleet's alarms as a gate; none deploys every site after the
	// region, in waves, without a gate.
	Rings []Ring `json:"rings"`
}

// Site is one on-premises location joined through ECS Anywhere, every
// default applied.
type Site struct {
	// Name identifies the site in stack names.
	Name string
	// Cell is the name of the site's cell; empty without cells.
	Cell string
	// ExpectedNodes is how many machines the site runs: the hybrid-node
	// quota of its cell's account and region counts them.
	ExpectedNodes int
	// ClusterName of the external ECS cluster.
	ClusterName string
	// Tasks bound the site's EXTERNAL worker tasks (the siteagent
	// feature's settings: minTasks, maxTasks).
	Tasks siteagentcontract.SiteSettings
	// Activation is the site's SSM activation (the activation feature's
	// settings: registrationLimit, activationExpiryDays, activationSerial,
	// activationRenewDays, activationRenewSchedule).
	Activation activationcontract.SiteSettings
	// Fleet is what State Manager does on the site's nodes (the
	// fleetmanager feature's settings: patching, patchSchedule,
	// ecsAgentUpdateSchedule).
	Fleet fleetmanagercontract.SiteSettings
	// InstanceName is the default name SSM gives a joined node.
	InstanceName string
	// PermissionsBoundary is the ARN of the managed policy set as the
	// permissions boundary of every role of the site's stack (the instance
	// role among them); empty for none.
	PermissionsBoundary string
	// InstanceRoleArn, when set, is the user's own role for the site's
	// nodes (it must trust ssm.amazonaws.com and have the policies the
	// nodes need); empty makes one.
	InstanceRoleArn string
	// KeepNodesOnDestroy leaves the site's nodes registered when its stack is
	// deleted (then the cluster cannot be deleted while nodes remain).
	KeepNodesOnDestroy bool
	// ContainerInsights turns on CloudWatch Container Insights for the
	// site's cluster (per-cluster, service and task family metrics, billed
	// as custom metrics: several USD a site a month). Off: the site agent's
	// fleet metrics and alarms cover nodes and tasks without it.
	ContainerInsights bool
}

// Load decodes every setting, applies the defaults and validates the
// result; keys are the context keys that are set (unknown ones are
// refused). The error joins every problem found.
func Load(get Getter, keys []string) (Config, error) {
	in, decodeErrs := decode(get, keys)
	c := withDefaults(in)
	return c, joinErrs(decodeErrs, validate(c, in))
}
