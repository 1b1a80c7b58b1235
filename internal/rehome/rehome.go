// Package rehome moves a site's queued messages from the queues an earlier
// version kept in the regional stack to the site's own queues (in its
// stack since the fleet-scale release): the upgrade removes the old queues
// from the regional stack but retains them with their messages, and this
// moves those messages, nothing lost: each is sent to the new queue before
// it is deleted from the old one. It imports no CDK.
package rehome

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/ecs-anywhere-stretched/stretched/internal/names"
)

// SQS is the calls rehome makes; *sqs.Client satisfies it.
type SQS interface {
	ListQueues(context.Context, *sqs.ListQueuesInput, ...func(*sqs.Options)) (*sqs.ListQueuesOutput, error)
	ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	DeleteMessageBatch(context.Context, *sqs.DeleteMessageBatchInput, ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	DeleteQueue(context.Context, *sqs.DeleteQueueInput, ...func(*sqs.Options)) (*sqs.DeleteQueueOutput, error)
}

// OldQueues are the name prefixes CloudFormation gave a site's queue and
// dead-letter queue in the regional stack of earlier versions
// (<stack>-<logical id>-<random>; the logical id is the construct path
// WorkQueue-<site>/Queue without its '-').
func OldQueues(prefix, site string) (queue, deadLetter string) {
	base := names.RegionalStack(prefix) + "-WorkQueue" + strings.ReplaceAll(site, "-", "")
	return base + "Queue", base + "DeadLetterQueue"
}

// Find is the URL of the one queue whose name starts with namePrefix, ""
// when there is none.
func Find(ctx context.Context, c SQS, namePrefix string) (string, error) {
	out, err := c.ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String(namePrefix)})
	if err != nil {
		return "", fmt.Errorf("list queues named %s…: %w", namePrefix, err)
	}
	switch len(out.QueueUrls) {
	case 0:
		return "", nil
	case 1:
		return out.QueueUrls[0], nil
	default:
		return "", fmt.Errorf("%d queues are named %s…: %s; move their messages by hand", len(out.QueueUrls), namePrefix, strings.Join(out.QueueUrls, ", "))
	}
}

// Move moves every message of from to to, ten at a time: sent to to, then
// deleted from from (a message whose send failed stays in from). It stops
// when from has returned nothing for emptyReceives receives in a row and
// returns how many it moved. A received message is hidden in from for 2
// minutes while it is moved.
func Move(ctx context.Context, c SQS, from, to string, emptyReceives int) (int, error) {
	moved, empty := 0, 0
	for empty < emptyReceives {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(from), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 120,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			return moved, fmt.Errorf("receive from %s: %w (%d moved)", from, err, moved)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		empty = 0
		entries := make([]sqstypes.SendMessageBatchRequestEntry, len(out.Messages))
		for i, m := range out.Messages {
			entries[i] = sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: m.Body, MessageAttributes: m.MessageAttributes}
		}
		sent, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(to), Entries: entries})
		if err != nil {
			return moved, fmt.Errorf("send to %s: %w (%d moved; the batch stays in %s)", to, err, moved, from)
		}
		var failed []error
		for _, f := range sent.Failed {
			failed = append(failed, fmt.Errorf("message %s: %s", aws.ToString(f.Id), aws.ToString(f.Message)))
		}
		var del []sqstypes.DeleteMessageBatchRequestEntry
		for _, s := range sent.Successful {
			i, _ := strconv.Atoi(aws.ToString(s.Id))
			del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: s.Id, ReceiptHandle: out.Messages[i].ReceiptHandle})
		}
		if len(del) > 0 {
			d, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(from), Entries: del})
			if err != nil {
				return moved, fmt.Errorf("delete the moved messages from %s: %w (they are in both queues now and will be delivered twice)", from, err)
			}
			if len(d.Failed) > 0 {
				return moved, fmt.Errorf("delete %d moved message(s) from %s failed: they are in both queues now and will be delivered twice", len(d.Failed), from)
			}
		}
		moved += len(del)
		if len(failed) > 0 {
			return moved, fmt.Errorf("send to %s refused %d message(s), left in %s: %w", to, len(failed), from, errors.Join(failed...))
		}
	}
	return moved, nil
}
