// Package router is the one entry producers publish work to: an SNS topic
// (KMS-encrypted, TLS only) that fans each message out to the queue of the
// location its "location" message attribute names, with raw delivery so a
// queue's message body is the producer's (the file name). SNS drops a
// message that matches no subscription: here one subscription matches
// exactly the messages no location takes (no attribute, or an unknown
// value) and keeps them in an unrouted queue that alarms.
package router

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ecs-anywhere-stretched/stretched/constructs/encryption"
	"github.com/ecs-anywhere-stretched/stretched/internal/names"
	"github.com/ecs-anywhere-stretched/stretched/internal/route"
)

// Props configure the entry.
type Props struct {
	// Key is the key of the location queues; it encrypts the unrouted queue
	// too, and SNS delivers with it. The topic has a key of its own (the
	// queues' key policy names the topic: one key for both would be a
	// circular dependency). Required.
	Key awskms.IKey
	// Queues are the location queues by location name (the attribute's
	// values); each is tagged LocationTagKey = its location. Required: at
	// least one; names of 1..64 letters, digits, '-' or '_'.
	Queues map[string]awssqs.IQueue
	// Fleet is the value of names.FleetTagKey on the location queues (the
	// app's stack prefix): the producer policy may send to queues with both
	// tags, so its size does not grow with the locations (a managed policy
	// holds at most 6,144 characters: one queue ARN per location, about 100
	// characters each, crossed it at about 50 sites). Required.
	Fleet string
}

// LocationTagKey tags each location queue with its location: producers
// may send to the queues with it (not to dead-letter or unrouted queues).
const LocationTagKey = "stretched:location"

var locationRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (p Props) validate() error {
	var errs []error
	if p.Key == nil {
		errs = append(errs, errors.New("router: Key is nil: pass the KMS key of the location queues"))
	}
	if p.Fleet == "" {
		errs = append(errs, errors.New("router: Fleet is empty: pass the app's stack prefix, the value of the stretched:fleet tag on the location queues"))
	}
	if len(p.Queues) == 0 {
		errs = append(errs, errors.New("router: Queues is empty: pass the queue of every location, such as {\"region\": queue}"))
	}
	for name, q := range p.Queues {
		if !locationRe.MatchString(name) {
			errs = append(errs, fmt.Errorf("router: location %q: must be 1 to 64 letters, digits, '-' or '_'", name))
		}
		if q == nil {
			errs = append(errs, fmt.Errorf("router: location %q has no queue", name))
		}
	}
	return errors.Join(errs...)
}

// Router is the entry topic, its subscriptions, the unrouted queue and the
// producer policy.
type Router struct {
	constructs.Construct
	topic     awssns.Topic
	unrouted  awssqs.Queue
	producer  awsiam.ManagedPolicy
	locations []string
}

// New makes the topic, one filtered subscription per location, the
// unrouted queue with its subscription, and the producer policy.
func New(scope constructs.Construct, id string, props Props) (*Router, error) {
	if err := props.validate(); err != nil {
		return nil, err
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	r := &Router{Construct: c}
	for name := range props.Queues {
		r.locations = append(r.locations, name)
	}
	sort.Strings(r.locations)
	topicKey := encryption.NewKey(c, "TopicKey", "ecs worker: the entry topic's messages", awscdk.RemovalPolicy_RETAIN)
	r.topic = awssns.NewTopic(c, jsii.String("Topic"), &awssns.TopicProps{
		DisplayName: jsii.String("ECS worker: work for every location"),
		MasterKey:   topicKey,
		EnforceSSL:  jsii.Bool(true),
	})
	for _, name := range r.locations {
		r.topic.AddSubscription(awssnssubscriptions.NewSqsSubscription(props.Queues[name], &awssnssubscriptions.SqsSubscriptionProps{
			RawMessageDelivery: jsii.Bool(true),
			FilterPolicy: &map[string]awssns.SubscriptionFilter{
				route.Attribute: awssns.SubscriptionFilter_StringFilter(&awssns.StringConditions{Allowlist: jsii.Strings(name)}),
			},
		}))
	}
	r.unrouted = awssqs.NewQueue(c, jsii.String("Unrouted"), &awssqs.QueueProps{
		Encryption:          awssqs.QueueEncryption_KMS,
		EncryptionMasterKey: props.Key,
		EnforceSSL:          jsii.Bool(true),
		RetentionPeriod:     awscdk.Duration_Days(jsii.Number(14)),
		RemovalPolicy:       awscdk.RemovalPolicy_RETAIN,
	})
	cdknag.NagSuppressions_AddResourceSuppressions(r.unrouted, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SQS3"),
		Reason: jsii.String("the unrouted queue is the end of the line, like a dead-letter queue: its messages wait for a person (it alarms); a DLQ of its own would only move them"),
	}}, jsii.Bool(false))
	sub := r.topic.AddSubscription(awssnssubscriptions.NewSqsSubscription(r.unrouted, &awssnssubscriptions.SqsSubscriptionProps{
		RawMessageDelivery: jsii.Bool(true),
	}))
	// No attribute, or one no location takes: CDK's filter types cannot say
	// "$or", so the policy is written as SNS reads it.
	sub.Node().DefaultChild().(awssns.CfnSubscription).AddPropertyOverride(jsii.String("FilterPolicy"), route.UnroutedFilter(r.locations))

	r.producer = awsiam.NewManagedPolicy(c, jsii.String("ProducerPolicy"), &awsiam.ManagedPolicyProps{
		Description: jsii.String("send work: publish to the entry topic (with the location attribute) or send straight to a location's queue"),
	})
	stack := awscdk.Stack_Of(c)
	via := func(service string) *map[string]any {
		return &map[string]any{"StringEquals": map[string]any{"kms:ViaService": fmt.Sprintf("%s.%s.amazonaws.com", service, *stack.Region())}}
	}
	for _, name := range r.locations {
		awscdk.Tags_Of(props.Queues[name]).Add(jsii.String(LocationTagKey), jsii.String(name), nil)
	}
	r.producer.AddStatements(
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("PublishWork"), Actions: jsii.Strings("sns:Publish"), Resources: jsii.Strings(*r.topic.TopicArn()),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("SendToALocation"), Actions: jsii.Strings("sqs:SendMessage"),
			Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("sqs"), Resource: jsii.String("*"), ArnFormat: awscdk.ArnFormat_NO_RESOURCE_NAME})),
			Conditions: &map[string]any{
				"StringEquals": map[string]any{"aws:ResourceTag/" + names.FleetTagKey: props.Fleet},
				"Null":         map[string]any{"aws:ResourceTag/" + LocationTagKey: "false"},
			},
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("EncryptThroughSNS"), Actions: jsii.Strings("kms:GenerateDataKey", "kms:Decrypt"),
			Resources: jsii.Strings(*topicKey.KeyArn()), Conditions: via("sns"),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("EncryptThroughSQS"), Actions: jsii.Strings("kms:GenerateDataKey", "kms:Decrypt"),
			Resources: jsii.Strings(*props.Key.KeyArn()), Conditions: via("sqs"),
		}),
	)
	cdknag.NagSuppressions_AddResourceSuppressions(r.producer, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		AppliesTo: &[]any{&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:.+:sqs:.+:\*$/`)}},
		Reason:    jsii.String("producers may send to every location queue of this app, and only to those: the queues tagged stretched:fleet with the app's prefix and a stretched:location (not the dead-letter or unrouted queues); one ARN per location would outgrow a managed policy's 6,144 characters"),
	}}, jsii.Bool(false))
	return r, nil
}

// Topic is the entry producers publish to.
func (r *Router) Topic() awssns.ITopic { return r.topic }

// Unrouted keeps the messages no location takes.
func (r *Router) Unrouted() awssqs.IQueue { return r.unrouted }

// ProducerPolicy may publish to the entry and send to every location's queue.
func (r *Router) ProducerPolicy() awsiam.IManagedPolicy { return r.producer }

// Locations are the location names, sorted.
func (r *Router) Locations() []string { return slices.Clone(r.locations) }
