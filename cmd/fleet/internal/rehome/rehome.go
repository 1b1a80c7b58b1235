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
)

// SQS is the calls rehome makes; *sqs.Client satisfies it.
type SQS interface {
	sqs.ListQueuesAPIClient
	ListQueueTags(context.Context, *sqs.ListQueueTagsInput, ...func(*sqs.Options)) (*sqs.ListQueueTagsOutput, error)
	ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	DeleteMessageBatch(context.Context, *sqs.DeleteMessageBatchInput, ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	DeleteQueue(context.Context, *sqs.DeleteQueueInput, ...func(*sqs.Options)) (*sqs.DeleteQueueOutput, error)
}

// OldQueues are the logical id prefixes of a site's queue and dead-letter
// queue in the regional stack of earlier versions (the construct path
// WorkQueue-<site>/Queue without its '-', then a hash).
func OldQueues(site string) (queue, deadLetter string) {
	base := "WorkQueue" + strings.ReplaceAll(site, "-", "")
	return base + "Queue", base + "DeadLetterQueue"
}

// Tags CloudFormation puts on what it creates; a queue retained out of its
// stack keeps them.
const (
	tagStackName = "aws:cloudformation:stack-name"
	tagLogicalID = "aws:cloudformation:logical-id"
)

// Find is the URL of the one queue stack made (and retained) under a
// logical id starting with logicalPrefix; "" when there is none. First by
// name (CloudFormation names it <stack>-<logical id>-<random>); a name too
// long for SQS's 80 characters is cut, so then by CloudFormation's tags
// on the stack's queues.
func Find(ctx context.Context, c SQS, stack, logicalPrefix string) (string, error) {
	namePrefix := stack + "-" + logicalPrefix
	byName, err := list(ctx, c, namePrefix)
	if err != nil {
		return "", err
	}
	switch len(byName) {
	case 1:
		return byName[0], nil
	case 0:
	default:
		return "", fmt.Errorf("%d queues are named %s…: %s; move their messages by hand", len(byName), namePrefix, strings.Join(byName, ", "))
	}
	all, err := list(ctx, c, stack+"-")
	if err != nil {
		return "", err
	}
	var found []string
	for _, u := range all {
		out, err := c.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: aws.String(u)})
		if err != nil {
			return "", fmt.Errorf("read the tags of %s: %w", u, err)
		}
		if out.Tags[tagStackName] == stack && strings.HasPrefix(out.Tags[tagLogicalID], logicalPrefix) {
			found = append(found, u)
		}
	}
	switch len(found) {
	case 0:
		return "", nil
	case 1:
		return found[0], nil
	default:
		return "", fmt.Errorf("%d queues of stack %s have a logical id %s…: %s; move their messages by hand", len(found), stack, logicalPrefix, strings.Join(found, ", "))
	}
}

// list is every queue whose name starts with namePrefix.
func list(ctx context.Context, c SQS, namePrefix string) ([]string, error) {
	var urls []string
	pages := sqs.NewListQueuesPaginator(c, &sqs.ListQueuesInput{QueueNamePrefix: aws.String(namePrefix), MaxResults: aws.Int32(1000)})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list queues named %s…: %w", namePrefix, err)
		}
		urls = append(urls, out.QueueUrls...)
	}
	return urls, nil
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
