// Package contract is what the sitenodes construct and its handler agree
// on: Custom::SiteNodes' type and properties and the handler's name. It
// links no CDK. Every name here is API: changing one breaks deployed stacks.
package contract

// Handler is the name the Lambda binary answers the feature by.
const Handler = "sitenodes"

// Custom::SiteNodes: deregisters a site's nodes when its stack is deleted.
const (
	ResourceType = "Custom::SiteNodes"

	PropClusterName = "ClusterName"
	PropTagKey      = "TagKey"
	PropTagValue    = "TagValue"
)
