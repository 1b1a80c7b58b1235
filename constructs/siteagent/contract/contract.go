// Package contract is what the siteagent construct, its handler and the
// fleet command agree on: the handler's name, the site directory the sites
// write and the agent reads, the agent's metrics and its log line. It links
// no CDK. Every name here is API: dashboards, alarms and deployed site
// stacks use them.
package contract

// Handler is the name the Lambda binary answers the feature by.
const Handler = "siteagent"

// BacklogPerTask is the backlog one task is given: from this many visible
// messages the region adds a task, and a site's agent wants one task per
// this many.
const BacklogPerTask = 100

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
	// MetricSitesDeadLetters: sites whose dead-letter queue holds a message.
	MetricSitesDeadLetters = "SitesWithDeadLetters"
)

// FleetMetrics are the fleet's custom metrics: a fixed number, priced by
// CloudWatch per metric.
var FleetMetrics = []string{MetricSites, MetricSitesFailed, MetricSitesOffline, MetricSitesNodeDisconnected, MetricSitesTasksBelowDesired, MetricSitesDeadLetters}

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
