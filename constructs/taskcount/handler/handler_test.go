package handler

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ecs-anywhere-stretched/stretched/testkit/fakeaws"
)

const (
	cluster = "factoryCluster"
	family  = "ecsworker-external"
)

func td(family string, rev int) string {
	return fmt.Sprintf("arn:aws:ecs:eu-west-1:123456789012:task-definition/%s:%d", family, rev)
}

func run(t *testing.T, f *fakeaws.Fake, e cfn.Event) (string, map[string]any, error, string) {
	t.Helper()
	var logs bytes.Buffer
	h := &Handler{ECS: ecs.NewFromConfig(f.Config())}
	if e.ResourceProperties == nil {
		e.ResourceProperties = map[string]any{"ClusterName": cluster, "Family": family, "TaskDefinition": td(family, 3)}
	}
	e.LogicalResourceID, e.RequestID = "WorkerTaskCount", "req-1"
	id, data, err := h.Function(slog.New(slog.NewJSONHandler(&logs, nil)))(context.Background(), e)
	return id, data, err, logs.String()
}

func TestANewSiteStartsWithNoTasks(t *testing.T) {
	f := fakeaws.New(t)
	id, data, err, logs := run(t, f, cfn.Event{RequestType: cfn.RequestCreate})
	if err != nil {
		t.Fatal(err)
	}
	if data["DesiredCount"] != "0" {
		t.Errorf("a site with no service yet must create it with 0 tasks (CloudFormation would wait for a node), got %v", data)
	}
	if id != "task-count-of:"+cluster {
		t.Errorf("physical id %q", id)
	}
	if !strings.Contains(logs, "created with 0 tasks") {
		t.Errorf("logs do not say why 0: %s", logs)
	}
}

// TestADeployKeepsTheCountTheAgentChose: the count the service is updated
// with is the one it has, so a deploy never resets the site agent's choice.
func TestADeployKeepsTheCountTheAgentChose(t *testing.T) {
	f := fakeaws.New(t)
	f.Services[fakeaws.ServiceKey(cluster, "Anywhere-WorkerService-abc")] = &fakeaws.Service{Desired: 3, Running: 3, TaskDefinition: td(family, 2)}
	// Another service in the cluster, and one being drained: not ours.
	f.Services[fakeaws.ServiceKey(cluster, "someone-elses")] = &fakeaws.Service{Desired: 9, TaskDefinition: td("other", 1)}
	f.Services[fakeaws.ServiceKey(cluster, "old")] = &fakeaws.Service{Desired: 7, TaskDefinition: td(family, 1), Status: "DRAINING"}
	id, data, err, _ := run(t, f, cfn.Event{RequestType: cfn.RequestUpdate, PhysicalResourceID: "task-count-of:" + cluster})
	if err != nil {
		t.Fatal(err)
	}
	if data["DesiredCount"] != "3" || id != "task-count-of:"+cluster {
		t.Errorf("update must answer the service's own count 3 under the same id, got %v %q", data, id)
	}
}

func TestTheServiceIsFoundAmongManyPages(t *testing.T) {
	f := fakeaws.New(t)
	f.PageSize = 4
	for i := range 23 {
		f.Services[fakeaws.ServiceKey(cluster, fmt.Sprintf("svc-%02d", i))] = &fakeaws.Service{Desired: 1, TaskDefinition: td(fmt.Sprintf("f%d", i), 1)}
	}
	f.Services[fakeaws.ServiceKey(cluster, "svc-99")] = &fakeaws.Service{Desired: 2, TaskDefinition: td(family, 8)}
	n, name, err := Current(context.Background(), ecs.NewFromConfig(f.Config()), cluster, family)
	if err != nil || n != 2 || name != "svc-99" {
		t.Fatalf("Current = %d %q %v, want 2 svc-99", n, name, err)
	}
	if calls := len(f.Calls(fakeaws.DescribeServices)); calls != 3 {
		t.Errorf("24 services take 3 DescribeServices calls of at most 10, made %d", calls)
	}
}

// TestAStackUpgradeKeepsTheCount: a stack made before this resource existed
// gets it by Create while its service runs; the service keeps its count.
func TestAStackUpgradeKeepsTheCount(t *testing.T) {
	f := fakeaws.New(t)
	f.Services[fakeaws.ServiceKey(cluster, "Anywhere-WorkerService-abc")] = &fakeaws.Service{Desired: 2, TaskDefinition: td(family, 5)}
	_, data, err, _ := run(t, f, cfn.Event{RequestType: cfn.RequestCreate})
	if err != nil || data["DesiredCount"] != "2" {
		t.Fatalf("got %v %v, want 2", data, err)
	}
}

func TestFailuresAreReportedAndDeleteDoesNothing(t *testing.T) {
	f := fakeaws.New(t)
	f.On(fakeaws.ListServices, fakeaws.Reply{Status: 400, Body: `{"__type":"AccessDeniedException","message":"not authorized to perform ecs:ListServices"}`})
	_, _, err, _ := run(t, f, cfn.Event{RequestType: cfn.RequestUpdate, PhysicalResourceID: "task-count-of:" + cluster})
	if err == nil || !strings.Contains(err.Error(), "list the services of cluster "+cluster) || !strings.Contains(err.Error(), "ecs:ListServices") {
		t.Errorf("error must say what failed and why: %v", err)
	}
	_, _, err, _ = run(t, f, cfn.Event{RequestType: cfn.RequestCreate, ResourceProperties: map[string]any{"ClusterName": ""}})
	if err == nil || !strings.Contains(err.Error(), "ClusterName") || !strings.Contains(err.Error(), "Family") {
		t.Errorf("both missing properties must be named: %v", err)
	}
	id, _, err, _ := run(t, f, cfn.Event{RequestType: cfn.RequestDelete, PhysicalResourceID: "task-count-of:" + cluster})
	if err != nil || id != "task-count-of:"+cluster {
		t.Errorf("delete: %q %v", id, err)
	}
	if n := len(f.Calls(fakeaws.DescribeServices)); n != 0 {
		t.Errorf("nothing to describe after failures and on delete: %d calls", n)
	}
}

func TestFamilyOf(t *testing.T) {
	for in, want := range map[string]string{
		td("ecsworker-external", 12): "ecsworker-external",
		"ecsworker-external:3":       "ecsworker-external",
		"":                           "",
	} {
		if got := familyOf(in); got != want {
			t.Errorf("familyOf(%q) = %q, want %q", in, got, want)
		}
	}
}
