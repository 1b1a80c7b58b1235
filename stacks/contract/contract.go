// Package contract is what the app's stacks promise the people and tools
// that use them: the stack names, the outputs, the tags the fleet's
// permissions are scoped by. The fleet command reads a deployed app through
// it. It links no CDK. Every name here is API: changing one breaks deployed
// stacks and the scripts that read their outputs.
package contract

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
