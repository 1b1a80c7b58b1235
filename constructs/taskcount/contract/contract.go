// Package contract is what the taskcount construct and its handler agree
// on: Custom::ServiceTaskCount's type, properties and attribute and the
// handler's name. It links no CDK. Every name here is API: changing one
// breaks deployed stacks.
package contract

// Handler is the name the Lambda binary answers the feature by.
const Handler = "taskcount"

// Custom::ServiceTaskCount: the desired count a site's service is deployed
// with (the type keeps the first version's name: a new one would replace the
// resource). CloudFormation creates a service without DesiredCount at one
// task and waits for it to run, which a site without nodes never does; and
// it resets the count on every update when the template has one. The
// resource answers "the count the service has now, or 0 before there is one".
const (
	ResourceType = "Custom::ServiceTaskCount"

	// PropClusterName is the site's cluster.
	PropClusterName = "ClusterName"
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
