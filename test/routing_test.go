package test

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	routercontract "github.com/ecs-anywhere-stretched/stretched/constructs/router/contract"
	"github.com/ecs-anywhere-stretched/stretched/constructs/workerspec"
)

// firstQueues are the logical ids the first version gave the one work queue
// and its dead-letter queue: the region's queue keeps them, so an upgrade
// updates the queue in place and keeps its messages.
// firstQueues are the logical ids the first version gave the one queue and
// its dead-letter queue: deployed stacks hold messages in them, so they are
// API (TestUpgradeKeepsTheQueue), and the region's queue keeps them.
var firstQueues = []string{"WorkQueueAD162499", "WorkQueueDeadLetterQueueF71CA21F"}

// replacing are the queue properties whose change replaces a queue.
var replacing = []string{"QueueName", "FifoQueue"}

func TestUpgradeKeepsTheQueue(t *testing.T) {
	for _, s := range []*synthesized{regional(t), variant["Variant-Regional"], pinned["Pinned-Regional"]} {
		queues := resources(s, "AWS::SQS::Queue")
		for _, id := range firstQueues {
			q, ok := queues[id]
			if !ok {
				t.Errorf("%s: the queue %s of the first version is gone: an upgrade would replace it and lose its messages", s.name, id)
				continue
			}
			for _, p := range replacing {
				if _, set := props(q)[p]; set {
					t.Errorf("%s: %s sets %s: a change there replaces the queue", s.name, id, p)
				}
			}
		}
	}
}

func TestEveryLocationHasItsOwnQueue(t *testing.T) {
	s, a := regional(t), anywhere(t)
	// The region's pair and the unrouted queue in the regional stack; the
	// site's pair in its own stack, under the same ids.
	if n, m := len(resources(s, "AWS::SQS::Queue")), len(resources(a, "AWS::SQS::Queue")); n != 3 || m != 2 {
		t.Fatalf("want 3 queues in the regional stack (the region's and its dead-letter queue, unrouted) and 2 in the site's, got %d and %d", n, m)
	}
	w := newWorld(all)
	appKey := fmt.Sprint(w.resolve(s, map[string]any{"Fn::GetAtt": []any{logicalID(t, s, "AWS::KMS::Key", "Key"), "Arn"}}))
	for _, st := range []*synthesized{s, a} {
		queues := resources(st, "AWS::SQS::Queue")
		p := props(queues[firstQueues[0]])
		if jsonOf(p["RedrivePolicy"]) != `{"deadLetterTargetArn":{"Fn::GetAtt":["`+firstQueues[1]+`","Arn"]},"maxReceiveCount":5}` || p["VisibilityTimeout"] != float64(60) {
			t.Errorf("%s: %s must redrive to %s after 5 receives, visibility 60 s: %s", st.name, firstQueues[0], firstQueues[1], jsonOf(p))
		}
		for id, q := range queues {
			if key := fmt.Sprint(w.resolve(st, props(q)["KmsMasterKeyId"])); key != appKey {
				t.Errorf("%s: queue %s is encrypted with %s, want the app's key %s", st.name, id, key, appKey)
			}
			tlsOnly := false
			for _, qp := range resources(st, "AWS::SQS::QueuePolicy") {
				if slices.Contains(list(jsonList(props(qp)["Queues"])), id) {
					for _, stmt := range statementsOf(props(qp)["PolicyDocument"].(map[string]any)) {
						tlsOnly = tlsOnly || stmt["Effect"] == "Deny" && jsonOf(stmt["Condition"]) == `{"Bool":{"aws:SecureTransport":"false"}}`
					}
				}
			}
			if !tlsOnly {
				t.Errorf("%s: queue %s does not refuse requests without TLS", st.name, id)
			}
			// Removing a site, or destroying its stack, never deletes its
			// messages; nor does anything delete the unrouted ones.
			if st == a || strings.HasPrefix(id, "EntryUnrouted") {
				if r := resourceOf(st, id); r["DeletionPolicy"] != "Retain" || r["UpdateReplacePolicy"] != "Retain" {
					t.Errorf("%s: %s must be retained: %v %v", st.name, id, r["DeletionPolicy"], r["UpdateReplacePolicy"])
				}
			}
		}
	}
	// Shared work: one queue pair, no entry.
	v := variant["Variant-Regional"]
	if n := len(resources(v, "AWS::SQS::Queue")); n != 2 {
		t.Errorf("shared work keeps one queue and its dead-letter queue, got %d queues", n)
	}
	if n := len(resourcesWithPrefix(v, "AWS::SNS::Topic", "Entry")); n != 0 {
		t.Errorf("shared work has no entry topic, got %d", n)
	}
}

// jsonList turns a list of {"Ref": id} into the ids.
func jsonList(v any) any {
	var out []any
	for _, e := range asList(v) {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m["Ref"])
		}
	}
	return out
}

func TestEachWorkerConsumesItsLocationsQueue(t *testing.T) {
	s, a := regional(t), anywhere(t)
	queueOf := func(st *synthesized) any {
		td := only(t, st, "AWS::ECS::TaskDefinition")
		for _, e := range asList(asList(td["ContainerDefinitions"])[0].(map[string]any)["Environment"]) {
			if em := e.(map[string]any); em["Name"] == "SQS_QUEUE_URL" {
				return em["Value"]
			}
		}
		return nil
	}
	w := newWorld(all)
	region := fmt.Sprint(w.resolve(s, queueOf(s)))
	site := fmt.Sprint(w.resolve(a, queueOf(a)))
	if region != fmt.Sprint(w.ref(s, firstQueues[0])) {
		t.Errorf("the region's worker consumes %s, want the region's queue", region)
	}
	if site != fmt.Sprint(w.ref(a, firstQueues[0])) || site == region {
		t.Errorf("the site's worker consumes %s, want the site's queue", site)
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(fmt.Sprint(w.resolve(a, props(resourceOf(a, logicalID(t, a, "AWS::SSM::Parameter", "AgentEntry")))["Value"]))), &entry); err != nil {
		t.Fatalf("the site's directory entry is not JSON: %v", err)
	}
	if got := fmt.Sprint(entry["queueUrl"]); got != site {
		t.Errorf("the site agent scales on %s, want the site's queue %s", got, site)
	}
	// The region scales on its own queue.
	for id, alarm := range resources(s, "AWS::CloudWatch::Alarm") {
		if slices.Contains([]string{"WorkerScalingTargetOnQueueLowerAlarm", "WorkerScalingTargetOnQueueUpperAlarm"}, id[:len(id)-8]) {
			if d := jsonOf(props(alarm)["Dimensions"]); d != `[{"Name":"QueueName","Value":{"Fn::GetAtt":["`+firstQueues[0]+`","QueueName"]}}]` {
				t.Errorf("regional scaling alarm %s reads %s, want the region's queue", id, d)
			}
		}
	}
}

// TestTaskDefinitionsDifferOnlyInTheQueue: both workers are made from the one
// spec; between the region's container and a site's, only the queue (and
// the log stream prefix that tells the sides apart) may differ, and the
// site's restart policy (TestExternalTaskDefinitionFromSameSpec: ECS on a
// node restarts the worker while the link is down; Fargate replaces tasks).
func TestTaskDefinitionsDifferOnlyInTheQueue(t *testing.T) {
	container := func(st *synthesized) map[string]any {
		td := only(t, st, "AWS::ECS::TaskDefinition")
		raw, _ := json.Marshal(asList(td["ContainerDefinitions"])[0])
		var c map[string]any
		_ = json.Unmarshal(raw, &c)
		var env []any
		for _, e := range asList(c["Environment"]) {
			if e.(map[string]any)["Name"] != "SQS_QUEUE_URL" {
				env = append(env, e)
			}
		}
		c["Environment"] = env
		delete(c, "RestartPolicy")
		opts := c["LogConfiguration"].(map[string]any)["Options"].(map[string]any)
		delete(opts, "awslogs-stream-prefix")
		return c
	}
	for _, pair := range [][2]*synthesized{{regional(t), anywhere(t)}, {variant["Variant-Regional"], variant["Variant-Anywhere-factory"]}} {
		w := newWorld(all)
		r, a := w.resolve(pair[0], container(pair[0])), w.resolve(pair[1], container(pair[1]))
		if !reflect.DeepEqual(r, a) {
			t.Errorf("%s and %s differ beyond the queue:\n%s\n%s", pair[0].name, pair[1].name, jsonOf(r), jsonOf(a))
		}
	}
	// Both log without blocking, with a bounded buffer.
	for _, st := range []*synthesized{regional(t), anywhere(t)} {
		opts := container(st)["LogConfiguration"].(map[string]any)["Options"].(map[string]any)
		if opts["mode"] != "non-blocking" || opts["max-buffer-size"] != fmt.Sprintf("%db", workerspec.LogBufferMiB<<20) {
			t.Errorf("%s: awslogs must be non-blocking with a %d MiB buffer: %v", st.name, workerspec.LogBufferMiB, opts)
		}
	}
}

func TestEntryRoutesByLocation(t *testing.T) {
	s, a := regional(t), anywhere(t)
	w := newWorld(all)
	topic := logicalID(t, s, "AWS::SNS::Topic", "EntryTopic")
	topicArn := fmt.Sprint(w.ref(s, topic))
	queueArn := func(st *synthesized, id string) string { return fmt.Sprint(w.getAtt(st, id, "Arn")) }
	want := map[string]string{ // subscription endpoint (queue ARN) -> filter
		queueArn(s, firstQueues[0]):                                      jsonOf(routercontract.LocationFilter("region")),
		queueArn(a, firstQueues[0]):                                      jsonOf(routercontract.LocationFilter("onprem")),
		queueArn(s, logicalID(t, s, "AWS::SQS::Queue", "EntryUnrouted")): jsonOf(routercontract.UnroutedFilter([]string{"onprem", "region"})),
	}
	got := map[string]string{}
	// The site's queue subscribes from the site's stack.
	for _, st := range []*synthesized{s, a} {
		for id, sub := range resources(st, "AWS::SNS::Subscription") {
			p := props(sub)
			if fmt.Sprint(w.resolve(st, p["TopicArn"])) != topicArn {
				continue
			}
			if p["Protocol"] != "sqs" || p["RawMessageDelivery"] != true {
				t.Errorf("subscription %s must deliver raw to SQS: %s", id, jsonOf(p))
			}
			got[fmt.Sprint(w.resolve(st, p["Endpoint"]))] = jsonOf(p["FilterPolicy"])
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("subscriptions by queue:\n got %v\nwant %v", got, want)
	}
	tp := props(resourceOf(s, topic))
	if tp["KmsMasterKeyId"] == nil {
		t.Errorf("the entry topic must be KMS encrypted")
	}
	outs, _ := s.template["Outputs"].(map[string]any)
	for _, k := range []string{"EntryTopicArn", "EntryTopicArns", "UnroutedQueueUrl", "ProducerPolicyArn", "QueueUrl", "SiteDirectory", "Work"} {
		if outs[k] == nil {
			t.Errorf("output %s is missing", k)
		}
	}
	// A site's queue URLs are in its directory entry: no output per site.
	for _, k := range []string{"QueueUrlOnprem", "DeadLetterQueueUrlOnprem"} {
		if outs[k] != nil {
			t.Errorf("output %s: the regional stack has no output per site", k)
		}
	}
	if v := outs["SiteDirectory"].(map[string]any)["Value"]; v != "/EcsWorker/sites" {
		t.Errorf("SiteDirectory output %v, want /EcsWorker/sites", v)
	}
}
