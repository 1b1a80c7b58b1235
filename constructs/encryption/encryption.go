// Package encryption makes the customer-managed KMS keys of the app.
package encryption

import (
	"errors"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// logsActions are what CloudWatch Logs needs to encrypt and read a log group
// with a customer-managed key, spelled out instead of kms:*.
var logsActions = []string{
	"kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
	"kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
}

// Props configure a key.
type Props struct {
	// Description says what the key protects. Required.
	Description string
	// RemovalPolicy says what happens to the key with its stack: RETAIN
	// keeps what it protects readable; DESTROY schedules its deletion after
	// seven days. Default: RETAIN.
	RemovalPolicy awscdk.RemovalPolicy
}

func (p Props) withDefaults() Props {
	if p.RemovalPolicy == "" {
		p.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	}
	return p
}

func (p Props) validate() error {
	if p.Description == "" {
		return errors.New("encryption: Description is empty: say what the key protects")
	}
	return nil
}

// Key is a KMS key with yearly rotation that CloudWatch Logs of this
// account and region may use for the log groups of this account and region,
// and that no one may create grants on except for AWS services. Its
// construct is the key itself (id is the key's: no scope of its own).
type Key struct {
	constructs.Construct
	key awskms.Key
}

// Key is the KMS key.
func (k *Key) Key() awskms.Key { return k.key }

// New makes the key.
func New(scope constructs.Construct, id string, props Props) (*Key, error) {
	props = props.withDefaults()
	if err := props.validate(); err != nil {
		return nil, err
	}
	description, removal := props.Description, props.RemovalPolicy
	key := awskms.NewKey(scope, jsii.String(id), &awskms.KeyProps{
		Description:       jsii.String(description),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     removal,
		PendingWindow:     awscdk.Duration_Days(jsii.Number(7)),
	})
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("DenyGrantsExceptForAwsServices"),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("kms:CreateGrant"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"BoolIfExists": map[string]any{
			"kms:GrantIsForAWSResource": "false",
			"aws:PrincipalIsAWSService": "false",
		}},
	}), nil)
	stack := awscdk.Stack_Of(scope)
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowCloudWatchLogs"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String(fmt.Sprintf("logs.%s.amazonaws.com", *stack.Region())), nil)},
		Actions:    jsii.Strings(logsActions...),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{
			"ArnLike": map[string]any{
				"kms:EncryptionContext:aws:logs:arn": stack.FormatArn(&awscdk.ArnComponents{
					Service:      jsii.String("logs"),
					Resource:     jsii.String("log-group"),
					ResourceName: jsii.String("*"),
					ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
				}),
			},
		},
	}), nil)
	return &Key{Construct: key, key: key}, nil
}
