package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	routercontract "github.com/ecs-anywhere-stretched/stretched/constructs/router/contract"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
	"github.com/ecs-anywhere-stretched/stretched/testkit/fakeaws"
)

// motoAccount is the account moto_server answers GetCallerIdentity with.
const motoAccount = "123456789012"

// twoCells deploys two cells into moto_server's separate regions: eu
// (eu-west-1, site lyon) and us (us-east-1, site ohio), each its regional
// stack, its site's stack, its entry topic subscribed with the router's
// filters and its site's directory entry, and writes their fleet map.
// It returns the map's path and each site's queue URL.
func twoCells(t *testing.T) (mapPath string, queues map[string]string) {
	m := shared
	if m == nil {
		t.Skip("no moto_server (see above)")
	}
	ctx := context.Background()
	fm := stackscontract.FleetMap{Prefix: "Two"}
	queues = map[string]string{}
	for _, c := range []struct{ cell, region, site string }{{"eu", "eu-west-1", "lyon"}, {"us", "us-east-1", "ohio"}} {
		prefix := "Two-" + c.cell
		cfg := m.Config()
		cfg.Region = c.region
		cfn := cloudformation.NewFromConfig(cfg)
		for name, body := range map[string]string{prefix + "-Regional": fmt.Sprintf(regionalTemplate, prefix), prefix + "-Anywhere-" + c.site: fmt.Sprintf(siteTemplate, prefix, prefix+"-"+c.site)} {
			if _, err := cfn.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String(name), TemplateBody: aws.String(body)}); err != nil {
				t.Fatalf("create stack %s in moto's %s: %v", name, c.region, err)
			}
			t.Cleanup(func() {
				if _, err := cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(name)}); err != nil {
					t.Errorf("delete stack %s in moto: %v", name, err)
				}
			})
		}
		q, snsc := sqs.NewFromConfig(cfg), sns.NewFromConfig(cfg)
		url := func(name string) (string, string) {
			out, err := q.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(prefix + "-" + name)})
			if err != nil {
				t.Fatalf("queue %s-%s in %s: %v", prefix, name, c.region, err)
			}
			attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{"QueueArn"}})
			if err != nil {
				t.Fatal(err)
			}
			return aws.ToString(out.QueueUrl), attrs.Attributes["QueueArn"]
		}
		topic := fmt.Sprintf("arn:aws:sns:%s:%s:%s-entry", c.region, motoAccount, prefix)
		for queue, filter := range map[string]map[string]any{"work": routercontract.LocationFilter("region"), "factory-work": routercontract.LocationFilter(c.site)} {
			_, arn := url(queue)
			policy, _ := json.Marshal(filter)
			if _, err := snsc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("sqs"), Endpoint: aws.String(arn),
				Attributes: map[string]string{"RawMessageDelivery": "true", "FilterPolicy": string(policy)}}); err != nil {
				t.Fatalf("subscribe in %s: %v", c.region, err)
			}
		}
		siteQueue, _ := url("factory-work")
		dlq, _ := url("factory-dlq")
		queues[c.site] = siteQueue
		dir := fmt.Sprintf("/%s/sites/%s", prefix, c.site)
		if _, err := ssm.NewFromConfig(cfg).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(dir), Type: "String", Overwrite: aws.Bool(true),
			Value: aws.String(fmt.Sprintf(`{"site":%q,"queueUrl":%q,"deadLetterQueueUrl":%q,"entryTopicArn":%q}`, c.site, siteQueue, dlq, topic))}); err != nil {
			t.Fatalf("directory entry in moto's %s: %v", c.region, err)
		}
		fm.Cells = append(fm.Cells, stackscontract.MapCell{Name: c.cell, Account: motoAccount, Region: c.region, StackPrefix: prefix,
			RegionalStack: prefix + "-Regional", Directory: "/" + prefix + "/sites",
			Sites: []stackscontract.MapSite{{Name: c.site, Stack: prefix + "-Anywhere-" + c.site, EntryTopic: 0}}})
	}
	raw, _ := json.Marshal(fm)
	mapPath = filepath.Join(t.TempDir(), stackscontract.FleetMapFile)
	if err := os.WriteFile(mapPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return mapPath, queues
}

func runFleet(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runWith(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// Two cells on moto_server (its regions are separate): fleet send finds
// each site's cell in the fleet map and delivers to the site's queue in
// that cell's region, through that cell's entry; fleet status reports
// both cells; credentials of another account are refused by name.
func TestCellsSendToEachCellAndStatusReportsBoth(t *testing.T) {
	mapPath, queues := twoCells(t)
	m := shared
	setAWSEnv(t, map[string]string{
		"AWS_ENDPOINT_URL_CLOUDFORMATION": m.URL(), "AWS_ENDPOINT_URL_SQS": m.URL(), "AWS_ENDPOINT_URL_SNS": m.URL(),
		"AWS_ENDPOINT_URL_SSM": m.URL(), "AWS_ENDPOINT_URL_STS": m.URL(),
	})
	for site, file := range map[string]string{"lyon": "eu-001", "ohio": "us-001"} {
		if code, out, errOut := runFleet(t, "send", "--map", mapPath, "--location", site, file); code != 0 || !strings.Contains(out, "sent 1 file name(s) to "+site) {
			t.Fatalf("send to %s: exit %d\n%s%s", site, code, out, errOut)
		}
	}
	ctx := context.Background()
	for site, region := range map[string]string{"lyon": "eu-west-1", "ohio": "us-east-1"} {
		cfg := m.Config()
		cfg.Region = region
		var got []string
		for range 5 {
			out, err := sqs.NewFromConfig(cfg).ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queues[site]), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
			if err != nil {
				t.Fatalf("receive at %s in %s: %v", site, region, err)
			}
			for _, msg := range out.Messages {
				got = append(got, aws.ToString(msg.Body))
			}
			if len(got) > 0 {
				break
			}
		}
		want := map[string]string{"lyon": "eu-001", "ohio": "us-001"}[site]
		if strings.Join(got, ",") != want {
			t.Errorf("site %s's queue in %s holds %v, want [%s] (and nothing sent to the other cell)", site, region, got, want)
		}
	}
	// The region of a cell: --cell says which.
	if code, _, errOut := runFleet(t, "send", "--map", mapPath, "--location", "region", "x"); code != 2 || !strings.Contains(errOut, "give --cell CELL (one of eu, us)") {
		t.Errorf("send to the region without --cell: exit %d, %s", code, errOut)
	}
	if code, out, errOut := runFleet(t, "send", "--map", mapPath, "--cell", "us", "--location", "region", "r-001"); code != 0 || !strings.Contains(out, "sent 1 file name(s) to region") {
		t.Errorf("send to cell us's region: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runFleet(t, "send", "--map", mapPath, "--location", "mars", "x"); code != 2 || !strings.Contains(errOut, `"mars" is no site of the fleet map: the sites are lyon, ohio`) {
		t.Errorf("send to an unknown site: exit %d, %s", code, errOut)
	}
	if code, _, errOut := runFleet(t, "send", "--map", mapPath, "--prefix", "Two", "--location", "lyon", "x"); code != 2 || !strings.Contains(errOut, "--prefix and --region do not apply with a fleet map of cells") {
		t.Errorf("--prefix with cells: exit %d, %s", code, errOut)
	}

	// Status: the stacks from moto, per region; nodes, services and
	// activations from the fake.
	a := fakeaws.New(t)
	for _, p := range []string{"Two-eu", "Two-us"} {
		a.Services[fakeaws.ServiceKey(p+"-cluster", "ecsworker")] = &fakeaws.Service{Desired: 1, Running: 1}
	}
	a.Services[fakeaws.ServiceKey("Two-eu-lyon", "ecsworker-external")] = &fakeaws.Service{Desired: 1, Running: 1}
	a.Services[fakeaws.ServiceKey("Two-us-ohio", "ecsworker-external")] = &fakeaws.Service{Desired: 1, Running: 1}
	for _, stack := range []string{"Two-eu-Anywhere-lyon", "Two-us-Anywhere-ohio"} {
		act := a.AddActivation(fakeaws.Activation{Limit: 2, Expiry: time.Now().Add(5 * 24 * time.Hour), Tags: map[string]string{"stretched:stack": stack}})
		a.Join(act.ID)
	}
	a.ContainerInstances["Two-eu-lyon"] = []string{"arn:aws:ecs:eu-west-1:123456789012:container-instance/Two-eu-lyon/00000000000000000000000000000001"}
	a.ContainerInstances["Two-us-ohio"] = []string{"arn:aws:ecs:us-east-1:123456789012:container-instance/Two-us-ohio/00000000000000000000000000000001"}
	t.Setenv("AWS_ENDPOINT_URL_SSM", a.URL)
	t.Setenv("AWS_ENDPOINT_URL_ECS", a.URL)
	t.Setenv("AWS_ENDPOINT_URL_CLOUDWATCH", a.URL)
	code, out, errOut := runFleet(t, "status", "--map", mapPath)
	for _, want := range []string{"CELL eu (account 123456789012, region eu-west-1)", "Two-eu-Regional", "Two-eu-Anywhere-lyon",
		"CELL us (account 123456789012, region us-east-1)", "Two-us-Regional", "Two-us-Anywhere-ohio", "HEALTHY"} {
		if !strings.Contains(out, want) {
			t.Errorf("status of both cells lacks %q: exit %d\n%s%s", want, code, out, errOut)
		}
	}
	if code != exitHealthy {
		t.Errorf("status of two healthy cells: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runFleet(t, "status", "--map", mapPath, "--json")
	var cellsJSON []CellStatus
	if err := json.Unmarshal([]byte(out), &cellsJSON); err != nil || len(cellsJSON) != 2 || cellsJSON[0].Fleet == nil || cellsJSON[1].Fleet == nil ||
		cellsJSON[0].Fleet.Region.Stack != "Two-eu-Regional" || cellsJSON[1].Fleet.Region.Stack != "Two-us-Regional" {
		t.Errorf("status --json of both cells (exit %d, %v): %s", code, err, out)
	}
	// One cell, by site: only its cell is read.
	if code, out, errOut := runFleet(t, "status", "--map", mapPath, "--site", "ohio"); code != 0 || strings.Contains(out, "CELL eu") || !strings.Contains(out, "Two-us-Anywhere-ohio") {
		t.Errorf("status --site ohio: exit %d\n%s%s", code, out, errOut)
	}

	// A cell in another account than the credentials': named, and the
	// other cell is still reported.
	var fm stackscontract.FleetMap
	raw, _ := os.ReadFile(mapPath)
	_ = json.Unmarshal(raw, &fm)
	fm.Cells[1].Account = "999999999999"
	raw, _ = json.Marshal(fm)
	wrong := filepath.Join(t.TempDir(), "map.json")
	_ = os.WriteFile(wrong, raw, 0o644)
	code, out, _ = runFleet(t, "status", "--map", wrong)
	if code != exitError || !strings.Contains(out, "cell us is in account 999999999999, but its credentials are of account 123456789012") ||
		!strings.Contains(out, "give --profile us=PROFILE or --role us=ROLE_ARN for it") || !strings.Contains(out, "Two-eu-Regional") {
		t.Errorf("a cell in another account: exit %d\n%s", code, out)
	}
	// A role to assume in the cell's account: moto answers AssumeRole
	// with credentials of the role's account, so the cell of account
	// 999999999999 is reached (its stacks are not there: no stack), and
	// the account check passes.
	code, out, _ = runFleet(t, "status", "--map", wrong, "--cell", "us", "--role", "us=arn:aws:iam::999999999999:role/fleet-operator")
	if code != exitError || strings.Contains(out, "but its credentials are of account") || !strings.Contains(out, "Two-us-Regional") {
		t.Errorf("a role in the cell's account: exit %d\n%s", code, out)
	}
	// A profile that does not exist: named with its cell.
	if code, out, _ := runFleet(t, "status", "--map", mapPath, "--cell", "eu", "--profile", "eu=nosuch"); code != exitError || !strings.Contains(out, "cell eu: load the AWS configuration") || !strings.Contains(out, "nosuch") {
		t.Errorf("a missing profile: exit %d\n%s", code, out)
	}
	// A golden image's user data makes no AWS call, with cells too: no
	// credentials, no endpoint, and still the user data for the site's
	// cell's region.
	var calls atomic.Int32
	counter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "no AWS call expected", http.StatusForbidden)
	}))
	defer counter.Close()
	t.Setenv("AWS_ENDPOINT_URL_STS", counter.URL)
	if code, out, errOut := runFleet(t, "node", "userdata", "--map", mapPath, "--site", "ohio", "--stage", "image"); code != 0 || !strings.Contains(out, "#cloud-config") || !strings.Contains(out, "us-east-1") || calls.Load() != 0 {
		t.Errorf("image-stage user data with cells: exit %d, %d AWS call(s)\n%s%s", code, calls.Load(), out, errOut)
	}
	if code, _, errOut := runFleet(t, "status", "--map", mapPath, "--profile", "mars=x"); code != 2 || !strings.Contains(errOut, `--profile: "mars" is no cell of the fleet map: the cells are eu, us`) {
		t.Errorf("a profile for an unknown cell: exit %d, %s", code, errOut)
	}
}
