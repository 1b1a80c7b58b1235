// Package contract is the worker's contract, in one place: the variables
// the worker spec sets on every worker container (the region's and each
// site's), which the worker reads and which no worker secret may take; the
// secrets a user adds (secrets.go); and what a message may name
// (filename.go). It links no CDK: the worker, the worker spec, the
// configuration and fleet send use it alike.
package contract

// The variables the worker spec sets.
const (
	// QueueURL is the location's work queue.
	QueueURL = "SQS_QUEUE_URL"
	// SourceFolder and DestinationFolder are the folders under /data the
	// worker moves files between.
	SourceFolder      = "EFS_SOURCE_FOLDER"
	DestinationFolder = "EFS_DESTINATION_FOLDER"
	// Region is the region of the queue (the stack's).
	Region = "AWS_REGION"
	// StopTimeout is the task's stopTimeout in seconds: the worker keeps
	// its shutdown grace within it.
	StopTimeout = "WORKER_STOP_TIMEOUT_SECONDS"
)

// Set are the variables the worker spec sets on every worker container; a
// worker secret of one of these names would clash with it.
var Set = []string{QueueURL, SourceFolder, DestinationFolder, Region, StopTimeout}
