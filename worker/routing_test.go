package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	routercontract "github.com/ecs-anywhere-stretched/stretched/constructs/router/contract"
	"github.com/ecs-anywhere-stretched/stretched/internal/send"
	"github.com/ecs-anywhere-stretched/stretched/testkit/sqspeer"
)

// location is one place work is done: its queue, its folders, its worker.
type location struct {
	name       string
	queue, dlq string
	src, dst   string
	logs       *syncBuffer
	cmd        *exec.Cmd
}

// TestRoutedWorkGoesWhereItsDataIs: three real worker processes (the region
// and two sites, each with its own folders) consume their own queues on a
// real SNS and SQS peer (moto_server), fed through the entry topic with the
// filter policies the router construct writes and the producer code of
// fleet send. One site's link is cut while work for it keeps arriving, then
// restored. Every file is processed exactly once where it lies, nothing is
// dead-lettered, no worker receives a message for another location, the
// others keep working during the cut, and messages with no or an unknown
// location are kept in the unrouted queue.
func TestRoutedWorkGoesWhereItsDataIs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	peer := sqspeer.StartMoto(t)
	bin := buildWorker(t)
	snsc := sns.NewFromConfig(peer.Config())
	sqsc := peer.Client()
	names := []string{"region", "factory", "pi"}
	topic, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("entry")})
	if err != nil {
		t.Fatal(err)
	}
	subscribe := func(queueURL string, filter map[string]any) {
		t.Helper()
		attrs, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			t.Fatal(err)
		}
		policy, _ := json.Marshal(filter)
		if _, err := snsc.Subscribe(ctx, &sns.SubscribeInput{
			TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(attrs.Attributes["QueueArn"]),
			Attributes: map[string]string{"RawMessageDelivery": "true", "FilterPolicy": string(policy)},
		}); err != nil {
			t.Fatal(err)
		}
	}
	top := t.TempDir()
	locs := map[string]*location{}
	for _, name := range names {
		q, d, err := peer.Queue(ctx, "work-"+name, 5)
		if err != nil {
			t.Fatal(err)
		}
		l := &location{name: name, queue: q, dlq: d, src: filepath.Join(top, name, "sourcefolder"), dst: filepath.Join(top, name, "destinationfolder"), logs: &syncBuffer{}}
		if err := os.MkdirAll(l.src, 0o755); err != nil {
			t.Fatal(err)
		}
		subscribe(q, routercontract.LocationFilter(name))
		locs[name] = l
	}
	unrouted, _, err := peer.Queue(ctx, "unrouted", 0)
	if err != nil {
		t.Fatal(err)
	}
	subscribe(unrouted, routercontract.UnroutedFilter(names))

	// The factory site reaches the region through a link the test cuts.
	link := sqspeer.NewLink(t, peer)
	for _, l := range locs {
		env := peer.Env()
		if l.name == "factory" {
			env = link.Env()
		}
		l.cmd = exec.Command(bin)
		l.cmd.Env = append(append(os.Environ(), env...), "SQS_QUEUE_URL="+l.queue, "EFS_SOURCE_FOLDER="+l.src, "EFS_DESTINATION_FOLDER="+l.dst,
			"WORKER_WAIT_TIME_SECONDS=1", "WORKER_VISIBILITY_TIMEOUT_SECONDS=5", "WORKER_SHUTDOWN_GRACE_SECONDS=5")
		stdout, err := l.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := l.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		copied := make(chan struct{})
		go func() {
			defer close(copied)
			sc := bufio.NewScanner(stdout)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				_, _ = l.logs.Write(append(sc.Bytes(), '\n'))
			}
		}()
		t.Cleanup(func() {
			_ = l.cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan error, 1)
			go func() { <-copied; done <- l.cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s worker: exit %v", l.name, err)
				}
			case <-time.After(30 * time.Second):
				_ = l.cmd.Process.Kill()
				t.Errorf("%s worker did not stop within 30 s of SIGTERM", l.name)
			}
		})
	}

	target := send.Target{Topic: aws.ToString(topic.TopicArn), Locations: names}
	put := func(l *location, files ...string) {
		t.Helper()
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(l.src, f), []byte(l.name+" "+f), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := send.Send(ctx, send.Clients{SNS: snsc}, target, l.name, files); err != nil || n != len(files) {
			t.Fatalf("send to %s: %d sent, %v", l.name, n, err)
		}
	}
	processed := func(l *location) []string {
		var out []string
		for _, f := range list(t, l.dst) {
			if n, ok := strings.CutSuffix(f, processedSuffix); ok {
				out = append(out, n)
			}
		}
		return out
	}
	batch := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s-%03d", prefix, i+1)
		}
		return out
	}
	want := map[string][]string{}
	for _, name := range names {
		files := batch(name, 10)
		want[name] = files
		put(locs[name], files...)
	}
	waitFor(t, 3*time.Minute, "every location's first files processed", func() bool {
		for _, name := range names {
			if len(processed(locs[name])) < len(want[name]) {
				return false
			}
		}
		return true
	})

	// The factory's link is cut; work for every location keeps arriving.
	link.Cut()
	for _, name := range names {
		files := batch(name+"-during-cut", 5)
		want[name] = append(want[name], files...)
		put(locs[name], files...)
	}
	waitFor(t, 3*time.Minute, "the region and pi working during the cut", func() bool {
		return len(processed(locs["region"])) == len(want["region"]) && len(processed(locs["pi"])) == len(want["pi"])
	})
	if got := len(processed(locs["factory"])); got != 10 {
		t.Fatalf("the factory processed %d files with its link cut, want the 10 from before", got)
	}
	waitFor(t, time.Minute, "the factory to notice the cut", func() bool { return strings.Contains(locs["factory"].logs.String(), "receive failed") })
	link.Restore()
	waitFor(t, 3*time.Minute, "the factory's work after the link is back", func() bool { return len(processed(locs["factory"])) == len(want["factory"]) })

	// Messages no location takes are kept, not dropped.
	if _, err := snsc.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String("no-location")}); err != nil {
		t.Fatal(err)
	}
	if _, err := snsc.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String("to-mars"), MessageAttributes: map[string]snstypes.MessageAttributeValue{
		routercontract.Attribute: {DataType: aws.String("String"), StringValue: aws.String("mars")},
	}}); err != nil {
		t.Fatal(err)
	}
	var kept []string
	waitFor(t, time.Minute, "both unroutable messages in the unrouted queue", func() bool {
		out, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(unrouted), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			kept = append(kept, aws.ToString(m.Body))
		}
		return len(kept) >= 2
	})
	slices.Sort(kept)
	if !slices.Equal(kept, []string{"no-location", "to-mars"}) {
		t.Errorf("the unrouted queue holds %v, want the two unroutable bodies, raw", kept)
	}

	for _, name := range names {
		l := locs[name]
		got := processed(l)
		slices.Sort(got)
		w := slices.Clone(want[name])
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("%s processed %v, want exactly %v", name, got, w)
		}
		if left := list(t, l.src); len(left) != 0 {
			t.Errorf("%s: files left in the source: %v", name, left)
		}
		if n := strings.Count(l.logs.String(), "does not exist"); n != 0 {
			t.Errorf("%s: %d receives of a message whose file is elsewhere", name, n)
		}
		f := &fixture{client: sqsc}
		if dead := f.left(t, l.dlq); len(dead) != 0 {
			t.Errorf("%s: dead-lettered %v", name, dead)
		}
	}
	if t.Failed() {
		for _, name := range names {
			t.Logf("%s worker log:\n%s", name, locs[name].logs.String())
		}
	}
}
