package dashboard

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/testkit/cdktest"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

// body is the dashboard's body with every widget's metrics, as text.
func body(t *testing.T, sites int) string {
	t.Helper()
	stack := cdktest.Stack()
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(1), NatGateways: jsii.Number(0)})
	cluster := awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{Vpc: vpc})
	td := awsecs.NewFargateTaskDefinition(stack, jsii.String("Task"), nil)
	td.AddContainer(jsii.String("c"), &awsecs.ContainerDefinitionOptions{Image: awsecs.ContainerImage_FromRegistry(jsii.String("x"), nil)})
	service := awsecs.NewFargateService(stack, jsii.String("Service"), &awsecs.FargateServiceProps{Cluster: cluster, TaskDefinition: td})
	logs := awslogs.NewLogGroup(stack, jsii.String("AgentLogs"), nil)
	p := Props{Name: "D", Cluster: cluster, Service: service, QueueSearch: "S-", Fleet: "S", AgentLogs: logs}
	for i := range sites + 1 {
		name := "region"
		if i > 0 {
			name = fmt.Sprint("site", i)
		}
		q := awssqs.NewQueue(stack, jsii.String("Q"+name), nil)
		p.Locations = append(p.Locations, Location{Name: name, Queue: q, DeadLetterQueue: q})
	}
	if _, err := New(stack, "Dashboard", p); err != nil {
		t.Fatal(err)
	}
	tmpl := cdktest.Template(t, stack)
	b, _ := json.Marshal(tmpl.FindResources(jsii.String("AWS::CloudWatch::Dashboard"), nil))
	return string(b)
}

// A few sites: each location in the graphs, and the fleet view. Many: the
// region only in them, and the fleet view, whose searches, counts and log
// query do not grow with the fleet (CloudWatch allows 500 metrics in a
// widget).
func TestTheFleetViewReplacesPerSiteGraphsAtFleetSize(t *testing.T) {
	few, many := body(t, 3), body(t, MaxListed+5)
	for _, want := range []string{"site3 visible", "SORT(SEARCH(", `\\\"S-\\\"`, "ApproximateAgeOfOldestMessage", "SitesOffline", "SitesNodeDisconnected", "SitesTasksBelowDesired",
		`\"Fleet\",\"S\",`, `filter msg = \\\"site state\\\"`, "running \\u003c desired"} {
		if !strings.Contains(few, want) {
			t.Errorf("a dashboard of 3 sites lacks %s", want)
		}
	}
	for _, gone := range []string{"site1 visible", "site25"} {
		if strings.Contains(many, gone) {
			t.Errorf("a dashboard of %d sites lists %s", MaxListed+5, gone)
		}
	}
	if !strings.Contains(many, "region visible") || strings.Count(many, "SORT(SEARCH(") != 2 || strings.Count(many, " visible") != 1 || !strings.Contains(many, "SitesOffline") {
		t.Errorf("a dashboard of %d sites must keep the region and the fleet view only", MaxListed+5)
	}
}
