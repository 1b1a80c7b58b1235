package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/ecs-anywhere-stretched/stretched/cmd/fleet/internal/nodes"
	"github.com/ecs-anywhere-stretched/stretched/cmd/fleet/internal/status"
	fleetmanagercontract "github.com/ecs-anywhere-stretched/stretched/constructs/fleetmanager/contract"
	routercontract "github.com/ecs-anywhere-stretched/stretched/constructs/router/contract"
	"github.com/ecs-anywhere-stretched/stretched/testkit/fakeaws"
	"github.com/ecs-anywhere-stretched/stretched/testkit/sqspeer"
)

// fleet is one test's deployment: a regional and a site stack in moto, the
// site's nodes, services and activations in fakeaws.
// Each fleet runs on its own moto_server (CloudFormation and SQS: real
// queues made by a real stack); ECS, SSM and CloudWatch, which moto does not
// speak well enough (no EXTERNAL services, no activations, no CBOR), come
// from fakeaws.
type fleet struct {
	moto                  *sqspeer.Peer
	prefix, site, cluster string
	queueURL, dlqURL      string
	aws                   *fakeaws.Fake
	env                   map[string]string
}

const regionalTemplate = `{"Resources": {
  "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "%[1]s-work"}},
  "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "%[1]s-dlq"}},
  "SiteQueue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "%[1]s-factory-work"}},
  "SiteDlq": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "%[1]s-factory-dlq"}},
  "Unrouted": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "%[1]s-unrouted"}},
  "Entry": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "%[1]s-entry"}}},
 "Outputs": {
  "QueueUrl": {"Value": {"Ref": "Queue"}}, "DeadLetterQueueUrl": {"Value": {"Ref": "Dlq"}},
  "QueueUrlFactory": {"Value": {"Ref": "SiteQueue"}}, "DeadLetterQueueUrlFactory": {"Value": {"Ref": "SiteDlq"}},
  "UnroutedQueueUrl": {"Value": {"Ref": "Unrouted"}}, "EntryTopicArn": {"Value": {"Ref": "Entry"}},
  "Work": {"Value": "routed"},
  "ClusterName": {"Value": "%[1]s-cluster"}, "ServiceName": {"Value": "ecsworker"}}}`

const siteTemplate = `{"Resources": {"Marker": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "%[1]s-marker"}}},
 "Outputs": {"ClusterName": {"Value": "%[2]s"}, "ServiceName": {"Value": "ecsworker-external"}}}`

// offlineAWS is what every command runs with here besides its endpoints:
// test credentials, the peers' region, no instance metadata, no AWS files.
var offlineAWS = map[string]string{
	"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": sqspeer.Region,
	"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
}

// setAWSEnv sets offlineAWS and endpoints (AWS_ENDPOINT_URL_<SERVICE>) for t.
func setAWSEnv(t *testing.T, endpoints map[string]string) {
	for _, m := range []map[string]string{offlineAWS, endpoints} {
		for k, v := range m {
			t.Setenv(k, v)
		}
	}
}

// shared is the moto_server every test of this package deploys its fleet
// into, under a stack prefix of its own (the tests set environment
// variables, so they run one after another; one server for all of them
// spares a start each).
var shared *sqspeer.Peer

func TestMain(m *testing.M) {
	var err error
	if shared, err = sqspeer.StartSharedMoto(); err != nil {
		fmt.Fprintf(os.Stderr, "cannot start moto_server: %v\n", err)
		if os.Getenv("CI") == "true" {
			os.Exit(1)
		}
	}
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	os.Exit(code)
}

// newFleet deploys a healthy fleet: 2 visible and 1 in-flight message, two
// connected nodes running the site's 2 tasks, one current activation.
func newFleet(t *testing.T, prefix string) *fleet {
	m := shared
	if m == nil {
		t.Skip("no moto_server (see above)")
	}
	ctx := context.Background()
	f := &fleet{moto: m, prefix: prefix, site: prefix + "-Anywhere-factory", cluster: prefix + "-factory", aws: fakeaws.New(t)}
	cfn := cloudformation.NewFromConfig(m.Config())
	for name, body := range map[string]string{prefix + "-Regional": fmt.Sprintf(regionalTemplate, prefix), f.site: fmt.Sprintf(siteTemplate, prefix, f.cluster)} {
		if _, err := cfn.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String(name), TemplateBody: aws.String(body)}); err != nil {
			t.Fatalf("create stack %s in moto: %v", name, err)
		}
		// The server is shared: leave it as the test found it, so the
		// test can run again in the same process (go test -count).
		t.Cleanup(func() {
			if _, err := cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(name)}); err != nil {
				t.Errorf("delete stack %s in moto: %v", name, err)
			}
		})
	}
	q := m.Client()
	for _, suffix := range []string{"work", "dlq"} {
		out, err := q.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(prefix + "-" + suffix)})
		if err != nil {
			t.Fatalf("the stack's queue %s: %v", suffix, err)
		}
		if suffix == "work" {
			f.queueURL = aws.ToString(out.QueueUrl)
		} else {
			f.dlqURL = aws.ToString(out.QueueUrl)
		}
	}
	for i := range 3 {
		if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(f.queueURL), MessageBody: aws.String(fmt.Sprintf("file-%d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(f.queueURL), MaxNumberOfMessages: 1, VisibilityTimeout: 300}); err != nil {
		t.Fatal(err)
	}
	a := f.aws
	a.OldestAge[prefix+"-work"] = 42
	a.Services[fakeaws.ServiceKey(prefix+"-cluster", "ecsworker")] = &fakeaws.Service{Desired: 1, Running: 1}
	a.Services[fakeaws.ServiceKey(f.cluster, "ecsworker-external")] = &fakeaws.Service{Desired: 2, Running: 2}
	act := a.AddActivation(fakeaws.Activation{Limit: 10, Expiry: time.Now().Add(5 * 24 * time.Hour), Tags: map[string]string{"stretched:stack": f.site}})
	a.AddActivation(fakeaws.Activation{Limit: 10, Expiry: time.Now().Add(24 * time.Hour), Tags: map[string]string{"stretched:stack": "Other-Anywhere-x"}})
	for i := range 2 {
		mi := a.Join(act.ID)
		a.Instances[mi].Name = fmt.Sprintf("node-%d", i)
		a.ContainerInstances[f.cluster] = append(a.ContainerInstances[f.cluster], fmt.Sprintf("arn:aws:ecs:eu-west-1:123456789012:container-instance/%s/%032x", f.cluster, i+1))
	}
	f.env = map[string]string{
		"AWS_ENDPOINT_URL_CLOUDFORMATION": m.URL(), "AWS_ENDPOINT_URL_SQS": m.URL(),
		"AWS_ENDPOINT_URL_ECS": a.URL, "AWS_ENDPOINT_URL_SSM": a.URL, "AWS_ENDPOINT_URL_CLOUDWATCH": a.URL,
	}
	maps.Copy(f.env, offlineAWS)
	return f
}

// status runs `fleet status` with the fleet's environment, as the real
// binary does (the SDK reads the endpoints from AWS_ENDPOINT_URL_*).
func (f *fleet) status(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	for k, v := range f.env {
		t.Setenv(k, v)
	}
	var out, errOut bytes.Buffer
	code = run(context.Background(), append([]string{"status", "--prefix", f.prefix}, args...), &out, &errOut)
	if strings.Contains(out.String()+errOut.String(), "SECRET-CODE") {
		t.Errorf("status printed an activation code")
	}
	return code, out.String(), errOut.String()
}

func (f *fleet) json(t *testing.T) status.Fleet {
	t.Helper()
	_, out, errOut := f.status(t, "--json")
	var got status.Fleet
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("--json output is not JSON (%v): %s %s", err, out, errOut)
	}
	return got
}

func TestHealthyFleet(t *testing.T) {
	f := newFleet(t, "Healthy")
	code, out, errOut := f.status(t)
	if code != 0 {
		t.Fatalf("exit %d for a healthy fleet:\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"REGION", "Healthy-Regional", "visible 2", "in flight 1", "dead letters 0", "oldest 42s",
		"SITE", "Healthy-Anywhere-factory", "desired 2", "running 2", "registrations 2 of 10", "node-0", "Online", "Ubuntu 24.04", "connected", "HEALTHY"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Other-Anywhere") {
		t.Error("another stack's activation is shown")
	}
	// One site by name, or a clear error for a site that has no stack.
	if code, out, errOut := f.status(t, "--site", "factory"); code != 0 || !strings.Contains(out, "Healthy-Anywhere-factory") {
		t.Errorf("--site factory: exit %d:\n%s%s", code, out, errOut)
	}
	if code, _, errOut := f.status(t, "--site", "nowhere"); code != exitError || !strings.Contains(errOut, `site "nowhere" has no stack Healthy-Anywhere-nowhere: give one of factory`) {
		t.Errorf("--site nowhere: exit %d: %s", code, errOut)
	}
	got := f.json(t)
	if !got.Healthy || len(got.Sites) != 1 || len(got.Sites[0].Activations) != 1 || len(got.Sites[0].ManagedInstances) != 2 ||
		len(got.Sites[0].ContainerInstances) != 2 || got.Region.Queue.Visible != 2 || *got.Region.Queue.OldestAgeSeconds != 42 {
		t.Errorf("JSON: %+v", got)
	}
}

func TestUnhealthyFleets(t *testing.T) {
	for _, tc := range []struct {
		name   string
		breaks func(f *fleet)
		want   string
	}{
		{"a disconnected node", func(f *fleet) { f.aws.Disconnected[f.aws.ContainerInstances[f.cluster][1]] = true }, "is disconnected"},
		{"tasks below desired", func(f *fleet) { f.aws.Services[fakeaws.ServiceKey(f.cluster, "ecsworker-external")].Running = 1 }, "runs 1 of 2 desired tasks"},
		{"a node lost to SSM", func(f *fleet) {
			for _, i := range f.aws.Instances {
				i.PingStatus = "ConnectionLost"
				break
			}
		}, "is ConnectionLost to Systems Manager"},
		{"an SSM Agent that reconnects slowly", func(f *fleet) {
			for _, i := range f.aws.Instances {
				i.AgentVersion = "3.2.582.0"
				break
			}
		}, "SSM Agent 3.2.582.0 is older than 3.3.3050.0"},
		{"dead letters", func(f *fleet) {
			c := f.moto.Client()
			for range 2 {
				if _, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(f.dlqURL), MessageBody: aws.String("x")}); err != nil {
					panic(err)
				}
			}
		}, "dead-letter queue holds 2 message(s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFleet(t, "U"+strings.ReplaceAll(tc.name, " ", "-"))
			tc.breaks(f)
			code, out, errOut := f.status(t)
			if code != 1 || !strings.Contains(out, "UNHEALTHY") || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, want 1 with %q:\n%s%s", code, tc.want, out, errOut)
			}
		})
	}
}

func TestMissingStack(t *testing.T) {
	f := newFleet(t, "Present")
	f.prefix = "Absent"
	code, out, errOut := f.status(t)
	if code != 2 || !strings.Contains(errOut, "Absent-Regional does not exist") || !strings.Contains(errOut, "--prefix") || out != "" {
		t.Errorf("exit %d, stderr %q: want 2 and a message naming the stack and the fix", code, errOut)
	}
}

func TestNoCredentials(t *testing.T) {
	f := newFleet(t, "NoCreds")
	delete(f.env, "AWS_ACCESS_KEY_ID")
	delete(f.env, "AWS_SECRET_ACCESS_KEY")
	// Every source of credentials the SDK's chain reads (CodeBuild, for one,
	// provides container credentials).
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"} {
		t.Setenv(k, "")
	}
	code, _, errOut := f.status(t)
	if code != 2 || !strings.Contains(errOut, "no AWS credentials found") || !strings.Contains(errOut, "aws configure") {
		t.Errorf("exit %d, stderr %q: want 2 and what to do", code, errOut)
	}
	var out, sendErr bytes.Buffer
	code = runWith(context.Background(), []string{"send", "--prefix", "NoCreds", "--location", "factory", "001"}, strings.NewReader(""), &out, &sendErr)
	if code != 2 || !strings.Contains(sendErr.String(), "fleet send: no AWS credentials found") {
		t.Errorf("send without credentials: exit %d, stderr %q: want 2 and what to do", code, sendErr.String())
	}
}

func TestUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"stat"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "usage: fleet status") || !strings.Contains(errOut.String(), "fleet send --location") {
		t.Errorf("exit %d, %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"send", "001"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "--location is required") {
		t.Errorf("send without --location: exit %d, %q", code, errOut.String())
	}
}

// TestSendRoutesToTheLocationAndStatusShowsIt: fleet send publishes through
// the entry of the deployed stack (moto_server's SNS, subscribed with the
// router's filters); the site's queue gets exactly its names; status shows
// the site's own queue, and a dead letter there makes the fleet unhealthy
// under the site's name. Bad input sends nothing.
func TestSendRoutesToTheLocationAndStatusShowsIt(t *testing.T) {
	f := newFleet(t, "Send")
	ctx := context.Background()
	q := f.moto.Client()
	url := func(name string) string {
		out, err := q.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("Send-" + name)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.QueueUrl)
	}
	snsc := sns.NewFromConfig(f.moto.Config())
	topics, err := snsc.ListTopics(ctx, &sns.ListTopicsInput{})
	if err != nil {
		t.Fatalf("list topics: %v", err)
	}
	var topic *string
	for _, tp := range topics.Topics {
		if strings.HasSuffix(aws.ToString(tp.TopicArn), ":Send-entry") {
			topic = tp.TopicArn
		}
	}
	if topic == nil {
		t.Fatalf("the stack's topic Send-entry is not among %v", topics.Topics)
	}
	for queue, filter := range map[string]map[string]any{"work": routercontract.LocationFilter("region"), "factory-work": routercontract.LocationFilter("factory"), "unrouted": routercontract.UnroutedFilter([]string{"factory", "region"})} {
		attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url(queue)), AttributeNames: []sqstypes.QueueAttributeName{"QueueArn"}})
		if err != nil {
			t.Fatal(err)
		}
		policy, _ := json.Marshal(filter)
		if _, err := snsc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic, Protocol: aws.String("sqs"), Endpoint: aws.String(attrs.Attributes["QueueArn"]),
			Attributes: map[string]string{"RawMessageDelivery": "true", "FilterPolicy": string(policy)}}); err != nil {
			t.Fatal(err)
		}
	}
	// The site's directory entry names its queues and entry topic.
	f.aws.Parameters["/Send/sites/factory"] = fmt.Sprintf(`{"site":"factory","queueUrl":%q,"deadLetterQueueUrl":%q,"entryTopicArn":%q}`, url("factory-work"), url("factory-dlq"), aws.ToString(topic))
	for k, v := range f.env {
		t.Setenv(k, v)
	}
	t.Setenv("AWS_ENDPOINT_URL_SNS", f.moto.URL())
	sendCmd := func(stdin string, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := runWith(ctx, append([]string{"send", "--prefix", "Send"}, args...), strings.NewReader(stdin), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	if code, out, errOut := sendCmd("", "--location", "factory", "a-001", "a-002"); code != 0 || !strings.Contains(out, "sent 2 file name(s) to factory") {
		t.Fatalf("send: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := sendCmd("b-001\nb-002\n\nb-003\n", "--location", "factory"); code != 0 || !strings.Contains(out, "sent 3") {
		t.Fatalf("send from stdin: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut := sendCmd("", "--location", "mars", "../x", "ok")
	if code != 2 || !strings.Contains(errOut, `unknown location "mars": the locations are factory, region`) || !strings.Contains(errOut, `name 1 ("../x"): name contains a path separator`) {
		t.Errorf("bad input: exit %d, %s", code, errOut)
	}
	var got []string
	for range 5 {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url("factory-work")), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			if !slices.Contains(got, aws.ToString(m.Body)) {
				got = append(got, aws.ToString(m.Body))
			}
		}
		if len(got) >= 5 {
			break
		}
	}
	slices.Sort(got)
	if strings.Join(got, ",") != "a-001,a-002,b-001,b-002,b-003" {
		t.Errorf("the factory's queue holds %v, want the five names sent to it", got)
	}
	if n, _ := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url("work")), AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages"}}); n.Attributes["ApproximateNumberOfMessages"] != "2" {
		t.Errorf("the region's queue holds %v messages, want its own 2 (nothing of the factory's)", n.Attributes["ApproximateNumberOfMessages"])
	}
	// A dead letter at the site: status names the site.
	if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url("factory-dlq")), MessageBody: aws.String("x")}); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := f.status(t)
	if code != 1 || !strings.Contains(stdout, "site factory: dead-letter queue holds 1 message(s)") {
		t.Errorf("status with a dead letter at the site: exit %d\n%s", code, stdout)
	}
	fleet := f.json(t)
	if len(fleet.Sites) != 1 || fleet.Sites[0].Queue == nil || fleet.Sites[0].Queue.DeadLetters != 1 {
		t.Errorf("the site's own queue in --json: %+v", fleet.Sites)
	}
}

// A site's queue URLs come from its entry in the site directory (the
// regional stack no longer outputs them); a deployment of an earlier
// version, with no entry, falls back to the regional outputs (the other
// tests).
func TestSiteQueueFromTheDirectory(t *testing.T) {
	f := newFleet(t, "Directory")
	ctx := context.Background()
	q := f.moto.Client()
	urls := map[string]string{}
	for _, suffix := range []string{"work", "dlq"} {
		out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("Directory-site-factory-" + suffix)})
		if err != nil {
			t.Fatal(err)
		}
		urls[suffix] = aws.ToString(out.QueueUrl)
		t.Cleanup(func() { _, _ = q.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl}) })
	}
	for i := range 5 {
		if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(urls["work"]), MessageBody: aws.String(fmt.Sprint("f", i))}); err != nil {
			t.Fatal(err)
		}
	}
	f.aws.Parameters["/Directory/sites/factory"] = fmt.Sprintf(`{"site":"factory","queueUrl":%q,"deadLetterQueueUrl":%q}`, urls["work"], urls["dlq"])
	got := f.json(t)
	if len(got.Sites) != 1 || got.Sites[0].Queue == nil || got.Sites[0].Queue.Visible != 5 {
		t.Errorf("the site's queue must be the directory's (5 visible): %+v", got.Sites)
	}
}

// After the upgrade, a site's messages wait in the queues the regional
// stack of the earlier version held (retained, out of the template):
// rehome moves every one, with its attributes, to the site's own queues
// named in its directory entry, and --delete removes the old queues once
// empty. Without a directory entry it moves nothing and says to deploy.
func TestRehomeMovesASitesMessagesToItsOwnQueues(t *testing.T) {
	f := newFleet(t, "Rehome")
	ctx := context.Background()
	q := f.moto.Client()
	mk := func(name string, tags ...string) string {
		in := &sqs.CreateQueueInput{QueueName: aws.String(name), Tags: map[string]string{}}
		for i := 0; i+1 < len(tags); i += 2 {
			in.Tags[tags[i]] = tags[i+1]
		}
		out, err := q.CreateQueue(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = q.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl}) })
		return aws.ToString(out.QueueUrl)
	}
	// The dead-letter queue's name was cut (SQS takes 80 characters): it is
	// found by the tags CloudFormation gave it, and not the queue beside it
	// with another logical id.
	oldQ := mk("Rehome-Regional-WorkQueuefactoryQueue3869DA7B-Ab12")
	oldDLQ := mk("Rehome-Regional-WorkQueuefactoryDe-Cd34", "aws:cloudformation:stack-name", "Rehome-Regional", "aws:cloudformation:logical-id", "WorkQueuefactoryDeadLetterQueue471BC856")
	mk("Rehome-Regional-WorkQueuepiDeadLet-Zz99", "aws:cloudformation:stack-name", "Rehome-Regional", "aws:cloudformation:logical-id", "WorkQueuepiDeadLetterQueue0A1B2C3D")
	newQ, newDLQ := mk("Rehome-Anywhere-factory-WorkQueueAD162499-Ef56"), mk("Rehome-Anywhere-factory-WorkQueueDeadLetterQueueF71CA21F-Gh78")
	for i := range 23 {
		if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(oldQ), MessageBody: aws.String(fmt.Sprintf("file-%02d", i)),
			MessageAttributes: map[string]sqstypes.MessageAttributeValue{"location": {DataType: aws.String("String"), StringValue: aws.String("factory")}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(oldDLQ), MessageBody: aws.String("dead-1")}); err != nil {
		t.Fatal(err)
	}
	for k, v := range f.env {
		t.Setenv(k, v)
	}
	rehome := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(ctx, append([]string{"rehome", "--prefix", "Rehome"}, args...), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	if code, out := rehome("--site", "factory"); code != 2 || !strings.Contains(out, "deploy the site's stack of this version first") {
		t.Errorf("without a directory entry: exit %d\n%s", code, out)
	}
	f.aws.Parameters["/Rehome/sites/factory"] = fmt.Sprintf(`{"site":"factory","queueUrl":%q,"deadLetterQueueUrl":%q}`, newQ, newDLQ)
	code, out := rehome("--site", "factory", "--delete")
	if code != 0 || !strings.Contains(out, "moved 23 message(s) from "+oldQ) || !strings.Contains(out, "moved 1 message(s) from "+oldDLQ) || !strings.Contains(out, "site factory: 24 message(s) moved") {
		t.Fatalf("rehome: exit %d\n%s", code, out)
	}
	var got []string
	for range 10 {
		r, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(newQ), MaxNumberOfMessages: 10, VisibilityTimeout: 60, MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range r.Messages {
			if aws.ToString(m.MessageAttributes["location"].StringValue) != "factory" {
				t.Errorf("message %s lost its attributes: %v", aws.ToString(m.Body), m.MessageAttributes)
			}
			got = append(got, aws.ToString(m.Body))
		}
	}
	slices.Sort(got)
	if len(got) != 23 || got[0] != "file-00" || got[22] != "file-22" {
		t.Errorf("the site's new queue holds %d messages %v, want the 23 moved", len(got), got)
	}
	listed, err := q.ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String("Rehome-Regional-")})
	if err != nil || len(listed.QueueUrls) != 1 || !strings.HasSuffix(listed.QueueUrls[0], "Rehome-Regional-WorkQueuepiDeadLet-Zz99") {
		t.Errorf("after --delete, the regional stack's old queues are %v (%v); want only site pi's, which factory's rehome must not touch", listed.QueueUrls, err)
	}
	if code, out := rehome("--site", "factory"); code != 0 || !strings.Contains(out, "nothing to move") {
		t.Errorf("a second run: exit %d\n%s", code, out)
	}
}

// The site stacks of the version before the fleet-wide functions, as far as
// prepare-upgrade looks at them: a custom resource answered by the site's
// own function, and values imported from the regional stack. moto does not
// run custom resources, so theirs are under a condition that is never true;
// the template still names them, as the deployed one does (the handler is
// a function moto creates but never calls).
const (
	oldRegionalTemplate = `{"Resources": {"SiteQueue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "%[1]s-old-site-queue"}}},
 "Outputs": {"ExportsOutputRefSiteQueue": {"Value": {"Ref": "SiteQueue"}, "Export": {"Name": "%[1]s-Regional:ExportsOutputRefSiteQueue"}}}}`
	oldSiteTemplate = `{"Conditions": {"Never": {"Fn::Equals": ["a", "b"]}},
 "Resources": {
  "HandlerRole": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}},
  "NodesHandler": {"Type": "AWS::Lambda::Function", "Properties": {"Role": {"Fn::GetAtt": ["HandlerRole", "Arn"]}, "Code": {"ZipFile": "x"}, "Handler": "h", "Runtime": "provided.al2023"}},
  "Nodes": {"Type": "Custom::SiteNodes", "Condition": "Never", "Properties": {"ServiceToken": {"Fn::GetAtt": ["NodesHandler", "Arn"]}}, "DeletionPolicy": "Delete"},
  "Marker": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "%[1]s-marker", "Tags": [{"Key": "queue", "Value": {"Fn::ImportValue": "%[1]s-Regional:ExportsOutputRefSiteQueue"}}]}}}}`
	newSiteTemplate = `{"Conditions": {"Never": {"Fn::Equals": ["a", "b"]}},
 "Resources": {
  "NodesFleet": {"Type": "Custom::SiteNodes", "Condition": "Never", "Properties": {"ServiceToken": {"Fn::ImportValue": "%[1]s-Regional:SiteNodesArn"}}},
  "Marker": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "%[1]s-new-marker"}}}}`
)

// prepare-upgrade readies each site stack of the earlier version for the
// deploy of this one: its old custom resources retained (so their removal
// sends no Delete to the old handlers), its imports replaced by their values
// (so the regional stack may drop those exports); a site of this version and
// a second run change nothing; --dry-run changes nothing.
func TestPrepareUpgradeRetainsOldCustomResourcesAndDropsImports(t *testing.T) {
	m := shared
	if m == nil {
		t.Skip("no moto_server (see above)")
	}
	ctx := context.Background()
	cfn := cloudformation.NewFromConfig(m.Config())
	const prefix = "Prep"
	for _, s := range [][2]string{{prefix + "-Regional", oldRegionalTemplate}, {prefix + "-Anywhere-factory", oldSiteTemplate}, {prefix + "-Anywhere-shop", newSiteTemplate}} {
		if _, err := cfn.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String(s[0]), TemplateBody: aws.String(fmt.Sprintf(s[1], prefix))}); err != nil {
			t.Fatalf("create stack %s in moto: %v", s[0], err)
		}
		t.Cleanup(func() { _, _ = cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(s[0])}) })
	}
	exports, err := cfn.ListExports(ctx, &cloudformation.ListExportsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var queueURL string
	for _, e := range exports.Exports {
		if aws.ToString(e.Name) == prefix+"-Regional:ExportsOutputRefSiteQueue" {
			queueURL = aws.ToString(e.Value)
		}
	}
	setAWSEnv(t, map[string]string{"AWS_ENDPOINT_URL_CLOUDFORMATION": m.URL()})
	prepare := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(ctx, append([]string{"prepare-upgrade", "--prefix", prefix}, args...), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	template := func(stack string) string {
		out, err := cfn.GetTemplate(ctx, &cloudformation.GetTemplateInput{StackName: aws.String(stack)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.TemplateBody)
	}
	code, out := prepare("--dry-run")
	if code != 0 || !strings.Contains(out, "Prep-Anywhere-factory: would retain Nodes on removal; replace 1 import(s)") || !strings.Contains(template(prefix+"-Anywhere-factory"), "Fn::ImportValue") {
		t.Errorf("--dry-run: exit %d\n%s", code, out)
	}
	code, out = prepare()
	if code != 0 || !strings.Contains(out, "Prep-Anywhere-factory: prepared: retain Nodes on removal; replace 1 import(s) by their values") ||
		!strings.Contains(out, "Prep-Anywhere-shop: nothing to prepare") {
		t.Fatalf("prepare-upgrade: exit %d\n%s", code, out)
	}
	var got struct {
		Resources map[string]struct {
			DeletionPolicy string
			Properties     struct{ Tags []struct{ Value any } }
		}
	}
	if err := json.Unmarshal([]byte(template(prefix+"-Anywhere-factory")), &got); err != nil {
		t.Fatal(err)
	}
	if got.Resources["Nodes"].DeletionPolicy != "Retain" || len(got.Resources["Marker"].Properties.Tags) != 1 || queueURL == "" || got.Resources["Marker"].Properties.Tags[0].Value != queueURL {
		t.Errorf("the deployed template after prepare-upgrade: %+v; want Nodes retained and the import replaced by %q", got, queueURL)
	}
	if code, out := prepare(); code != 0 || strings.Contains(out, "prepared:") {
		t.Errorf("a second run: exit %d\n%s", code, out)
	}
	if code, out := prepare("--prefix", "Nobody"); code != 2 || !strings.Contains(out, "no stack named Nobody-Anywhere-") {
		t.Errorf("no site stacks: exit %d\n%s", code, out)
	}
}

// fleet node userdata makes a dedicated activation for the batch (its
// count, its expiry, the site's role and tags, so the site's destroy
// deletes it) and prints user data that joins with it; the code goes only
// to standard output. A site deployed before the entry named its role, a
// bad flag and an unknown site make nothing.
func TestNodeUserDataMakesADedicatedActivation(t *testing.T) {
	a := fakeaws.New(t)
	setAWSEnv(t, map[string]string{"AWS_ENDPOINT_URL_SSM": a.URL})
	a.Parameters["/Nodes/sites/factory"] = `{"site":"factory","cluster":"Nodes-factory","instanceRole":"factoryNodes","stack":"Nodes-Anywhere-factory"}`
	a.Parameters["/Nodes/sites/old"] = `{"site":"old","cluster":"Nodes-old"}`
	userdata := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"node", "userdata", "--prefix", "Nodes"}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	before := time.Now()
	code, out, errOut := userdata("--site", "factory", "--nodes", "3", "--expires", "2h", "--proxy", "http://proxy.example:3128")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if len(a.Activations) != 1 {
		t.Fatalf("%d activations made, want 1", len(a.Activations))
	}
	for _, act := range a.Activations {
		if act.Limit != 3 || act.IamRole != "factoryNodes" || act.Tags["stretched:stack"] != "Nodes-Anywhere-factory" || act.Tags["site"] != "factory" ||
			act.Expiry.Before(before.Add(2*time.Hour-time.Minute)) || act.Expiry.After(before.Add(2*time.Hour+time.Minute)) {
			t.Errorf("activation %+v: want 3 registrations for 2 h, the site's role and tags", act)
		}
		if !strings.HasPrefix(out, "#cloud-config\n") || !strings.Contains(out, "--activation-id '"+act.ID+"'") || !strings.Contains(out, act.Code) ||
			!strings.Contains(out, "cluster='Nodes-factory'") || !strings.Contains(out, "proxy='http://proxy.example:3128'") {
			t.Errorf("user data does not join with the batch's activation:\n%s", out)
		}
		if strings.Contains(errOut, act.Code) || !strings.Contains(errOut, "activation "+act.ID+" made for 3 machine(s) of site factory") {
			t.Errorf("stderr: %s", errOut)
		}
	}
	if code, out, _ := userdata("--site", "factory", "--stage", "image", "--format", "script"); code != 0 || !strings.HasPrefix(out, "#!/bin/sh\n") || !strings.Contains(out, "--skip-registration") || len(a.Activations) != 1 {
		t.Errorf("image stage: exit %d, %d activations, want a script and no activation:\n%s", code, len(a.Activations), out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--site", "old"}, "names no instance role, stack or cluster: deploy the site's stack of this version"},
		{[]string{"--site", "nowhere"}, `"nowhere" is not a site of this app (--prefix Nodes, region ` + sqspeer.Region + `): the sites are factory, old`},
		{[]string{"--site", "factory", "--nodes", "0"}, "--nodes is 0"},
		{[]string{"--site", "factory", "--expires", "800h"}, "--expires is 800h0m0s"},
		{[]string{"--site", "factory", "--proxy", "proxy:3128"}, "give it as http://host:port"},
		{[]string{"--site", "factory", "--format", "yaml"}, `--format is "yaml"`},
		{[]string{"--site", "factory", "--ecs-version", "1.50.0"}, "--ecs-version 1.50.0 is older than 1.86.0, the oldest ECS agent that runs the site's container restart policy"},
	} {
		if code, _, errOut := userdata(tc.args...); code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %s; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
	if len(a.Activations) != 1 {
		t.Errorf("refused runs made activations: %d", len(a.Activations))
	}
}

// nodeSite is a site with two nodes: its cluster, container instances
// and tasks on moto_server's ECS, its managed instances on the fake SSM.
type nodeSite struct {
	e     *ecs.Client
	a     *fakeaws.Fake
	mi    []string // the nodes' managed instance ids (EC2's, in moto)
	cis   []string // their container instance ARNs
	start func(ci string) string
	node  func(args ...string) (int, string)
}

func newNodeSite(t *testing.T, prefix string) *nodeSite {
	m := shared
	if m == nil {
		t.Skip("no moto_server (see above)")
	}
	ctx := context.Background()
	cluster, stack := prefix+"-factory", prefix+"-Anywhere-factory"
	a := fakeaws.New(t)
	a.Parameters["/"+prefix+"/sites/factory"] = fmt.Sprintf(`{"site":"factory","cluster":%q,"stack":%q,"instanceRole":"r"}`, cluster, stack)
	// moto registers a container instance only for an instance its EC2
	// knows: the nodes' ids are EC2's (a managed instance's are mi-…; the
	// code only matches them).
	mi := []string{motoInstance(t, m), motoInstance(t, m)}
	for i, id := range mi {
		a.Instances[id] = &fakeaws.Instance{ID: id, Name: fmt.Sprintf("node-%d", i), Tags: map[string]string{"stretched:stack": stack}}
	}
	a.Instances[mi[0]].AgentVersion = "3.3.1957.0"                                                                                                      // reconnects hours after an outage
	a.Instances["mi-0000000000000000f"] = &fakeaws.Instance{ID: "mi-0000000000000000f", Tags: map[string]string{"stretched:stack": "Other-Anywhere-x"}} // another app's

	e := ecs.NewFromConfig(m.Config())
	if _, err := e.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(cluster)}); err != nil {
		t.Fatal(err)
	}
	// The server is shared: leave it as the test found it (go test -count).
	t.Cleanup(func() {
		left, err := e.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String(cluster)})
		if err == nil {
			for _, ci := range left.ContainerInstanceArns {
				if _, err = e.DeregisterContainerInstance(ctx, &ecs.DeregisterContainerInstanceInput{Cluster: aws.String(cluster), ContainerInstance: aws.String(ci), Force: aws.Bool(true)}); err != nil {
					break
				}
			}
		}
		if err == nil {
			_, err = e.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String(cluster)})
		}
		if err != nil {
			t.Errorf("remove cluster %s from moto: %v", cluster, err)
		}
	})
	td, err := e.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String(strings.ToLower(prefix) + "-worker"), Cpu: aws.String("64"), Memory: aws.String("128"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("worker"), Image: aws.String("worker:1"), Cpu: 64, Memory: aws.Int32(128)}}})
	if err != nil {
		t.Fatal(err)
	}
	ns := &nodeSite{e: e, a: a, mi: mi}
	for _, id := range mi {
		out, err := e.RegisterContainerInstance(ctx, &ecs.RegisterContainerInstanceInput{Cluster: aws.String(cluster),
			InstanceIdentityDocument: aws.String(fmt.Sprintf(`{"instanceId":%q,"region":"%s"}`, id, sqspeer.Region))})
		if err != nil {
			t.Fatal(err)
		}
		ns.cis = append(ns.cis, aws.ToString(out.ContainerInstance.ContainerInstanceArn))
	}
	ns.start = func(ci string) string {
		// moto answers StartTask with a task whose cpu is a number where the
		// SDK reads a string: the task is made; its ARN comes from ListTasks.
		if _, err := e.StartTask(ctx, &ecs.StartTaskInput{Cluster: aws.String(cluster), TaskDefinition: td.TaskDefinition.TaskDefinitionArn, ContainerInstances: []string{ci}}); err != nil && !strings.Contains(err.Error(), "deserialization failed") {
			t.Fatal(err)
		}
		out, err := e.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(cluster), ContainerInstance: aws.String(ci)})
		if err != nil || len(out.TaskArns) == 0 {
			t.Fatalf("the started task: %v %v", out, err)
		}
		return out.TaskArns[len(out.TaskArns)-1]
	}
	setAWSEnv(t, map[string]string{"AWS_ENDPOINT_URL_ECS": m.URL(), "AWS_ENDPOINT_URL_SSM": a.URL})
	ns.node = func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(ctx, append([]string{"node", args[0], "--prefix", prefix}, args[1:]...), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	return ns
}

// fleet node list, drain and retire: ECS on moto_server (container
// instances, tasks, DRAINING, deregistration), SSM on the fake AWS
// (managed instances by the site's tag, their agents, deregistration).
func TestNodeListDrainRetire(t *testing.T) {
	ns := newNodeSite(t, "NodeOps")
	ctx := context.Background()
	const cluster = "NodeOps-factory"
	e, a, mi, cis, start, node := ns.e, ns.a, ns.mi, ns.cis, ns.start, ns.node
	task0 := start(cis[0])

	code, out := node("list", "--site", "factory")
	if code != 1 || !strings.Contains(out, "site factory: 2 node(s)") || !strings.Contains(out, "node-0  "+mi[0]) ||
		!strings.Contains(out, "node-0: SSM Agent 3.3.1957.0 is older than 3.3.3050.0") || strings.Contains(out, "node-1: SSM Agent") ||
		!strings.Contains(out, "ECS agent 1.0.0 is older than 1.86.0") {
		t.Errorf("node list: exit %d (want 1: agents below their minimum)\n%s", code, out)
	}
	var listed []map[string]any
	code, out = node("list", "--json")
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed) != 2 || listed[0]["runningTasks"] != float64(1) {
		t.Errorf("node list --json (every site): %v\n%s", err, out)
	}

	// The only other node runs nothing but is connected and ACTIVE: node-0
	// may go. Its task does not move within the wait: nothing deregistered.
	code, out = node("retire", "--site", "factory", "--wait", "1s", "node-0")
	if code != 2 || !strings.Contains(out, "still runs 1 task(s) after 1s") || !strings.Contains(out, "nothing deregistered") || len(a.Instances) != 3 {
		t.Errorf("retire with a task that does not move: exit %d\n%s", code, out)
	}
	// ECS stops the task on the draining node: retire drains, deregisters
	// from ECS and SSM, and says how to clean the machine.
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, _ = e.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(cluster), Task: aws.String(task0)})
	}()
	code, out = node("retire", "--site", "factory", "--wait", "20s", mi[0])
	if code != 0 || !strings.Contains(out, "node node-0 runs no task") || !strings.Contains(out, "deregistered from cluster "+cluster) ||
		!strings.Contains(out, "managed instance "+mi[0]+" deregistered from SSM") || !strings.Contains(out, "sudo rm -rf /var/lib/ecs") {
		t.Errorf("retire: exit %d\n%s", code, out)
	}
	left, err := e.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String(cluster)})
	if err != nil || len(left.ContainerInstanceArns) != 1 || left.ContainerInstanceArns[0] != cis[1] || a.Instances[mi[0]] != nil || len(a.Instances) != 2 {
		t.Errorf("after retire: container instances %v (%v), managed instances %d", left.ContainerInstanceArns, err, len(a.Instances))
	}
	// The last node, running a task: refused without --force, nothing changed.
	start(cis[1])
	code, out = node("retire", "--site", "factory", "node-1")
	if code != 2 || !strings.Contains(out, "has no other connected ACTIVE node") || a.Instances[mi[1]] == nil {
		t.Errorf("retire the last node: exit %d\n%s", code, out)
	}
	// Drain: DRAINING, and a bounded wait that says what is left.
	code, out = node("drain", "--site", "factory", "--wait", "1s", "node-1")
	if code != 2 || !strings.Contains(out, "is DRAINING") || !strings.Contains(out, "still runs 1 task(s) after 1s") || !strings.Contains(out, "it stays DRAINING") {
		t.Errorf("drain: exit %d\n%s", code, out)
	}
	if code, out := node("drain", "--site", "factory", "nobody"); code != 2 || !strings.Contains(out, `site factory has no node "nobody": give a host name, managed instance id or container instance id of node-1 (`+mi[1]+")") {
		t.Errorf("drain an unknown node: exit %d\n%s", code, out)
	}
}

// motoInstance runs an EC2 instance in moto_server (EC2's query API; the
// project links no EC2 client) and returns its id.
func motoInstance(t *testing.T, m *sqspeer.Peer) string {
	t.Helper()
	form := url.Values{"Action": {"RunInstances"}, "ImageId": {"ami-12c6146b"}, "MinCount": {"1"}, "MaxCount": {"1"}, "Version": {"2016-11-15"}}
	req, err := http.NewRequest(http.MethodPost, m.URL()+"/", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/"+sqspeer.Region+"/ec2/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	id := regexp.MustCompile(`<instanceId>(i-[0-9a-f]+)</instanceId>`).FindSubmatch(body)
	if id == nil {
		t.Fatalf("moto RunInstances: %s", body)
	}
	return string(id[1])
}

// fleet node update-agents against moto, whose agents never change
// version: the first node below AWS's recommended version is drained (its
// task stopped by ECS), the ecs-init update sent through Run Command, the
// node made ACTIVE again, and since its agent is still the same version
// the rollout fails there and says so, the node ACTIVE; a failed update
// stops the rollout with the node DRAINING; a version below the site's
// minimum is refused. (The rollout where versions change: package nodes.)
func TestNodeUpdateAgentsChecksTheVersion(t *testing.T) {
	ns := newNodeSite(t, "NodeUp")
	ns.a.Parameters[nodes.RecommendedParameter] = `{"ecs_agent_version":"1.89.1","image_id":"ami-0123456789abcdef0"}`
	ctx := context.Background()
	task := ns.start(ns.cis[0])
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, _ = ns.e.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String("NodeUp-factory"), Task: aws.String(task)})
	}()
	code, out := ns.node("update-agents", "--site", "factory", "--wait", "20s")
	if code != 2 || !strings.Contains(out, "node node-0 runs no task") || !strings.Contains(out, "ecs-init package installed") ||
		!strings.Contains(out, "node node-0's ECS agent is still 1.0.0 after the update") || !strings.Contains(out, "it is ACTIVE") || !strings.Contains(out, "the rollout stopped after 0 node(s)") {
		t.Fatalf("update-agents on an agent that did not change: exit %d\n%s", code, out)
	}
	sent := ns.a.Calls(fakeaws.SendCommand)
	if len(sent) != 1 || !strings.Contains(fmt.Sprint(sent[0]), "AWS-RunShellScript") || !strings.Contains(fmt.Sprint(sent[0]), "amazon-ecs-init-latest") || !strings.Contains(fmt.Sprint(sent[0]), ns.mi[0]) {
		t.Errorf("commands sent: %v", sent)
	}
	states, err := ns.e.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: aws.String("NodeUp-factory"), ContainerInstances: ns.cis})
	if err != nil || aws.ToString(states.ContainerInstances[0].Status) != "ACTIVE" || aws.ToString(states.ContainerInstances[1].Status) != "ACTIVE" {
		t.Errorf("after the failed rollout the nodes must be ACTIVE: %v", err)
	}
	ns.a.On(fakeaws.GetCommandInvocation, fakeaws.Reply{Status: 200, Body: `{"Status":"Failed","StandardErrorContent":"the signature of amazon-ecs-init-latest.amd64.deb does not verify"}`})
	code, out = ns.node("update-agents", "--site", "factory", "--wait", "5s")
	if code != 2 || !strings.Contains(out, "the update on node node-0 ended Failed") || !strings.Contains(out, "does not verify") || !strings.Contains(out, "it stays DRAINING") ||
		len(ns.a.Calls(fakeaws.SendCommand)) != 2 {
		t.Errorf("a failed update: exit %d, %d commands\n%s", code, len(ns.a.Calls(fakeaws.SendCommand)), out)
	}
	code, out = ns.node("update-agents", "--site", "factory", "--ecs-version", "1.50.0")
	if code != 2 || !strings.Contains(out, "--ecs-version 1.50.0 is older than "+fleetmanagercontract.MinECSAgent) || len(ns.a.Calls(fakeaws.SendCommand)) != 2 {
		t.Errorf("a version below the minimum: exit %d\n%s", code, out)
	}
}

// A retire that fails half-way says what is left, and running it again
// finishes: SSM refuses the managed instance's deregistration once (the
// node is already out of the ECS cluster), the second run deregisters it.
func TestNodeRetireHalfDoneThenFinished(t *testing.T) {
	ns := newNodeSite(t, "NodePart")
	ns.a.On(fakeaws.DeregisterManagedInstance, fakeaws.Reply{Status: 400, Body: `{"__type":"InternalServerError","message":"try again"}`})
	code, out := ns.node("retire", "--site", "factory", "--wait", "5s", "node-1")
	if code != 2 || !strings.Contains(out, "deregistered from cluster NodePart-factory") || !strings.Contains(out, "it is out of the ECS cluster, still registered with SSM (run this again)") || ns.a.Instances[ns.mi[1]] == nil {
		t.Fatalf("half-done retire: exit %d\n%s", code, out)
	}
	code, out = ns.node("retire", "--site", "factory", "node-1")
	if code != 0 || !strings.Contains(out, "managed instance "+ns.mi[1]+" deregistered from SSM") || ns.a.Instances[ns.mi[1]] != nil || strings.Contains(out, "DRAINING") {
		t.Errorf("the second run: exit %d\n%s", code, out)
	}
}

// Nodes are named by their host names: a batch's machines share the
// activation's default name, and three of them list as three; a node is
// found by host name, managed instance id or container instance id.
func TestNodesAreNamedByHostName(t *testing.T) {
	ns := newNodeSite(t, "NodeNames")
	ctx := context.Background()
	third := motoInstance(t, shared)
	if _, err := ns.e.RegisterContainerInstance(ctx, &ecs.RegisterContainerInstanceInput{Cluster: aws.String("NodeNames-factory"),
		InstanceIdentityDocument: aws.String(fmt.Sprintf(`{"instanceId":%q,"region":"%s"}`, third, sqspeer.Region))}); err != nil {
		t.Fatal(err)
	}
	ns.a.Instances[third] = &fakeaws.Instance{ID: third, Tags: map[string]string{"stretched:stack": "NodeNames-Anywhere-factory"}}
	for i, id := range append(ns.mi, third) {
		ns.a.Instances[id].Name, ns.a.Instances[id].ComputerName = "factory", fmt.Sprintf("rack1-pi-%d", i)
	}
	code, out := ns.node("list", "--site", "factory")
	if code > 1 {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
	for i := range 3 {
		if strings.Count(out, fmt.Sprintf("rack1-pi-%d ", i)) != 1 {
			t.Errorf("node rack1-pi-%d is not listed once:\n%s", i, out)
		}
	}
	code, out = ns.node("drain", "--site", "factory", "--wait", "2s", "rack1-pi-2")
	if code != 0 || !strings.Contains(out, "node rack1-pi-2 ("+third+") is DRAINING") {
		t.Errorf("drain by host name: exit %d\n%s", code, out)
	}
	ci := ns.cis[1][strings.LastIndex(ns.cis[1], "/")+1:]
	if code, out = ns.node("drain", "--site", "factory", "--wait", "2s", ci); code != 0 || !strings.Contains(out, "node rack1-pi-1 ("+ns.mi[1]+") is DRAINING") {
		t.Errorf("drain by container instance id: exit %d\n%s", code, out)
	}
	if code, out = ns.node("drain", "--site", "factory", "factory"); code != 2 || !strings.Contains(out, `3 nodes of site factory are named "factory"`) {
		t.Errorf("the shared registration name must not pick a node: exit %d\n%s", code, out)
	}
}

// Retire is idempotent: a node SSM already forgot is deregistered from ECS
// and done; a node already gone, named by its id, is done; a first-version
// node without the stack tag gets the command that tags it.
func TestNodeRetireWhatIsGoneIsDone(t *testing.T) {
	ns := newNodeSite(t, "NodeGone")
	delete(ns.a.Instances, ns.mi[1])
	code, out := ns.node("retire", "--site", "factory", "--wait", "5s", ns.mi[1])
	if code != 0 || !strings.Contains(out, "deregistered from cluster NodeGone-factory") || !strings.Contains(out, "managed instance "+ns.mi[1]+" was already gone from SSM") ||
		!strings.Contains(out, "docker ps -aq --filter label=com.amazonaws.ecs.cluster=NodeGone-factory") {
		t.Fatalf("retire a node SSM forgot: exit %d\n%s", code, out)
	}
	if code, out = ns.node("retire", "--site", "factory", ns.mi[1]); code != 0 || !strings.Contains(out, "already retired, nothing to do") {
		t.Errorf("retire again: exit %d\n%s", code, out)
	}
	if code, out = ns.node("retire", "--site", "factory", "rack9"); code != 2 || !strings.Contains(out, `site factory has no node "rack9"`) {
		t.Errorf("a name not found is not done (it may be a typo): exit %d\n%s", code, out)
	}
	// node-0 joined before activations were tagged: SSM lists it under no
	// site, and the operator's policy refuses its deregistration.
	ns.a.Instances[ns.mi[0]].Tags = map[string]string{}
	ns.a.On(fakeaws.DeregisterManagedInstance, fakeaws.Reply{Status: 400, Body: `{"__type":"AccessDeniedException","message":"not authorized to perform: ssm:DeregisterManagedInstance"}`})
	code, out = ns.node("retire", "--site", "factory", "--force", "--wait", "2s", ns.mi[0])
	if code != 2 || !strings.Contains(out, "aws ssm add-tags-to-resource --resource-type ManagedInstance --resource-id "+ns.mi[0]+" --tags Key=stretched:stack,Value=NodeGone-Anywhere-factory") {
		t.Errorf("an untagged node: exit %d\n%s", code, out)
	}
}

// Each command's help lists its own flags, a flag of another command is
// refused, and the command's deadline follows --wait.
func TestCommandsHaveTheirOwnFlagsAndDeadlines(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"node", "drain", "-h"}, &out, &errOut); code != exitError ||
		!strings.Contains(errOut.String(), "--wait") || strings.Contains(errOut.String(), "--proxy") || strings.Contains(errOut.String(), "--location") {
		t.Errorf("node drain -h: exit %d\n%s", code, errOut.String())
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"node", "drain", "--proxy", "http://p:1", "--site", "x", "n"}, &out, &errOut); code != exitError ||
		!strings.Contains(errOut.String(), "--proxy does not apply to this command") {
		t.Errorf("a flag of another command: exit %d\n%s", code, errOut.String())
	}
	for _, tc := range []struct {
		cmd  string
		wait time.Duration
		min  time.Duration
	}{{"node drain", 3 * time.Minute, 3 * time.Minute}, {"node drain", 10 * time.Minute, 10 * time.Minute}, {"node retire", time.Hour, time.Hour}, {"node update-agents", 10 * time.Minute, 3 * 10 * time.Minute}} {
		if got := commandTimeout(tc.cmd, tc.wait); got <= tc.min {
			t.Errorf("%s --wait %s: the command's deadline is %s, want more than %s", tc.cmd, tc.wait, got, tc.min)
		}
	}
}

// An unreachable endpoint is said as such, not as a wrong site name; a
// wrong site name lists the sites; node list without --site on a site
// operator's credentials says to give --site.
func TestNodeCommandErrorsSayWhatIsWrong(t *testing.T) {
	setAWSEnv(t, map[string]string{"AWS_ENDPOINT_URL_SSM": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_ECS": "http://127.0.0.1:1"})
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"node", "drain", "--site", "factory", "n"}, &out, &errOut); code != exitError ||
		!strings.Contains(errOut.String(), "cannot reach AWS in region "+sqspeer.Region) || strings.Contains(errOut.String(), "not a site") {
		t.Errorf("unreachable SSM: exit %d\n%s", code, errOut.String())
	}
	a := fakeaws.New(t)
	setAWSEnv(t, map[string]string{"AWS_ENDPOINT_URL_SSM": a.URL, "AWS_ENDPOINT_URL_ECS": a.URL})
	a.Parameters["/Err/sites/factory"] = `{"site":"factory","cluster":"Err-factory","stack":"Err-Anywhere-factory"}`
	a.Parameters["/Err/sites/lab"] = `{"site":"lab","cluster":"Err-lab","stack":"Err-Anywhere-lab"}`
	errOut.Reset()
	if code := run(context.Background(), []string{"node", "drain", "--prefix", "Err", "--site", "fatcory", "n"}, &out, &errOut); code != exitError ||
		!strings.Contains(errOut.String(), `"fatcory" is not a site of this app (--prefix Err, region `+sqspeer.Region+`): the sites are factory, lab`) {
		t.Errorf("a wrong site: exit %d\n%s", code, errOut.String())
	}
	a.On(fakeaws.GetParametersByPath, fakeaws.Reply{Status: 400, Body: `{"__type":"AccessDeniedException","message":"not authorized to perform: ssm:GetParametersByPath"}`})
	errOut.Reset()
	if code := run(context.Background(), []string{"node", "list", "--prefix", "Err"}, &out, &errOut); code != exitError || !strings.Contains(errOut.String(), "give --site SITE") {
		t.Errorf("node list without --site, denied: exit %d\n%s", code, errOut.String())
	}
}
