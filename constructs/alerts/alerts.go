// Package alerts is the app's one notification topic: KMS-encrypted, with an
// optional e-mail subscription, that every alarm of the app notifies (on
// alarm and when it is OK again).
package alerts

import (
	"fmt"
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/constructs/alerts/contract"
	"github.com/ecs-anywhere-stretched/stretched/constructs/encryption"
)

// Props configure the topic.
type Props struct {
	// Email, when set, is subscribed to the topic (the address must confirm
	// the subscription). Default: none; subscribe anything to Topic().
	Email string
}

var emailRe = regexp.MustCompile(contract.EmailPattern)

// Alerts is the topic.
type Alerts struct {
	constructs.Construct
	topic    awssns.Topic
	notified []Alarm
}

func (p Props) validate() error {
	if p.Email != "" && !emailRe.MatchString(p.Email) {
		return fmt.Errorf("alerts: Email is %q: must be an e-mail address such as ops@example.com", p.Email)
	}
	return nil
}

// New makes the key, the topic and the subscription.
func New(scope constructs.Construct, id string, props Props) (*Alerts, error) {
	if err := props.validate(); err != nil {
		return nil, err
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	keyKey, err := encryption.New(c, "Key", encryption.Props{Description: "the app's alarm notifications", RemovalPolicy: awscdk.RemovalPolicy_DESTROY})
	if err != nil {
		return nil, err
	}
	key := keyKey.Key()
	// CloudWatch alarms publish to the encrypted topic.
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowCloudWatchAlarms"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Stack_Of(c).Account()}},
	}), nil)
	topic := awssns.NewTopic(c, jsii.String("Topic"), &awssns.TopicProps{
		DisplayName: jsii.String("ECS worker alarms"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	// A topic policy replaces SNS's default access policy: without this
	// statement the TLS-only Deny would be all there is, and every alarm's
	// notification would be refused.
	stack := awscdk.Stack_Of(c)
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowCloudWatchAlarms"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  jsii.Strings(*topic.TopicArn()),
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()},
			"ArnLike": map[string]any{"aws:SourceArn": *stack.FormatArn(&awscdk.ArnComponents{
				Service: jsii.String("cloudwatch"), Resource: jsii.String("alarm"), ResourceName: jsii.String("*"),
				ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
			})},
		},
	}))
	if props.Email != "" {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(props.Email), nil))
	}
	return &Alerts{Construct: c, topic: topic}, nil
}

// Topic receives every alarm of the app.
func (a *Alerts) Topic() awssns.ITopic { return a.topic }

// Alarm is a metric alarm or a composite alarm.
type Alarm interface {
	AddAlarmAction(actions ...awscloudwatch.IAlarmAction)
	AddOkAction(actions ...awscloudwatch.IAlarmAction)
}

// Notify makes alarm notify the topic when it goes off and when it is OK again.
func (a *Alerts) Notify(alarm Alarm) {
	action := awscloudwatchactions.NewSnsAction(a.topic)
	alarm.AddAlarmAction(action)
	alarm.AddOkAction(action)
	a.notified = append(a.notified, alarm)
}

// Notified are the alarms Notify was given so far, in order.
func (a *Alerts) Notified() []Alarm { return append([]Alarm(nil), a.notified...) }
