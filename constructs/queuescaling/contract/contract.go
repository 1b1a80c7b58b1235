// Package contract is what the queuescaling construct and the configuration
// agree on. It links no CDK.
package contract

// DefaultBurstAgeSeconds is the oldest message's age from which a burst
// region adds a task.
const DefaultBurstAgeSeconds = 300
