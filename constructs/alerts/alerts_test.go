package alerts

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/testkit/cdktest"
	"github.com/ecs-anywhere-stretched/stretched/testkit/errcheck"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

// The topic is encrypted with a key CloudWatch alarms of this account may
// use, its policy lets those alarms publish (SNS's default policy is gone
// once a topic has one), the e-mail is subscribed, and an alarm told to
// notify does so on ALARM and on OK.
func TestAlarmsReachTheEncryptedTopic(t *testing.T) {
	stack := cdktest.Stack()
	a, err := New(stack, "Alerts", Props{Email: "ops@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	alarm := awscloudwatch.NewAlarm(stack, jsii.String("Alarm"), &awscloudwatch.AlarmProps{
		Metric:    awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String("N"), MetricName: jsii.String("M")}),
		Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(1),
	})
	a.Notify(alarm)
	tmpl := cdktest.Template(t, stack)
	cdktest.Assert(t, func() {
		tmpl.HasResourceProperties(jsii.String("AWS::SNS::Topic"), map[string]any{"KmsMasterKeyId": assertions.Match_AnyValue()})
		tmpl.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), map[string]any{"Protocol": "email", "Endpoint": "ops@example.com"})
		tmpl.HasResourceProperties(jsii.String("AWS::SNS::TopicPolicy"), map[string]any{"PolicyDocument": assertions.Match_ObjectLike(&map[string]any{
			"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Sid": "AllowCloudWatchAlarms", "Action": "sns:Publish", "Principal": map[string]any{"Service": "cloudwatch.amazonaws.com"},
			})}),
		})})
		tmpl.HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{"KeyPolicy": assertions.Match_ObjectLike(&map[string]any{
			"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Sid": "AllowCloudWatchAlarms", "Principal": map[string]any{"Service": "cloudwatch.amazonaws.com"},
			})}),
		})})
		tmpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
			"AlarmActions": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^AlertsTopic"))})}),
			"OKActions":    assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^AlertsTopic"))})}),
		})
	})
}

func TestBadEmail(t *testing.T) {
	_, err := New(cdktest.Stack(), "Alerts", Props{Email: "ops at example"})
	errcheck.Contains(t, err, `alerts: Email is "ops at example"`, "ops@example.com")
}
