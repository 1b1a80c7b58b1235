package sqspeer

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// TestLinkCutAndRestore: through a cut link the peer is unreachable; once
// restored, its queue and messages are still there.
func TestLinkCutAndRestore(t *testing.T) {
	ctx := context.Background()
	p := StartFauxqs(t)
	q, dlq, err := p.Queue(ctx, "outage", 3)
	if err != nil || dlq == "" {
		t.Fatalf("queue: %v %q", err, dlq)
	}
	l := NewLink(t, p)
	c := Client(l.URL())
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q), MessageBody: aws.String("001")}); err != nil {
		t.Fatal(err)
	}
	l.Cut()
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := c.GetQueueUrl(short, &sqs.GetQueueUrlInput{QueueName: aws.String("outage")}); err == nil {
		t.Fatal("a cut link still reaches the peer")
	}
	l.Restore()
	out, err := Client(l.URL()).ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q), WaitTimeSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 || aws.ToString(out.Messages[0].Body) != "001" {
		t.Fatalf("after restore got %v", out.Messages)
	}
}

// TestMotoRedrives: moto_server starts, and it moves a message received
// more than maxReceiveCount times to the dead-letter queue, as SQS does.
func TestMotoRedrives(t *testing.T) {
	ctx := context.Background()
	p := StartMoto(t)
	q, dlq, err := p.Queue(ctx, "strict", 1)
	if err != nil {
		t.Fatal(err)
	}
	c := p.Client()
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q), MessageBody: aws.String("001")}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q), WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(q), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0}); err != nil {
				t.Fatal(err)
			}
		}
	}
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlq), WaitTimeSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("dead-letter queue holds %d messages, want 1", len(out.Messages))
	}
}

// TestLinkFreezeHangs: through a frozen link a request is never answered
// (it ends with its caller's deadline, not with a refusal); restored, the
// peer answers again.
func TestLinkFreezeHangs(t *testing.T) {
	ctx := context.Background()
	p := StartFauxqs(t)
	if _, _, err := p.Queue(ctx, "frozen", 0); err != nil {
		t.Fatal(err)
	}
	l := NewLink(t, p)
	c := Client(l.URL())
	l.Freeze()
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.GetQueueUrl(short, &sqs.GetQueueUrlInput{QueueName: aws.String("frozen")})
	if err == nil || time.Since(start) < 900*time.Millisecond {
		t.Fatalf("a frozen link answered after %v: %v", time.Since(start), err)
	}
	l.Restore()
	if _, err := Client(l.URL()).GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("frozen")}); err != nil {
		t.Fatal(err)
	}
}
