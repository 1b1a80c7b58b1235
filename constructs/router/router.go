// Package router is the one entry producers publish work to: an SNS topic
// (KMS-encrypted, TLS only) that fans each message out to the queue of the
// location its "location" message attribute names, with raw delivery so a
// queue's message body is the producer's (the file name). SNS drops a
// message that matches no subscription: here one subscription matches
// exactly the messages no location takes (no attribute, or an unknown
// value) and keeps them in an unrouted queue that alarms.
package router

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

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
	"github.com/ecs-anywhere-stretched/stretched/constructs/router/contract"
	"github.com/ecs-anywhere-stretched/stretched/constructs/workqueue"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// Props configure the entry.
type Props struct {
	// Key is the key of the location queues; it encrypts the unrouted queue
	// too, and SNS delivers with it. The topics have a key of their own (the
	// queues' key policy names the topics: one key for both would be a
	// circular dependency). Required.
	Key awskms.IKey
	// Locations are every location's name (the attribute's values): the
	// region's and each site's. Their queues subscribe with Subscribe, in
	// whichever stack holds them. Required: at least one; names of 1..64
	// letters, digits, '-' or '_', each once.
	Locations []string
	// Topics is how many entry topics share the locations, each location on
	// one (contract.Topic: a hash of its name); each holds at most
	// contract.MaxLocationsPerTopic. Changing it moves locations between
	// topics (their subscriptions are replaced). Default: 1.
	Topics int
	// Fleet is the value of stackscontract.FleetTagKey on the location queues (the
	// app's stack prefix): the producer policy may send to queues with both
	// tags, so its size does not grow with the locations (a managed policy
	// holds at most 6,144 characters: one queue ARN per location, about 100
	// characters each, crossed it at about 50 sites). Required.
	Fleet string
}

// LocationTagKey tags each location queue with its location: producers
// may send to the queues with it (not to dead-letter or unrouted queues).
const LocationTagKey = "stretched:location"

func (p Props) withDefaults() Props {
	p.Topics = cmp.Or(p.Topics, 1)
	return p
}

func (p Props) validate() error {
	var errs []error
	if p.Key == nil {
		errs = append(errs, errors.New("router: Key is nil: pass the KMS key of the location queues"))
	}
	if p.Fleet == "" {
		errs = append(errs, errors.New("router: Fleet is empty: pass the app's stack prefix, the value of the stretched:fleet tag on the location queues"))
	}
	if len(p.Locations) == 0 {
		errs = append(errs, errors.New("router: Locations is empty: pass every location's name, such as [\"region\"]"))
	}
	seen := map[string]bool{}
	for _, name := range p.Locations {
		if !contract.Location.MatchString(name) {
			errs = append(errs, fmt.Errorf("router: location %q: must be 1 to 64 letters, digits, '-' or '_'", name))
		}
		if seen[name] {
			errs = append(errs, fmt.Errorf("router: location %q is listed twice: give each location once", name))
		}
		seen[name] = true
	}
	if p.Topics < 1 {
		errs = append(errs, fmt.Errorf("router: Topics is %d: must be at least 1", p.Topics))
	} else {
		if i, n, over := contract.Overfull(p.Locations, p.Topics); over {
			errs = append(errs, fmt.Errorf("router: entry topic %d would route %d locations: SNS allows %d filter policies per topic and 150 value combinations in the unrouted filter, so a topic routes at most %d; set entryTopics to at least %d",
				i+1, n, quotaFilterPolicies, contract.MaxLocationsPerTopic, contract.SuggestedTopics(len(p.Locations))))
		}
	}
	return errors.Join(errs...)
}

// quotaFilterPolicies is SNS's "filter policies per topic".
const quotaFilterPolicies = 200

// Router is the entry topics, the unrouted queue with its subscriptions and
// the producer policy; location queues join with Subscribe.
type Router struct {
	constructs.Construct
	topics     []awssns.Topic
	unrouted   awssqs.Queue
	producer   awsiam.ManagedPolicy
	key        awskms.IKey
	fleet      string
	locations  []string
	subscribed map[string]bool
}

// New makes the topics, the unrouted queue with one subscription per topic
// (the messages no location of that topic takes), and the producer policy.
func New(scope constructs.Construct, id string, props Props) (*Router, error) {
	props = props.withDefaults()
	if err := props.validate(); err != nil {
		return nil, err
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	r := &Router{Construct: c, key: props.Key, fleet: props.Fleet, locations: slices.Sorted(slices.Values(props.Locations)), subscribed: map[string]bool{}}
	topicKeyKey, err := encryption.New(c, "TopicKey", encryption.Props{Description: "ecs worker: the entry topics' messages", RemovalPolicy: awscdk.RemovalPolicy_RETAIN})
	if err != nil {
		return nil, err
	}
	topicKey := topicKeyKey.Key()
	for i := range props.Topics {
		// The first topic keeps the id of the one entry topic of earlier versions.
		id, display := "Topic", "ECS worker: work for every location"
		if props.Topics > 1 {
			display = fmt.Sprintf("ECS worker: work for the locations of entry topic %d of %d", i+1, props.Topics)
		}
		if i > 0 {
			id = fmt.Sprintf("Topic%d", i+1)
		}
		r.topics = append(r.topics, awssns.NewTopic(c, jsii.String(id), &awssns.TopicProps{
			DisplayName: jsii.String(display),
			MasterKey:   topicKey,
			EnforceSSL:  jsii.Bool(true),
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
	// No attribute, or one no location of the topic takes: CDK's filter
	// types cannot say "$or", so the policy is written as SNS reads it.
	for i, shard := range contract.Shards(r.locations, props.Topics) {
		sub := r.topics[i].AddSubscription(awssnssubscriptions.NewSqsSubscription(r.unrouted, &awssnssubscriptions.SqsSubscriptionProps{
			RawMessageDelivery: jsii.Bool(true),
		}))
		sub.Node().DefaultChild().(awssns.CfnSubscription).AddPropertyOverride(jsii.String("FilterPolicy"), contract.UnroutedFilter(shard))
	}

	r.producer = awsiam.NewManagedPolicy(c, jsii.String("ProducerPolicy"), &awsiam.ManagedPolicyProps{
		Description: jsii.String("send work: publish to the entry topic (with the location attribute) or send straight to a location's queue"),
	})
	stack := awscdk.Stack_Of(c)
	via := func(service string) *map[string]any {
		return &map[string]any{"StringEquals": map[string]any{"kms:ViaService": fmt.Sprintf("%s.%s.amazonaws.com", service, *stack.Region())}}
	}
	r.producer.AddStatements(
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("PublishWork"), Actions: jsii.Strings("sns:Publish"), Resources: r.topicArns(),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("SendToALocation"), Actions: jsii.Strings("sqs:SendMessage"),
			Resources: r.locationQueues(), Conditions: r.locationTags(),
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

// Subscribe subscribes a location's queue to its entry topic (in the
// queue's stack: a site's queue subscribes from the site's stack) with the
// location's filter, raw delivery, and tags the queue with LocationTagKey so
// producers may send to it and workers consume it.
func (r *Router) Subscribe(queue awssqs.IQueue, location string) error {
	if queue == nil {
		return fmt.Errorf("router: location %q has no queue: pass its work queue", location)
	}
	if !slices.Contains(r.locations, location) {
		return fmt.Errorf("router: location %q is not one of the router's Locations %v: add it there", location, r.locations)
	}
	if r.subscribed[location] {
		return fmt.Errorf("router: location %q already has a queue: subscribe each location once", location)
	}
	r.subscribed[location] = true
	r.TopicFor(location).AddSubscription(awssnssubscriptions.NewSqsSubscription(queue, &awssnssubscriptions.SqsSubscriptionProps{
		RawMessageDelivery: jsii.Bool(true),
		FilterPolicy: &map[string]awssns.SubscriptionFilter{
			contract.Attribute: awssns.SubscriptionFilter_StringFilter(&awssns.StringConditions{Allowlist: jsii.Strings(location)}),
		},
	}))
	awscdk.Tags_Of(queue).Add(jsii.String(LocationTagKey), jsii.String(location), nil)
	return nil
}

// GrantConsume lets grantee consume every location queue of the app (the
// queues tagged with the app's stretched:fleet and a stretched:location,
// wherever their stack is) and decrypt their messages: the one worker role
// of every location, whose policy does not grow with the sites.
func (r *Router) GrantConsume(grantee awsiam.IGrantable) awsiam.Grant {
	return workqueue.GrantConsumeOn(grantee, r.locationQueues(), r.locationConditions(), r.key)
}

// locationQueues and locationTags say "every location queue of the app":
// any queue of the stack's account and region, on condition that it has the
// app's stretched:fleet tag and a stretched:location tag (not a dead-letter
// or unrouted queue, not another app's).
func (r *Router) locationQueues() *[]*string {
	return jsii.Strings(*awscdk.Stack_Of(r.Construct).FormatArn(&awscdk.ArnComponents{Service: jsii.String("sqs"), Resource: jsii.String("*"), ArnFormat: awscdk.ArnFormat_NO_RESOURCE_NAME}))
}

func (r *Router) locationTags() *map[string]any {
	out := map[string]any{}
	for op, kv := range *r.locationConditions() {
		out[op] = *kv
	}
	return &out
}

// locationConditions are locationTags as a grant takes them.
func (r *Router) locationConditions() *map[string]*map[string]any {
	return &map[string]*map[string]any{
		"StringEquals": {"aws:ResourceTag/" + stackscontract.FleetTagKey: r.fleet},
		"Null":         {"aws:ResourceTag/" + LocationTagKey: "false"},
	}
}

// Topic is the first entry topic: every location's when there is one.
func (r *Router) Topic() awssns.ITopic { return r.topics[0] }

// Topics are the entry topics.
func (r *Router) Topics() []awssns.ITopic {
	out := make([]awssns.ITopic, len(r.topics))
	for i, t := range r.topics {
		out[i] = t
	}
	return out
}

// TopicFor is the entry topic that routes location.
func (r *Router) TopicFor(location string) awssns.ITopic {
	return r.topics[contract.Topic(location, len(r.topics))]
}

func (r *Router) topicArns() *[]*string {
	var out []*string
	for _, t := range r.topics {
		out = append(out, t.TopicArn())
	}
	return &out
}

// Unrouted keeps the messages no location takes.
func (r *Router) Unrouted() awssqs.IQueue { return r.unrouted }

// ProducerPolicy may publish to the entry topics and send to every location's queue.
func (r *Router) ProducerPolicy() awsiam.IManagedPolicy { return r.producer }

// Locations are the location names, sorted.
func (r *Router) Locations() []string { return slices.Clone(r.locations) }
