package send_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	routercontract "github.com/ecs-anywhere-stretched/stretched/constructs/router/contract"
	"github.com/ecs-anywhere-stretched/stretched/internal/quota"
	"github.com/ecs-anywhere-stretched/stretched/internal/send"
	"github.com/ecs-anywhere-stretched/stretched/testkit/sqspeer"
)

// TestRoutingReachesEveryLocationOfAFleet: the region and 500 sites on a
// real SNS and SQS peer (moto_server), routed through 8 entry topics with
// the filter policies the router construct writes, each
// location's topic chosen as the router chooses it. One file sent to each
// location with fleet send's producer code arrives in that location's
// queue and nowhere else; a message with an unknown or no location reaches
// the unrouted queue of the topic it was published to. moto does not
// enforce SNS's quotas, so they are checked here by computation: every
// topic within 200 filter policies, every policy within 150 combinations.
// 8 topics, not the 4 SNS's quotas need: moto_server 5.2 delivers a message
// only to the first 100 subscriptions of a topic (its publish reads one
// page of ListSubscriptionsByTopic); SNS delivers to every one.
func TestRoutingReachesEveryLocationOfAFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("500 queues on moto_server")
	}
	t.Parallel()
	const sites, topics = 500, 8
	ctx := context.Background()
	peer := sqspeer.StartMoto(t)
	snsc, sqsc := sns.NewFromConfig(peer.Config()), peer.Client()
	locations := []string{"region"}
	for i := range sites {
		locations = append(locations, fmt.Sprintf("site%03d", i+1))
	}
	shards := routercontract.Shards(locations, topics)
	for i, shard := range shards {
		if len(shard)+1 > 100 {
			t.Fatalf("topic %d routes %d locations: moto_server delivers to 100 subscriptions at most; use more topics", i, len(shard))
		}
	}
	var uses []quota.Use
	topicArns := make([]string, topics)
	unrouted := make([]string, topics)
	queues := map[string]string{}
	var mu sync.Mutex
	// moto names a queue arn:aws:sqs:<region>:123456789012:<name>.
	queueArn := func(name string) string { return "arn:aws:sqs:" + sqspeer.Region + ":123456789012:" + name }
	subscribe := func(topic, queue string, filter map[string]any) error {
		policy, _ := json.Marshal(filter)
		var asSNSSeesIt any
		_ = json.Unmarshal(policy, &asSNSSeesIt)
		mu.Lock()
		uses = append(uses, quota.Use{Quota: quota.FilterCombinations, Where: string(policy[:min(len(policy), 40)]), Value: quota.Combinations(asSNSSeesIt)})
		mu.Unlock()
		_, err := snsc.Subscribe(ctx, &sns.SubscribeInput{
			TopicArn: aws.String(topic), Protocol: aws.String("sqs"), Endpoint: aws.String(queueArn(queue)),
			Attributes: map[string]string{"RawMessageDelivery": "true", "FilterPolicy": string(policy)},
		})
		return err
	}
	for i, shard := range shards {
		out, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(fmt.Sprintf("entry-%d", i))})
		if err != nil {
			t.Fatal(err)
		}
		topicArns[i] = aws.ToString(out.TopicArn)
		uses = append(uses, quota.Use{Quota: quota.FilterPolicies, Where: topicArns[i], Value: len(shard) + 1})
		q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("unrouted-%d", i))})
		if err != nil {
			t.Fatal(err)
		}
		unrouted[i] = aws.ToString(q.QueueUrl)
		if err := subscribe(topicArns[i], fmt.Sprintf("unrouted-%d", i), routercontract.UnroutedFilter(shard)); err != nil {
			t.Fatal(err)
		}
	}
	parallel(t, locations, func(l string) error {
		q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("work-" + l)})
		if err != nil {
			return err
		}
		mu.Lock()
		queues[l] = aws.ToString(q.QueueUrl)
		mu.Unlock()
		return subscribe(topicArns[routercontract.Topic(l, topics)], "work-"+l, routercontract.LocationFilter(l))
	})
	if err := quota.Check(uses...); err != nil {
		t.Fatalf("the fleet's routing crosses SNS's quotas:\n%v", err)
	}

	clients := send.Clients{SNS: snsc, SQS: sqsc}
	parallel(t, locations, func(l string) error {
		i := routercontract.Topic(l, topics)
		_, err := send.Send(ctx, clients, send.Target{Topic: topicArns[i], Locations: shards[i]}, l, []string{"file-of-" + l})
		return err
	})
	for i, arn := range topicArns {
		if _, err := snsc.PublishBatch(ctx, &sns.PublishBatchInput{TopicArn: aws.String(arn), PublishBatchRequestEntries: []snstypes.PublishBatchRequestEntry{
			{Id: aws.String("unknown"), Message: aws.String(fmt.Sprintf("unknown-%d", i)), MessageAttributes: map[string]snstypes.MessageAttributeValue{
				routercontract.Attribute: {DataType: aws.String("String"), StringValue: aws.String("nowhere")}}},
			{Id: aws.String("none"), Message: aws.String(fmt.Sprintf("none-%d", i))},
		}}); err != nil {
			t.Fatal(err)
		}
	}

	// One receive of up to 10 takes what a queue holds here: a queue
	// expects one or two messages, so a third would show too.
	receive := func(queueURL string) ([]string, error) {
		out, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, VisibilityTimeout: 300})
		if err != nil {
			return nil, err
		}
		var bodies []string
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
		}
		return bodies, nil
	}
	parallel(t, locations, func(l string) error {
		got, err := receive(queues[l])
		if err != nil {
			return err
		}
		if len(got) != 1 || got[0] != "file-of-"+l {
			return fmt.Errorf("location %s (topic %d) received %q, want only its own file", l, routercontract.Topic(l, topics), got)
		}
		return nil
	})
	for i, q := range unrouted {
		got, err := receive(q)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || !(got[0] == fmt.Sprintf("unknown-%d", i) && got[1] == fmt.Sprintf("none-%d", i) || got[1] == fmt.Sprintf("unknown-%d", i) && got[0] == fmt.Sprintf("none-%d", i)) {
			t.Errorf("unrouted queue of topic %d holds %q, want the message for an unknown location and the one with none", i, got)
		}
	}
}

// parallel runs f for every item on 4 goroutines and fails the test with
// every error.
func parallel(t *testing.T, items []string, f func(string) error) {
	t.Helper()
	work := make(chan string)
	errs := make(chan error, len(items))
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range work {
				if err := f(it); err != nil {
					errs <- err
				}
			}
		}()
	}
	for _, it := range items {
		work <- it
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
}
