package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/ecs-anywhere-stretched/stretched/testkit/fakeaws"
)

func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		current, backlog, min, max, want int
		why                              string
	}{
		{1, 0, 1, 3, 1, "idle at the minimum"},
		{1, 250, 1, 3, 3, "grows at once to what the backlog needs"},
		{1, 5000, 1, 3, 3, "never above the maximum: a site's capacity is fixed"},
		{3, 0, 1, 3, 2, "shrinks one task a run"},
		{3, 150, 0, 3, 2, "shrinks towards what the backlog needs"},
		{1, 0, 0, 3, 0, "down to a minimum of 0"},
		{0, 1, 0, 3, 1, "from 0 as soon as one message waits"},
		{5, 0, 1, 3, 3, "back inside the bounds after they were lowered"},
		{0, 0, 2, 3, 2, "up to the minimum"},
	} {
		if got := Decide(tc.current, tc.backlog, tc.min, tc.max, 100); got != tc.want {
			t.Errorf("%s: Decide(current %d, backlog %d, %d..%d) = %d, want %d", tc.why, tc.current, tc.backlog, tc.min, tc.max, got, tc.want)
		}
	}
}

const (
	cluster  = "ecsAnywhereCluster"
	service  = "ecsworker-external"
	queueURL = "https://sqs.eu-west-1.amazonaws.com/123456789012/WorkQueue"
)

type env struct {
	aws   *fakeaws.Fake
	agent *Scaler
	log   *bytes.Buffer
}

func newEnv(t *testing.T, desired, running, visible, inFlight int) *env {
	e := &env{aws: fakeaws.New(t), log: &bytes.Buffer{}}
	cfg := e.aws.Config()
	a := Scaler{Cluster: cluster, Service: service, QueueURL: queueURL, MinTasks: 1, MaxTasks: 4, BacklogPerTask: 100}
	a.ECS, a.SQS = ecs.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	a.Log = slog.New(slog.NewJSONHandler(e.log, nil))
	e.agent = &a
	e.aws.Services[fakeaws.ServiceKey(cluster, service)] = &fakeaws.Service{Desired: desired, Running: running}
	e.aws.Queues[queueURL] = &fakeaws.Queue{Visible: visible, InFlight: inFlight}
	for i := range 3 {
		arn := fmt.Sprintf("arn:aws:ecs:eu-west-1:123456789012:container-instance/%s/%032x", cluster, i+1)
		e.aws.ContainerInstances[cluster] = append(e.aws.ContainerInstances[cluster], arn)
		e.aws.Disconnected[arn] = i == 2
	}
	return e
}

// state is the one "site state" line a run logged.
func (e *env) state(t *testing.T) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(e.log.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %v", err)
		}
		if m["msg"] == "site state" {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one site state line, got %q", e.log.String())
	}
	return found[0]
}

func TestRunScalesOutAndLogsTheSiteState(t *testing.T) {
	e := newEnv(t, 1, 1, 180, 60)
	r, err := e.agent.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := e.aws.Services[fakeaws.ServiceKey(cluster, service)].Desired; got != 3 || r.NewDesired != 3 {
		t.Errorf("a backlog of 240 at 100 per task needs 3 tasks, desired is %d", got)
	}
	m := e.state(t)
	for k, v := range map[string]float64{"connectedNodes": 2, "disconnectedNodes": 1, "desiredTasks": 3, "runningTasks": 1, "visible": 180, "inFlight": 60} {
		if m[k] != v {
			t.Errorf("%s = %v, want %v (line %v)", k, m[k], v, m)
		}
	}
	if !r.NodeDisconnected() || !r.TasksBelowDesired() || r.Offline() {
		t.Errorf("2 connected, 1 disconnected, 1 of 3 tasks running: want node disconnected and tasks below desired, not offline: %+v", r)
	}
}

func TestRunLeavesASteadyCountAlone(t *testing.T) {
	e := newEnv(t, 2, 2, 150, 0)
	if _, err := e.agent.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(e.aws.Calls(fakeaws.UpdateService)); n != 0 {
		t.Errorf("desired count already right: %d UpdateService calls", n)
	}
}

func TestQueueFailureStillLogsTheNodes(t *testing.T) {
	e := newEnv(t, 1, 1, 0, 0)
	e.aws.On(fakeaws.GetQueueAttributes, fakeaws.Reply{Status: 400, Body: `{"__type":"com.amazonaws.sqs#AccessDenied","message":"not authorized"}`})
	r, err := e.agent.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "read the backlog of queue") {
		t.Fatalf("error %v", err)
	}
	m := e.state(t)
	if m["disconnectedNodes"] != float64(1) || m["desiredTasks"] != nil || r.TasksBelowDesired() || !r.NodeDisconnected() {
		t.Errorf("the nodes must still be logged and counted, the tasks not guessed: %v %+v", m, r)
	}
}

func TestNodeFailureGuessesNoNodes(t *testing.T) {
	e := newEnv(t, 1, 1, 0, 0)
	e.aws.On(fakeaws.ListContainerInstances, fakeaws.Reply{Status: 400, Body: `{"__type":"AccessDeniedException","message":"not authorized"}`})
	_, err := e.agent.Run(context.Background())
	if err == nil {
		t.Fatal("a failure to list the nodes must be returned")
	}
	m := e.state(t)
	if _, ok := m["disconnectedNodes"]; ok {
		t.Errorf("the nodes must not be guessed: %v", m)
	}
	if m["desiredTasks"] != float64(1) {
		t.Errorf("the tasks must still be logged: %v", m)
	}
}

func TestBadDirectoryEntry(t *testing.T) {
	err := Site{MinTasks: 5, MaxTasks: 2, BacklogPerTask: 0}.validate()
	for _, want := range []string{"site is empty", "cluster is empty", "service is empty", "queueUrl is empty",
		"minTasks is 5: must not exceed maxTasks (2)", "backlogPerTask is 0: must be at least 1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	// The same bounds as the configuration's: at most 1000 tasks.
	if err := (Site{Name: "a", Cluster: "c", Service: "s", QueueURL: "q", MinTasks: 0, MaxTasks: 1001, BacklogPerTask: 1}).validate(); err == nil || !strings.Contains(err.Error(), "maxTasks is 1001") {
		t.Errorf("maxTasks 1001: %v", err)
	}
}

// TestOverlappingRunsAreSafe: with no reserved concurrency two runs may
// overlap (a minute's tick and a node's state change). Each sets the
// desired count from what it read, within the bounds; neither reads it back
// to add to it, so overlapping runs never leave the service outside the
// bounds or below what the backlog needs, and agree when they scale out.
func TestOverlappingRunsAreSafe(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		desired, visible, floor int
	}{
		{"scale out", 1, 240, 3},
		{"scale in", 4, 0, 1},
		{"steady", 2, 150, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for round := range 20 {
				e := newEnv(t, tc.desired, tc.desired, tc.visible, 0)
				second := *e.agent
				errs := make(chan error, 2)
				for _, a := range []*Scaler{e.agent, &second} {
					go func() { _, err := a.Run(context.Background()); errs <- err }()
				}
				for range 2 {
					if err := <-errs; err != nil {
						t.Fatalf("round %d: %v", round, err)
					}
				}
				for _, call := range e.aws.Calls(fakeaws.UpdateService) {
					if n, _ := call["desiredCount"].(float64); n < 1 || n > 4 {
						t.Fatalf("round %d: an overlapping run set %v tasks, outside 1..4", round, n)
					}
				}
				got := e.aws.Services[fakeaws.ServiceKey(cluster, service)].Desired
				if got < tc.floor || got > 4 {
					t.Fatalf("round %d: desired %d after two overlapping runs, want %d..4 (backlog %d at 100 per task)", round, got, tc.floor, tc.visible)
				}
				if tc.visible > 0 && got != tc.floor {
					t.Fatalf("round %d: two runs that read the same backlog set %d, want %d", round, got, tc.floor)
				}
			}
		})
	}
}

// TestOfflineSiteGetsNoMoreTasks: with every node disconnected nothing can be
// placed, so a backlog does not raise the desired count; once a node is
// back it does.
func TestOfflineSiteGetsNoMoreTasks(t *testing.T) {
	e := newEnv(t, 1, 0, 300, 0)
	for arn := range e.aws.Disconnected {
		e.aws.Disconnected[arn] = true
	}
	r, err := e.agent.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := e.aws.Services[fakeaws.ServiceKey(cluster, service)].Desired; got != 1 || r.NewDesired != 1 || len(e.aws.Calls(fakeaws.UpdateService)) != 0 {
		t.Errorf("an offline site with a backlog of 300: desired %d, want it left at 1", got)
	}
	for arn := range e.aws.Disconnected {
		e.aws.Disconnected[arn] = false
		break
	}
	if _, err := e.agent.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := e.aws.Services[fakeaws.ServiceKey(cluster, service)].Desired; got != 3 {
		t.Errorf("a node back: desired %d, want 3 for a backlog of 300", got)
	}
}
