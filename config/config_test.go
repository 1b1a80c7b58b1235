package config

import (
	"fmt"
	"strings"
	"testing"
)

func getter(m map[string]any) Getter {
	return func(k string) any { return m[k] }
}

func keysOf(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func load(m map[string]any) (Config, error) { return Load(getter(m), keysOf(m)) }

func TestDefaults(t *testing.T) {
	c, err := load(map[string]any{"@aws-cdk/core:checkSecretUsage": true, "aws:cdk:enable-path-metadata": true})
	if err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if c.StackPrefix != "EcsWorker" || c.MaxReceiveCount != 5 || c.LogRetentionDays != 365 || c.NatGateways != 0 ||
		c.MinTasks != 1 || c.MaxTasks != 10 || c.RegionalScaling != "depth" || c.BurstAgeSeconds != 300 || c.AlarmEmail != "" || c.AlarmMessageAgeSeconds != 900 {
		t.Errorf("unexpected defaults: %+v", c)
	}
	if len(c.Sites) != 1 {
		t.Fatalf("want one default site, got %+v", c.Sites)
	}
	s := c.Sites[0]
	if s.Name != "onprem" || s.ClusterName != "ecsAnywhereCluster" || s.InstanceName != "onprem" ||
		s.Tasks.MinTasks != 1 || s.Tasks.MaxTasks != 3 || s.Fleet.Patching != "scan" || s.Fleet.PatchSchedule != "cron(0 3 ? * SUN *)" || s.Activation.RegistrationLimit != 10 || s.Activation.ExpiryDays != 7 ||
		s.Activation.RenewDays != 2 || s.Activation.RenewSchedule != "rate(1 day)" || s.KeepNodesOnDestroy {
		t.Errorf("unexpected default site: %+v", s)
	}
}

func TestValuesFromCLIStrings(t *testing.T) {
	c, err := load(map[string]any{
		"maxReceiveCount": "3", "logRetentionDays": "90", "natGateways": "1", "imageTag": "v1.2.3",
		"account": "123456789012", "region": "eu-west-1",
		"sites": `[{"name":"factory","minTasks":2,"maxTasks":6},{"name":"pi","registrationLimit":3,"activationExpiryDays":30}]`,
	})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if c.MaxReceiveCount != 3 || c.LogRetentionDays != 90 || c.NatGateways != 1 || c.ImageTag != "v1.2.3" || c.Account != "123456789012" {
		t.Errorf("values not read: %+v", c)
	}
	if got := c.Sites[0]; got.ClusterName != "ecsAnywhereCluster-factory" || got.Tasks.MinTasks != 2 || got.Tasks.MaxTasks != 6 {
		t.Errorf("site 0: %+v", got)
	}
	if got := c.Sites[1]; got.ClusterName != "ecsAnywhereCluster-pi" || got.Activation.RegistrationLimit != 3 || got.Activation.ExpiryDays != 30 {
		t.Errorf("site 1: %+v", got)
	}
}

func TestSitesFromCdkJSON(t *testing.T) {
	c, err := load(map[string]any{"sites": []any{map[string]any{"name": "dc1", "clusterName": "dc1Cluster", "minTasks": float64(0), "maxTasks": float64(2), "patching": "install"}}})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if c.Sites[0].ClusterName != "dc1Cluster" || c.Sites[0].Tasks.MinTasks != 0 || c.Sites[0].Tasks.MaxTasks != 2 || c.Sites[0].Fleet.Patching != "install" {
		t.Errorf("site: %+v", c.Sites[0])
	}
}

func TestScalingAndAlarmSettings(t *testing.T) {
	c, err := load(map[string]any{"regionalScaling": "burst", "work": "shared", "maxTasks": "20", "burstAgeSeconds": 120, "alarmEmail": "ops@example.com", "alarmMessageAgeSeconds": "600"})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if c.RegionalScaling != "burst" || c.MinTasks != 0 || c.MaxTasks != 20 || c.BurstAgeSeconds != 120 || c.AlarmEmail != "ops@example.com" || c.AlarmMessageAgeSeconds != 600 {
		t.Errorf("burst mode starts from 0 tasks: %+v", c)
	}
	if c, err := load(map[string]any{"sites": `[{"name":"a","minTasks":5}]`}); err != nil || c.Sites[0].Tasks.MaxTasks != 5 {
		t.Errorf("a site's maxTasks defaults to at least its minTasks, got %+v, %v", c.Sites, err)
	}
}

func TestPipeline(t *testing.T) {
	c, err := load(map[string]any{"account": "123456789012", "region": "eu-west-1",
		"pipeline": map[string]any{"connectionArn": "arn:aws:codestar-connections:eu-west-1:123456789012:connection/0f0e0d0c-0b0a-0908-0706-050403020100", "repository": "org/repo", "approveSites": true}})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if p := c.Pipeline; p == nil || p.Branch != "main" || !p.ApproveSites || p.Repository != "org/repo" {
		t.Errorf("pipeline: %+v", c.Pipeline)
	}
	if c, _ := load(map[string]any{}); c.Pipeline != nil {
		t.Error("no pipeline key, no pipeline")
	}
}

func TestWorkerSecrets(t *testing.T) {
	c, err := load(map[string]any{"workerSecrets": `{"B": {"parameter": "/app/b"}, "A": {"secretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:a-AbCdEf", "jsonKey": "pw"}}`})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if len(c.WorkerSecrets) != 2 || c.WorkerSecrets[0].Env != "A" || c.WorkerSecrets[0].JSONKey != "pw" || c.WorkerSecrets[1].Parameter != "/app/b" {
		t.Errorf("secrets sorted by name with their sources: %+v", c.WorkerSecrets)
	}
}

func TestLifecycleSettings(t *testing.T) {
	c, err := load(map[string]any{"sites": `[{"name":"a","activationRenewDays":0,"keepNodesOnDestroy":true},
		{"name":"b","activationExpiryDays":30,"activationRenewDays":10,"activationRenewSchedule":"cron(0 3 * * ? *)"}]`})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if a := c.Sites[0]; a.Activation.RenewDays != 0 || !a.KeepNodesOnDestroy {
		t.Errorf("renewal off and nodes kept: %+v", a)
	}
	if b := c.Sites[1]; b.Activation.RenewDays != 10 || b.Activation.RenewSchedule != "cron(0 3 * * ? *)" || b.KeepNodesOnDestroy {
		t.Errorf("site b: %+v", b)
	}
}

// More locations than one entry topic routes fail at load, naming the SNS
// quotas and the setting that fixes it; enough topics load.
func TestEntryTopicsCoverTheLocations(t *testing.T) {
	var sites []string
	for i := range 500 {
		sites = append(sites, fmt.Sprintf(`{"name":"site%d"}`, i+1))
	}
	list := "[" + strings.Join(sites, ",") + "]"
	_, err := load(map[string]any{"sites": list})
	if err == nil || !strings.Contains(err.Error(), "quota: SNS filter policy value combinations is 150, and the unrouted filter of entry topic 1 of 1 (1 + 501 locations; a topic routes at most 149) would reach 502") || !strings.Contains(err.Error(), `set context key "entryTopics" to at least 6`) {
		t.Errorf("500 sites on one topic: %v", err)
	}
	if c, err := load(map[string]any{"sites": list, "entryTopics": 6}); err != nil || c.EntryTopics != 6 {
		t.Errorf("500 sites on 6 topics: %v", err)
	}
	if _, err := load(map[string]any{"sites": list, "work": "shared"}); err != nil {
		t.Errorf("shared work has no entry: %v", err)
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name string
		ctx  map[string]any
		want []string // every fragment must appear in the error
	}{
		{"receive count zero", map[string]any{"maxReceiveCount": 0}, []string{`"maxReceiveCount" is 0`, "from 1 to 1000"}},
		{"receive count text", map[string]any{"maxReceiveCount": "many"}, []string{`"maxReceiveCount" is many`, "whole number"}},
		{"receive count fraction", map[string]any{"maxReceiveCount": 2.5}, []string{`"maxReceiveCount" is 2.5`}},
		{"retention not allowed", map[string]any{"logRetentionDays": 10}, []string{`"logRetentionDays" is 10`, "one of 1, 3, 5, 7, 14, 30"}},
		{"too many nat", map[string]any{"natGateways": 3}, []string{`"natGateways" is 3`, "from 0 to 2"}},
		{"visibility zero", map[string]any{"visibilityTimeoutSeconds": "0"}, []string{`"visibilityTimeoutSeconds" is 0`, "from 1 to 43200"}},
		{"bad account", map[string]any{"account": "12345"}, []string{`"account" is "12345"`, "12-digit"}},
		{"bad region", map[string]any{"region": "Europe"}, []string{`"region" is "Europe"`, "eu-west-1"}},
		{"account not string", map[string]any{"account": 123456789012.0}, []string{`"account"`, "must be a string"}},
		{"bad tag", map[string]any{"imageTag": "v1/latest"}, []string{`"imageTag" is "v1/latest"`, "ECR image tag"}},
		{"tag and uri", map[string]any{"imageTag": "v1", "imageUri": "nginx:1"}, []string{`"imageTag" and "imageUri" are both set`, "at most one"}},
		{"bad prefix", map[string]any{"stackPrefix": "1abc"}, []string{`"stackPrefix" is "1abc"`}},
		{"unknown key", map[string]any{"maxRecieveCount": 3}, []string{`unknown context key "maxRecieveCount"`, "maxReceiveCount"}},
		{"sites not a list", map[string]any{"sites": "factory"}, []string{`"sites" is factory`, "list of sites"}},
		{"sites unknown field", map[string]any{"sites": `[{"name":"a","desired":2}]`}, []string{`"sites"`, `unknown field "desired"`}},
		{"sites empty", map[string]any{"sites": `[]`}, []string{"empty list"}},
		{"site name", map[string]any{"sites": `[{"name":"Factory 1"}]`}, []string{`"sites[0]" has name "Factory 1"`}},
		{"site duplicate", map[string]any{"sites": `[{"name":"a"},{"name":"a"}]`}, []string{`"sites[1]" repeats the site name "a"`}},
		{"site cluster duplicate", map[string]any{"sites": `[{"name":"a","clusterName":"c"},{"name":"b","clusterName":"c"}]`}, []string{`repeats the clusterName "c"`}},
		{"site limit", map[string]any{"sites": `[{"name":"a","registrationLimit":1001}]`}, []string{`"sites[0].registrationLimit" is 1001`, "from 1 to 1000"}},
		{"site serial", map[string]any{"sites": `[{"name":"a","activationSerial":0}]`}, []string{`"sites[0].activationSerial" is 0`}},
		{"site expiry", map[string]any{"sites": `[{"name":"a","activationExpiryDays":31}]`}, []string{`"sites[0].activationExpiryDays" is 31`, "from 1 to 30"}},
		{"renew days not below expiry", map[string]any{"sites": `[{"name":"a","activationExpiryDays":3,"activationRenewDays":3}]`},
			[]string{`"sites[0].activationRenewDays" is 3`, "from 0 (no renewal) to 2", "activationExpiryDays (3)"}},
		{"renew days default against short expiry", map[string]any{"sites": `[{"name":"a","activationExpiryDays":2}]`},
			[]string{`"sites[0].activationRenewDays" is 2`, "from 0 (no renewal) to 1"}},
		{"renew days negative", map[string]any{"sites": `[{"name":"a","activationRenewDays":-1}]`}, []string{`"sites[0].activationRenewDays" is -1`}},
		{"renew schedule", map[string]any{"sites": `[{"name":"a","activationRenewSchedule":"daily"}]`},
			[]string{`"sites[0].activationRenewSchedule" is "daily"`, "rate(1 day)"}},
		{"keep nodes not a bool", map[string]any{"sites": `[{"name":"a","keepNodesOnDestroy":"yes"}]`}, []string{`"sites"`, "keepNodesOnDestroy"}},
		{"desired count replaced", map[string]any{"desiredCount": 2}, []string{`"desiredCount" was replaced by "minTasks" and "maxTasks"`}},
		{"site desired count replaced", map[string]any{"sites": `[{"name":"a","desiredCount":2}]`}, []string{`"sites[0].desiredCount" was replaced by minTasks and maxTasks`}},
		{"min above max", map[string]any{"minTasks": 5, "maxTasks": 2}, []string{`"minTasks" and "maxTasks" are 5 and 2`}},
		{"max zero", map[string]any{"maxTasks": 0}, []string{`"maxTasks" is 0`, "from 1 to 100"}},
		{"scaling mode", map[string]any{"regionalScaling": "age"}, []string{`"regionalScaling" is "age"`, `"depth"`, `"burst"`}},
		{"burst with routed work", map[string]any{"regionalScaling": "burst"}, []string{`"regionalScaling" is "burst" with "work" "routed"`, `set "work" to "shared"`, `"regionalScaling" to "depth"`}},
		{"work mode", map[string]any{"work": "local"}, []string{`"work" is "local"`, `"routed"`, `"shared"`}},
		{"site named region", map[string]any{"sites": `[{"name":"region"}]`}, []string{`has name "region"`, "region's location name"}},
		{"burst age", map[string]any{"burstAgeSeconds": 5}, []string{`"burstAgeSeconds" is 5`, "from 60 to 43200"}},
		{"alarm email", map[string]any{"alarmEmail": "ops"}, []string{`"alarmEmail" is "ops"`, "e-mail address"}},
		{"alarm age", map[string]any{"alarmMessageAgeSeconds": 10}, []string{`"alarmMessageAgeSeconds" is 10`}},
		{"site min above max", map[string]any{"sites": `[{"name":"a","minTasks":4,"maxTasks":2}]`}, []string{`"sites[0].minTasks" is 4: must not exceed maxTasks (2)`}},
		{"site max", map[string]any{"sites": `[{"name":"a","maxTasks":0}]`}, []string{`"sites[0].maxTasks" is 0`}},
		{"site patching", map[string]any{"sites": `[{"name":"a","patching":"yes"}]`}, []string{`"sites[0].patching" is "yes"`, `"scan"`, `"install"`, `"off"`}},
		{"site patch schedule", map[string]any{"sites": `[{"name":"a","patchSchedule":"sundays"}]`}, []string{`"sites[0].patchSchedule" is "sundays"`, "State Manager schedule"}},
		{"site patch schedule too often", map[string]any{"sites": `[{"name":"a","patchSchedule":"rate(5 minutes)"}]`}, []string{`"sites[0].patchSchedule" is "rate(5 minutes)"`, "at least rate(30 minutes)"}},
		{"site patch schedule of one minute", map[string]any{"sites": `[{"name":"a","patchSchedule":"rate(1 minute)"}]`}, []string{`"sites[0].patchSchedule" is "rate(1 minute)"`}},
		{"site ECS agent update schedule", map[string]any{"sites": `[{"name":"a","ecsAgentUpdateSchedule":"weekly"}]`}, []string{`"sites[0].ecsAgentUpdateSchedule" is "weekly"`, "State Manager schedule"}},
		{"secrets not an object", map[string]any{"workerSecrets": "API=x"}, []string{`"workerSecrets" is API=x`, "must be an object"}},
		{"secret unknown field", map[string]any{"workerSecrets": `{"A": {"param": "/x"}}`}, []string{`"workerSecrets" has A =`, `unknown field "param"`}},
		{"secret contract name", map[string]any{"workerSecrets": `{"SQS_QUEUE_URL": {"parameter": "/x"}}`}, []string{"secret SQS_QUEUE_URL", "part of the worker's contract"}},
		// Every name the worker spec sets is refused, the stop timeout among them.
		{"secret stop timeout name", map[string]any{"workerSecrets": `{"WORKER_STOP_TIMEOUT_SECONDS": {"parameter": "/x"}}`}, []string{"secret WORKER_STOP_TIMEOUT_SECONDS", "part of the worker's contract"}},
		{"secret aws name", map[string]any{"workerSecrets": `{"AWS_SECRET_ACCESS_KEY": {"parameter": "/x"}}`}, []string{"AWS_ or ECS_"}},
		{"secret both sources", map[string]any{"workerSecrets": `{"A": {"parameter": "/x", "secretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x"}}`}, []string{"exactly one of"}},
		{"secret neither source", map[string]any{"workerSecrets": `{"A": {}}`}, []string{"exactly one of"}},
		{"secret bad arn", map[string]any{"workerSecrets": `{"A": {"secretArn": "token"}}`}, []string{`secret "token"`, "Secrets Manager ARN"}},
		{"secret bad parameter", map[string]any{"workerSecrets": `{"A": {"parameter": "has space"}}`}, []string{`parameter "has space"`}},
		{"secret json key on parameter", map[string]any{"workerSecrets": `{"A": {"parameter": "/x", "jsonKey": "k"}}`}, []string{"jsonKey \"k\" applies to Secrets Manager secrets only"}},
		{"secret bad key", map[string]any{"workerSecrets": `{"A": {"parameter": "/x", "kmsKeyArn": "alias/x"}}`}, []string{`kmsKeyArn "alias/x"`}},
		{"secret bad name", map[string]any{"workerSecrets": `{"1A": {"parameter": "/x"}}`}, []string{`"1A" is not a variable name`}},
		{"pipeline not an object", map[string]any{"pipeline": "github"}, []string{`"pipeline" is github`, "must be an object"}},
		{"pipeline unknown field", map[string]any{"pipeline": `{"repo": "a/b"}`, "account": "123456789012", "region": "eu-west-1"}, []string{`unknown field "repo"`}},
		{"pipeline no source", map[string]any{"pipeline": `{}`, "account": "123456789012", "region": "eu-west-1"}, []string{`"pipeline" needs a source`}},
		{"pipeline two sources", map[string]any{"pipeline": `{"codeCommitRepository": "r", "repository": "a/b", "connectionArn": "arn:aws:codeconnections:eu-west-1:123456789012:connection/0f0e0d0c-0b0a-0908-0706-050403020100"}`, "account": "123456789012", "region": "eu-west-1"}, []string{"keep one source"}},
		{"pipeline bad connection", map[string]any{"pipeline": `{"connectionArn": "github", "repository": "a/b"}`, "account": "123456789012", "region": "eu-west-1"}, []string{`"pipeline.connectionArn" is "github"`, "connection ARN"}},
		{"pipeline bad repository", map[string]any{"pipeline": `{"connectionArn": "arn:aws:codeconnections:eu-west-1:123456789012:connection/0f0e0d0c-0b0a-0908-0706-050403020100", "repository": "stretched"}`, "account": "123456789012", "region": "eu-west-1"}, []string{`"pipeline.repository" is "stretched"`, "owner/name"}},
		{"pipeline bad codecommit", map[string]any{"pipeline": `{"codeCommitRepository": "a b"}`, "account": "123456789012", "region": "eu-west-1"}, []string{`"pipeline.codeCommitRepository" is "a b"`}},
		{"pipeline bad branch", map[string]any{"pipeline": `{"codeCommitRepository": "r", "branch": "a..b"}`, "account": "123456789012", "region": "eu-west-1"}, []string{`"pipeline.branch" is "a..b"`}},
		{"pipeline without environment", map[string]any{"pipeline": `{"codeCommitRepository": "r"}`}, []string{`"pipeline" needs "account" and "region"`}},
		{"site instance role", map[string]any{"sites": `[{"name":"a","instanceRoleArn":"arn:aws:iam::123456789012:role/path/x"}]`}, []string{`"sites[0].instanceRoleArn" is "arn:aws:iam::123456789012:role/path/x"`, "without a path"}},
		{"site boundary", map[string]any{"sites": `[{"name":"a","permissionsBoundary":"boundary"}]`}, []string{`permissionsBoundary "boundary"`, "managed policy ARN"}},
		{"all problems at once", map[string]any{"maxReceiveCount": 0, "natGateways": 9, "region": "x"},
			[]string{`"maxReceiveCount"`, `"natGateways"`, `"region"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(tc.ctx)
			if err == nil {
				t.Fatalf("want an error for %v", tc.ctx)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "config: ") {
					t.Errorf("every problem is one line starting with \"config: \", got %q", line)
				}
			}
		})
	}
}
