// Package names holds the names the app, its Lambdas and command-line tools
// share: stack names, output keys, custom-resource types and property keys,
// the tag that marks a site's activations and nodes, and the fields of the
// activation secret. It has no dependencies, so importing it never pulls in
// the CDK. Every name here is API: changing one breaks deployed stacks.
package names

import "strings"

// RegionalStack is the stack name of the regional stack.
func RegionalStack(prefix string) string { return prefix + "-Regional" }

// AnywhereStack is the stack name of one site's anywhere stack.
func AnywhereStack(prefix, site string) string { return prefix + "-Anywhere-" + site }

// Output keys of an anywhere stack.
const (
	OutputClusterName      = "ClusterName"
	OutputServiceName      = "ServiceName"
	OutputActivationSecret = "ActivationSecretArn"
	OutputJoinPolicy       = "JoinPolicyArn"
	// OutputNodeOperatorPolicy is the policy fleet node userdata needs.
	OutputNodeOperatorPolicy = "NodeOperatorPolicyArn"
	OutputJoinCommand        = "JoinCommand"
)

// DefaultStackPrefix starts every stack's name unless stackPrefix says
// otherwise (the app and `fleet status` both default to it).
const DefaultStackPrefix = "EcsWorker"

// StackTagKey tags every activation of a site with its stack's name. SSM
// gives an activation's tags to the managed instances that join with it, so
// the tag finds (and IAM limits deregistration to) exactly the site's nodes.
const StackTagKey = "stretched:stack"

// Custom::SsmActivation: the site's current activation.
const (
	ActivationResourceType = "Custom::SsmActivation"

	PropIamRole             = "IamRole"
	PropRegistrationLimit   = "RegistrationLimit"
	PropExpiryDays          = "ExpiryDays"
	PropDefaultInstanceName = "DefaultInstanceName"
	PropDescription         = "Description"
	PropTags                = "Tags"
	PropSecretArn           = "SecretArn"
	// PropSecretKey is the ARN of the key that encrypts the secret: a new
	// key changes the properties, so the record is written anew under it.
	PropSecretKey    = "SecretKey"
	PropSerial       = "Serial"
	PropServiceToken = "ServiceToken"

	// AttrSecretArn is the one attribute the resource returns.
	AttrSecretArn = "SecretArn"
)

// Custom::SiteNodes: deregisters a site's nodes when its stack is deleted.
const (
	NodesResourceType = "Custom::SiteNodes"

	PropClusterName = "ClusterName"
	PropTagKey      = "TagKey"
	PropTagValue    = "TagValue"
)

// Custom::ServiceTaskCount: the desired count a site's service is deployed
// with. CloudFormation creates a service without DesiredCount at one task and
// waits for it to run, which a site without nodes never does; and it resets
// the count on every update when the template has one. The resource answers
// "the count the service has now, or 0 before there is one".
const (
	TaskCountResourceType = "Custom::ServiceTaskCount"

	// PropFamily is the family of the service's task definition: it finds
	// the service in the cluster (its name is CloudFormation's).
	PropFamily = "Family"
	// PropTaskDefinition is the task definition the service is being
	// deployed with: a new one (any image or setting change) re-reads the
	// count right before the service is updated.
	PropTaskDefinition = "TaskDefinition"
	// PropServiceSettings are the service's other settings, so that a
	// change to any of them re-reads the count too.
	PropServiceSettings = "ServiceSettings"

	// AttrDesiredCount is the count, as a string.
	AttrDesiredCount = "DesiredCount"
)

// The project's Go Lambdas are one binary (package lambda); a function's
// Handler setting, which the provided.al2023 runtime passes to the binary
// as _HANDLER, says which of them it runs.
const (
	HandlerActivation = "activation"
	HandlerSiteAgent  = "siteagent"
	HandlerSiteNodes  = "sitenodes"
	HandlerTaskCount  = "taskcount"
)

// Handlers lists every handler name the Lambda binary answers.
var Handlers = []string{HandlerActivation, HandlerSiteAgent, HandlerSiteNodes, HandlerTaskCount}

// Fields of the activation secret's JSON value, read by the join command.
const (
	SecretActivationID   = "activationId"
	SecretActivationCode = "activationCode"
	SecretExpirationDate = "expirationDate"
)

// Metrics the fleet's site agent publishes after each scheduled run
// (CloudWatch embedded metric format), dimension DimensionFleet = the app's
// stack prefix: counts of sites, so their number (and price) does not grow
// with the fleet.
const (
	// MetricNamespace holds the app's own metrics.
	MetricNamespace = "EcsAnywhereStretched"
	DimensionFleet  = "Fleet"
	// MetricSites is how many sites the run served; MetricSitesFailed how
	// many of them it could not read or scale.
	MetricSites       = "Sites"
	MetricSitesFailed = "SitesFailed"
	// MetricSitesOffline: sites with no connected node.
	MetricSitesOffline = "SitesOffline"
	// MetricSitesNodeDisconnected: online sites with a node disconnected.
	MetricSitesNodeDisconnected = "SitesNodeDisconnected"
	// MetricSitesTasksBelowDesired: online sites running fewer tasks than desired.
	MetricSitesTasksBelowDesired = "SitesTasksBelowDesired"
)

// FleetMetrics are the fleet's custom metrics: a fixed number, priced by
// CloudWatch per metric.
var FleetMetrics = []string{MetricSites, MetricSitesFailed, MetricSitesOffline, MetricSitesNodeDisconnected, MetricSitesTasksBelowDesired}

// The site agent's log line per site and run, and its fields.
const (
	LogSiteState         = "site state"
	LogConnectedNodes    = "connectedNodes"
	LogDisconnectedNodes = "disconnectedNodes"
	LogDesiredTasks      = "desiredTasks"
	LogRunningTasks      = "runningTasks"
)

// The site directory: one Parameter Store String parameter per site,
// <SiteDirectory(prefix)>/<site>, written by the site's stack and read by
// the fleet-wide site agent; its value is a JSON object with these keys.
const (
	DirSite          = "site"
	DirCluster       = "cluster"
	DirService       = "service"
	DirQueueURL      = "queueUrl"
	DirDeadLetterURL = "deadLetterQueueUrl"
	// DirEntryTopic is the entry topic that routes the site's work
	// (routed work only): producers publish there with location=<site>.
	DirEntryTopic     = "entryTopicArn"
	DirMinTasks       = "minTasks"
	DirMaxTasks       = "maxTasks"
	DirBacklogPerTask = "backlogPerTask"
	// DirInstanceRole is the name of the role the site's nodes register
	// with, and DirStack the site's stack (the tag value its activations
	// carry): fleet node userdata makes a batch's activation from them.
	DirInstanceRole = "instanceRole"
	DirStack        = "stack"
	// EnvDirectory is the fleet agent's setting: the directory's path.
	EnvDirectory = "SITE_DIRECTORY"
)

// SiteDirectory is the path of the app's site directory: /<prefix>/sites.
func SiteDirectory(prefix string) string { return "/" + prefix + "/sites" }

// The input of a site's renewal schedule: the activation's settings (the
// custom resource's properties) and the renew days.
const (
	RenewalSettings  = "settings"
	RenewalRenewDays = "renewDays"
)

// FleetTagKey tags what the fleet-wide functions may act on (the sites'
// clusters, services and queues) with the app's stack prefix: their
// permissions are scoped to it.
const FleetTagKey = "stretched:fleet"

// Output keys of the regional stack.
const (
	OutputQueueURL           = "QueueUrl"
	OutputDeadLetterQueueURL = "DeadLetterQueueUrl"
	// OutputEntryTopic is the first entry topic (every location's with
	// one topic); OutputEntryTopics lists them all.
	OutputEntryTopic       = "EntryTopicArn"
	OutputEntryTopics      = "EntryTopicArns"
	OutputUnroutedQueueURL = "UnroutedQueueUrl"
	OutputProducerPolicy   = "ProducerPolicyArn"
	// OutputSiteDirectory is the site directory's path: the sites, each
	// with its queue and entry topic (no output per site).
	OutputSiteDirectory = "SiteDirectory"
	OutputWork          = "Work"
	OutputRepositoryURI = "RepositoryUri"
	OutputLogGroupName  = "LogGroupName"
	OutputAlarmTopic    = "AlarmTopicArn"
	OutputDashboard     = "DashboardName"
)

// Pascal turns a site name (lowercase letters, digits, '-') into the part
// of an output key: "factory-2" gives "Factory2".
func Pascal(name string) string {
	var b strings.Builder
	upper := true
	for _, r := range name {
		switch {
		case r == '-':
			upper = true
		case upper:
			b.WriteString(strings.ToUpper(string(r)))
			upper = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Locations and how work reaches them (config's "work").
const (
	// RegionLocation is the location name of the region's worker (message
	// attribute location=region); no site may take it.
	RegionLocation = "region"
	// WorkRouted: a queue per location, routed by the entry topic.
	WorkRouted = "routed"
	// WorkShared: one queue for every location.
	WorkShared = "shared"
)
