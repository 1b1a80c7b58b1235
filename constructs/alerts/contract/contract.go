// Package contract is what the alerts construct and the configuration agree
// on. It links no CDK.
package contract

// EmailPattern is what an alarm e-mail address must match.
const EmailPattern = `^[^@\s]+@[^@\s]+\.[^@\s]+$`
