// Package workqueue is the SQS work queue of the worker and its dead-letter
// queue: KMS encrypted, TLS only, with redrive after a bounded number of receives.
package workqueue

import (
	"errors"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// ConsumeActions are exactly what a worker needs to consume the queue.
var ConsumeActions = []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"}

// Props configure the work queue.
type Props struct {
	// Key encrypts both queues. Required.
	Key awskms.IKey
	// MaxReceiveCount is how many receives a message gets before it moves to the
	// dead-letter queue. Default: 5. Allowed: 1..1000.
	MaxReceiveCount int
	// VisibilityTimeout is the queue's default visibility timeout; the worker
	// extends it per message while it works. Default: 60 s. Allowed: 1 s..12 h.
	VisibilityTimeout awscdk.Duration
	// RemovalPolicy of both queues. Default: DESTROY (they go with the
	// stack). A site's queues are RETAIN: removing a site from the
	// configuration must not delete the messages still waiting for it.
	RemovalPolicy awscdk.RemovalPolicy
}

// WorkQueue is the queue pair.
type WorkQueue struct {
	constructs.Construct
	queue, dlq awssqs.Queue
	key        awskms.IKey
}

func (p Props) withDefaults() Props {
	if p.MaxReceiveCount == 0 {
		p.MaxReceiveCount = 5
	}
	if p.RemovalPolicy == "" {
		p.RemovalPolicy = awscdk.RemovalPolicy_DESTROY
	}
	if p.VisibilityTimeout == nil {
		p.VisibilityTimeout = awscdk.Duration_Seconds(jsii.Number(60))
	}
	return p
}

func (p Props) validate() error {
	var errs []error
	if p.Key == nil {
		errs = append(errs, errors.New("workqueue: Key is nil: pass the KMS key that encrypts the queues"))
	}
	if p.MaxReceiveCount < 1 || p.MaxReceiveCount > 1000 {
		errs = append(errs, fmt.Errorf("workqueue: MaxReceiveCount is %d: must be from 1 to 1000", p.MaxReceiveCount))
	}
	return errors.Join(errs...)
}

// New makes the work queue and its dead-letter queue.
func New(scope constructs.Construct, id string, props Props) (*WorkQueue, error) {
	props = props.withDefaults()
	if err := props.validate(); err != nil {
		return nil, err
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	dlq := awssqs.NewQueue(c, jsii.String("DeadLetterQueue"), &awssqs.QueueProps{
		Encryption:          awssqs.QueueEncryption_KMS,
		EncryptionMasterKey: props.Key,
		EnforceSSL:          jsii.Bool(true),
		RetentionPeriod:     awscdk.Duration_Days(jsii.Number(14)),
		RemovalPolicy:       props.RemovalPolicy,
	})
	queue := awssqs.NewQueue(c, jsii.String("Queue"), &awssqs.QueueProps{
		Encryption:          awssqs.QueueEncryption_KMS,
		EncryptionMasterKey: props.Key,
		EnforceSSL:          jsii.Bool(true),
		VisibilityTimeout:   props.VisibilityTimeout,
		RetentionPeriod:     awscdk.Duration_Days(jsii.Number(4)),
		RemovalPolicy:       props.RemovalPolicy,
		DeadLetterQueue: &awssqs.DeadLetterQueue{
			Queue:           dlq,
			MaxReceiveCount: jsii.Number(float64(props.MaxReceiveCount)),
		},
	})
	return &WorkQueue{Construct: c, queue: queue, dlq: dlq, key: props.Key}, nil
}

// Queue is the work queue.
func (w *WorkQueue) Queue() awssqs.IQueue { return w.queue }

// Key encrypts both queues.
func (w *WorkQueue) Key() awskms.IKey { return w.key }

// DeadLetterQueue receives what failed MaxReceiveCount times.
func (w *WorkQueue) DeadLetterQueue() awssqs.IQueue { return w.dlq }

// GrantConsume lets grantee receive, delete, change the visibility of and read
// the attributes of the work queue's messages, and decrypt them. Nothing else:
// not sqs:*, not the dead-letter queue.
func (w *WorkQueue) GrantConsume(grantee awsiam.IGrantable) awsiam.Grant {
	return GrantConsumeOn(grantee, jsii.Strings(*w.queue.QueueArn()), nil, w.key)
}

// GrantConsumeOn lets grantee consume the queues named by queueArns (those
// the conditions allow, when given) and decrypt their messages with key,
// only through SQS: ConsumeActions and kms:Decrypt, nothing else.
func GrantConsumeOn(grantee awsiam.IGrantable, queueArns *[]*string, conditions *map[string]*map[string]any, key awskms.IKey) awsiam.Grant {
	queues := awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee: grantee, Actions: jsii.Strings(ConsumeActions...), ResourceArns: queueArns, Conditions: conditions,
	})
	return queues.Combine(awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee: grantee, Actions: jsii.Strings("kms:Decrypt"), ResourceArns: jsii.Strings(*key.KeyArn()),
		Conditions: &map[string]*map[string]any{"StringEquals": {"kms:ViaService": fmt.Sprintf("sqs.%s.amazonaws.com", *awscdk.Stack_Of(key).Region())}},
	}))
}
