package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ecs-anywhere-stretched/stretched/testkit/fakeaws"
)

const directory = "/EcsWorker/sites"

// newFleet is a fleet of n sites in the directory, each with one connected
// node, one task desired and running, and 250 messages waiting.
func newFleet(t *testing.T, n int) (*Fleet, *fakeaws.Fake, *bytes.Buffer) {
	t.Helper()
	aws := fakeaws.New(t)
	metrics := &bytes.Buffer{}
	f, err := FleetFromEnv(func(k string) string { return map[string]string{"SITE_DIRECTORY": directory}[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg := aws.Config()
	f.SSM, f.ECS, f.SQS = ssm.NewFromConfig(cfg), ecs.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	f.Log, f.Metrics, f.Now = slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)), metrics, func() time.Time { return time.UnixMilli(1700000000000) }
	for i := range n {
		site := fmt.Sprintf("site%02d", i)
		cluster, queue := "cluster-"+site, "https://sqs.eu-west-1.amazonaws.com/123456789012/queue-"+site
		dlq := queue + "-dlq"
		entry, _ := json.Marshal(Site{Name: site, Cluster: cluster, Service: "ecsworker-external", QueueURL: queue, DeadLetterQueueURL: dlq, MinTasks: 0, MaxTasks: 5, BacklogPerTask: 100})
		// Every fifth site has dead letters.
		aws.Queues[dlq] = &fakeaws.Queue{Visible: 3 * (1 - min(i%5, 1))}
		aws.Parameters[directory+"/"+site] = string(entry)
		aws.Services[fakeaws.ServiceKey(cluster, "ecsworker-external")] = &fakeaws.Service{Desired: 1, Running: 1}
		aws.Queues[queue] = &fakeaws.Queue{Visible: 250}
		aws.ContainerInstances[cluster] = []string{fmt.Sprintf("arn:aws:ecs:eu-west-1:123456789012:container-instance/%s/%032x", cluster, i+1)}
	}
	// Another app's directory beside this one: never read.
	aws.Parameters["/Other/sites/x"] = `{"site":"x"}`
	return &f, aws, metrics
}

func TestFleetRunsEverySiteOfTheDirectory(t *testing.T) {
	f, aws, metrics := newFleet(t, 25)
	rep, err := f.Run(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Sites) != 25 || len(rep.Failed) != 0 {
		t.Fatalf("ran %d sites, %d failed; want 25 and none", len(rep.Sites), len(rep.Failed))
	}
	for i := range 25 {
		key := fakeaws.ServiceKey(fmt.Sprintf("cluster-site%02d", i), "ecsworker-external")
		if d := aws.Services[key].Desired; d != 3 {
			t.Errorf("%s: desired %d, want 3 for 250 messages", key, d)
		}
	}
	// Directory pages of 10: three calls for 25 sites.
	if n := len(aws.Calls(fakeaws.GetParametersByPath)); n != 3 {
		t.Errorf("%d GetParametersByPath calls, want 3 (pages of 10)", n)
	}
	// One metrics line for the fleet, whatever its size: the counts of
	// sites, one dimension (the app's prefix).
	m := fleetLine(t, metrics)
	for k, v := range map[string]float64{"Sites": 25, "SitesFailed": 0, "SitesOffline": 0, "SitesNodeDisconnected": 0, "SitesTasksBelowDesired": 25, "SitesWithDeadLetters": 5} {
		if m[k] != v {
			t.Errorf("%s = %v, want %v (%v)", k, m[k], v, m)
		}
	}
	aws2 := m["_aws"].(map[string]any)
	def := aws2["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if aws2["Timestamp"] != float64(1700000000000) || def["Namespace"] != "EcsAnywhereStretched" || fmt.Sprint(def["Dimensions"]) != "[[Fleet]]" ||
		len(def["Metrics"].([]any)) != 6 || m["Fleet"] != "EcsWorker" {
		t.Errorf("EMF metadata %v", m)
	}
	// A node's event runs its site only, and writes no fleet counts.
	metrics.Reset()
	if _, err := f.Run(context.Background(), "cluster-site03"); err != nil || metrics.Len() != 0 {
		t.Errorf("a one-site run wrote fleet metrics %q (%v)", metrics.String(), err)
	}
}

// fleetLine is the one metrics line a run wrote.
func fleetLine(t *testing.T, metrics *bytes.Buffer) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(metrics.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one fleet metrics line, got %q", metrics.String())
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatalf("the metrics line is not JSON: %v", err)
	}
	return m
}

// Each site counts in what it is: offline (no node connected), a node
// disconnected while online; a site that failed is counted as failed.
func TestFleetMetricsCountTheSitesWithAProblem(t *testing.T) {
	f, aws, metrics := newFleet(t, 5)
	aws.Disconnected["arn:aws:ecs:eu-west-1:123456789012:container-instance/cluster-site00/"+fmt.Sprintf("%032x", 1)] = true
	aws.ContainerInstances["cluster-site01"] = append(aws.ContainerInstances["cluster-site01"], "arn:aws:ecs:eu-west-1:123456789012:container-instance/cluster-site01/"+fmt.Sprintf("%032x", 99))
	aws.Disconnected["arn:aws:ecs:eu-west-1:123456789012:container-instance/cluster-site01/"+fmt.Sprintf("%032x", 99)] = true
	delete(aws.Services, fakeaws.ServiceKey("cluster-site02", "ecsworker-external"))
	for i := range 5 {
		aws.Queues[fmt.Sprintf("https://sqs.eu-west-1.amazonaws.com/123456789012/queue-site%02d", i)].Visible = 0
	}
	if _, err := f.Run(context.Background(), ""); err == nil {
		t.Fatal("site02 has no service: the run must fail naming it")
	}
	m := fleetLine(t, metrics)
	for k, v := range map[string]float64{"Sites": 5, "SitesFailed": 1, "SitesOffline": 1, "SitesNodeDisconnected": 1, "SitesTasksBelowDesired": 0} {
		if m[k] != v {
			t.Errorf("%s = %v, want %v (%v)", k, m[k], v, m)
		}
	}
}

func TestABrokenSiteFailsAlone(t *testing.T) {
	f, aws, _ := newFleet(t, 4)
	delete(aws.Services, fakeaws.ServiceKey("cluster-site02", "ecsworker-external"))
	aws.Parameters[directory+"/zbad"] = `{"site":"zbad","cluster":"c"}`
	rep, err := f.Run(context.Background(), "")
	if err == nil || !strings.Contains(err.Error(), "site site02: ") || !strings.Contains(err.Error(), "site directory entry /EcsWorker/sites/zbad: ") {
		t.Fatalf("error %v: want it to name site02 and the bad entry", err)
	}
	if _, ok := rep.Failed["site02"]; !ok || len(rep.Failed) != 1 {
		t.Errorf("failed %v, want only site02", rep.Failed)
	}
	for _, s := range []string{"site00", "site01", "site03"} {
		if d := aws.Services[fakeaws.ServiceKey("cluster-"+s, "ecsworker-external")].Desired; d != 3 {
			t.Errorf("%s was not scaled (desired %d) because another site failed", s, d)
		}
	}
}

// hangingQueue never answers for one queue until its context ends.
type hangingQueue struct {
	QueueAPI
	url string
}

func (h hangingQueue) GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, o ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	if *in.QueueUrl == h.url {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return h.QueueAPI.GetQueueAttributes(ctx, in, o...)
}

func TestAHangingSiteCannotStarveTheOthers(t *testing.T) {
	f, aws, _ := newFleet(t, 6)
	f.SiteTimeout, f.Parallel = 200*time.Millisecond, 2
	f.SQS = hangingQueue{QueueAPI: f.SQS, url: "https://sqs.eu-west-1.amazonaws.com/123456789012/queue-site00"}
	start := time.Now()
	rep, err := f.Run(context.Background(), "")
	if err == nil || !strings.Contains(rep.Failed["site00"], "bounded to 200ms") {
		t.Fatalf("error %v, failed %v: want site00 stopped at its bound", err, rep.Failed)
	}
	if len(rep.Failed) != 1 {
		t.Errorf("failed %v: only the hanging site may fail", rep.Failed)
	}
	for i := 1; i < 6; i++ {
		if d := aws.Services[fakeaws.ServiceKey(fmt.Sprintf("cluster-site%02d", i), "ecsworker-external")].Desired; d != 3 {
			t.Errorf("site%02d not scaled", i)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the run took %v: the hanging site held it", d)
	}
}

func TestAStateChangeRunsItsClusterSiteOnly(t *testing.T) {
	f, aws, _ := newFleet(t, 3)
	var e Event
	_ = json.Unmarshal([]byte(`{"detail-type":"ECS Container Instance State Change","detail":{"clusterArn":"arn:aws:ecs:eu-west-1:123456789012:cluster/cluster-site01"}}`), &e)
	rep, err := f.Handle(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rep.Sites["site01"]; !ok || len(rep.Sites) != 1 {
		t.Errorf("ran %v, want site01 only", rep.Sites)
	}
	if n := len(aws.Calls(fakeaws.UpdateService)); n != 1 {
		t.Errorf("%d UpdateService calls, want 1", n)
	}
	// Another app's cluster: nothing of this fleet runs.
	_ = json.Unmarshal([]byte(`{"detail":{"clusterArn":"arn:aws:ecs:eu-west-1:123456789012:cluster/not-ours"}}`), &e)
	if rep, err := f.Handle(context.Background(), e); err != nil || len(rep.Sites) != 0 {
		t.Errorf("another cluster's event ran %v (%v)", rep.Sites, err)
	}
}

func TestFleetBadEnvironment(t *testing.T) {
	if _, err := FleetFromEnv(func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "SITE_DIRECTORY") {
		t.Errorf("got %v, want the setting named", err)
	}
}
