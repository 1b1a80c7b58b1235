// Package loggroup is the app's KMS-encrypted CloudWatch log group, and the
// one place a retention in days becomes CDK's retention (config validates
// the days against the same list: Days).
package loggroup

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// retention maps every retention CloudWatch Logs accepts, in days, to CDK's enum.
var retention = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}

// Days lists the retentions CloudWatch Logs accepts, in days, ascending.
func Days() []int { return slices.Sorted(maps.Keys(retention)) }

// DefaultRetentionDays is the retention when none is given: one year.
const DefaultRetentionDays = 365

// Retention is CDK's retention for days, which must be one of Days; 0 is
// DefaultRetentionDays.
func Retention(days int) (awslogs.RetentionDays, error) {
	if days == 0 {
		days = DefaultRetentionDays
	}
	r, ok := retention[days]
	if !ok {
		return "", fmt.Errorf("loggroup: retention %d days: must be one of %v", days, Days())
	}
	return r, nil
}

// Props configure the log group.
type Props struct {
	// Key encrypts the log group. Required.
	Key awskms.IKey
	// RetentionDays is how long events are kept; one of Days. Default:
	// DefaultRetentionDays (365).
	RetentionDays int
	// RemovalPolicy of the log group. Default: RETAIN (logs outlive the stack).
	RemovalPolicy awscdk.RemovalPolicy
}

func (p Props) withDefaults() Props {
	if p.RemovalPolicy == "" {
		p.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	}
	if p.RetentionDays == 0 {
		p.RetentionDays = DefaultRetentionDays
	}
	return p
}

func (p Props) validate() error {
	var errs []error
	if p.Key == nil {
		errs = append(errs, errors.New("loggroup: Key is nil: give the KMS key that encrypts the logs"))
	}
	_, err := Retention(p.RetentionDays)
	return errors.Join(append(errs, err)...)
}

// LogGroup is a KMS-encrypted log group. Its construct is the log group
// itself (id is the log group's: no scope of its own).
type LogGroup struct {
	constructs.Construct
	logs awslogs.LogGroup
}

// LogGroup is the CloudWatch log group.
func (l *LogGroup) LogGroup() awslogs.LogGroup { return l.logs }

// New makes the log group.
func New(scope constructs.Construct, id string, props Props) (*LogGroup, error) {
	props = props.withDefaults()
	if err := props.validate(); err != nil {
		return nil, err
	}
	r, _ := Retention(props.RetentionDays)
	logs := awslogs.NewLogGroup(scope, jsii.String(id), &awslogs.LogGroupProps{
		Retention: r, EncryptionKey: props.Key, RemovalPolicy: props.RemovalPolicy,
	})
	return &LogGroup{Construct: logs, logs: logs}, nil
}
