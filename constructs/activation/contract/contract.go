// Package contract is what the activation feature's construct, its handler
// and the fleet command agree on: Custom::SsmActivation's type, properties
// and attribute, the handler's name, the renewal event, the activation
// record kept in the site's secret, and SSM's limits on an activation. It
// links no CDK. Every name here is API: changing one breaks deployed stacks.
package contract

// Handler is the name the Lambda binary answers the activation feature by
// (a function's Handler setting, passed to the binary as _HANDLER).
const Handler = "activation"

// Custom::SsmActivation: the site's current activation. The type keeps the
// first version's name (a new type would replace the resource).
const (
	ResourceType = "Custom::SsmActivation"

	PropIamRole             = "IamRole"
	PropRegistrationLimit   = "RegistrationLimit"
	PropExpiryDays          = "ExpiryDays"
	PropDefaultInstanceName = "DefaultInstanceName"
	PropDescription         = "Description"
	PropTags                = "Tags"
	PropSecretArn           = "SecretArn"
	// PropSecretKey is the ARN of the key that encrypts the secret: a new
	// key changes the properties, so the record is written anew under it.
	PropSecretKey = "SecretKey"
	PropSerial    = "Serial"

	// AttrSecretArn is the one attribute the resource returns.
	AttrSecretArn = "SecretArn"
)

// Fields of the activation secret's JSON value, read by the join command.
const (
	SecretActivationID   = "activationId"
	SecretActivationCode = "activationCode"
	SecretExpirationDate = "expirationDate"
)

// The input of a site's renewal schedule: the activation's settings (the
// custom resource's properties) and the renew days.
const (
	RenewalSettings  = "settings"
	RenewalRenewDays = "renewDays"
)

// What SSM allows for an activation, and the defaults this project uses.
const (
	// MinRegistrationLimit and MaxRegistrationLimit bound the nodes that may
	// join with one activation (SSM's range).
	MinRegistrationLimit = 1
	MaxRegistrationLimit = 1000
	// DefaultRegistrationLimit is the tutorial's limit.
	DefaultRegistrationLimit = 10

	// MinExpiryDays and MaxExpiryDays bound how long an activation accepts new
	// nodes (SSM refuses more than 30 days).
	MinExpiryDays = 1
	MaxExpiryDays = 30
	// DefaultExpiryDays is how long a new activation accepts nodes.
	DefaultExpiryDays = 7

	// DefaultRenewDays: the renewer replaces an activation that expires within
	// this many days. 0 turns renewal off; it must be less than the expiry days.
	DefaultRenewDays = 2
	// DefaultRenewSchedule is when the renewer runs (an EventBridge expression).
	DefaultRenewSchedule = "rate(1 day)"
	// RenewSchedulePattern is what a renewal schedule must match: an
	// EventBridge rate(...) or cron(...) expression.
	RenewSchedulePattern = `^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\([^()]+\))$`

	// MinSerial, MaxSerial and DefaultSerial bound the activation serial, the
	// number a user changes to force a new activation.
	MinSerial     = 1
	MaxSerial     = 1000000
	DefaultSerial = 1

	// MaxDescription is SSM's limit on an activation's description.
	MaxDescription = 256
	// MaxInstanceName is SSM's limit on the default instance name, and
	// InstanceNamePattern what the name may hold, the limit included.
	MaxInstanceName     = 256
	InstanceNamePattern = `^[A-Za-z0-9_.-]{1,256}$`
	// MaxTagValue is SSM's limit on a tag's value.
	MaxTagValue = 256
)
