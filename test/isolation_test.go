package test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A site is the security boundary: what a site's machine holds (the
// instance role, and the task and execution roles of the tasks placed on
// it) and what a site's people are given (JoinPolicy, NodeOperatorPolicy)
// reach nothing of another site, of the region or of another app in the
// account. Evaluated over the pinned configuration's three sites with the
// synthesized identity, resource and key policies.

// awsManagedPolicies are the AWS managed policies whose published text
// testdata/managed holds, by ARN: a role that names one is evaluated with
// it.
var awsManagedPolicies = func() map[string]map[string]any {
	out := map[string]map[string]any{}
	files, _ := filepath.Glob(filepath.Join("testdata", "managed", "*.json"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var p managedPolicy
		if json.Unmarshal(raw, &p) == nil {
			out[p.Arn] = p.Document
		}
	}
	return out
}()

// siteUnderTest is what a site's stack holds, resolved.
type siteUnderTest struct {
	s                    *synthesized
	name                 string
	instance, task, exec *roleRef
	instanceRoleArn      string
	clusterArn, cluster  string
	queue, dlq           string
	secret               string
	entry                string // directory entry parameter name
	logGroup, prefix     string
	join, operator       map[string]any
	tags                 map[string]any // its activations' tags as aws:RequestTag/… context
}

func (w *world) siteUnderTest(t *testing.T, s *synthesized) *siteUnderTest {
	t.Helper()
	one := func(typ, prefix string) string { return logicalID(t, s, typ, prefix) }
	u := &siteUnderTest{s: s, name: strings.SplitN(s.name, "-Anywhere-", 2)[1], tags: map[string]any{}}
	u.instance = &roleRef{s, one("AWS::IAM::Role", "InstanceRole")}
	u.instanceRoleArn = w.roleARN(u.instance)
	clusterID := one("AWS::ECS::Cluster", "Cluster")
	u.cluster, u.clusterArn = fmt.Sprint(w.ref(s, clusterID)), fmt.Sprint(w.getAtt(s, clusterID, "Arn"))
	td := props(resourceOf(s, one("AWS::ECS::TaskDefinition", "WorkerTaskDefinition")))
	u.task = w.roleByARN(fmt.Sprint(w.resolve(s, td["TaskRoleArn"])))
	u.exec = w.roleByARN(fmt.Sprint(w.resolve(s, td["ExecutionRoleArn"])))
	if u.task == nil || u.exec == nil {
		t.Fatalf("%s: the task definition's roles are not in the templates", s.name)
	}
	cd := w.resolve(s, td["ContainerDefinitions"]).([]any)[0].(map[string]any)
	for _, e := range asList(cd["Environment"]) {
		if em := e.(map[string]any); em["Name"] == "SQS_QUEUE_URL" {
			u.queue = queueArns([]string{fmt.Sprint(em["Value"])})[0]
		}
	}
	for id := range resources(s, "AWS::SQS::Queue") {
		if q := fmt.Sprint(w.getAtt(s, id, "Arn")); q != u.queue {
			u.dlq = q
		}
	}
	opts := cd["LogConfiguration"].(map[string]any)["Options"].(map[string]any)
	u.logGroup, u.prefix = fmt.Sprint(opts["awslogs-group"]), fmt.Sprint(opts["awslogs-stream-prefix"])
	u.secret = fmt.Sprint(w.ref(s, one("AWS::SecretsManager::Secret", "ActivationCode")))
	u.entry = fmt.Sprint(w.resolve(s, props(resourceOf(s, one("AWS::SSM::Parameter", "AgentEntry")))["Name"]))
	u.join, _ = w.resolve(s, props(resourceOf(s, one("AWS::IAM::ManagedPolicy", "ActivationJoinPolicy")))["PolicyDocument"]).(map[string]any)
	u.operator, _ = w.resolve(s, props(resourceOf(s, one("AWS::IAM::ManagedPolicy", "ActivationNodeOperatorPolicy")))["PolicyDocument"]).(map[string]any)
	for _, tag := range w.resolve(s, props(resourceOf(s, one("Custom::SsmActivation", "Activation")))["Tags"]).([]any) {
		tm := tag.(map[string]any)
		u.tags["aws:RequestTag/"+fmt.Sprint(tm["Key"])] = tm["Value"]
	}
	if u.queue == "" || u.dlq == "" || u.join == nil || u.operator == nil {
		t.Fatalf("%s: queue %q, dead-letter queue %q, join or operator policy not found", s.name, u.queue, u.dlq)
	}
	return u
}

// instanceOf is a container instance of the site's cluster.
func (u *siteUnderTest) instanceOf() string {
	return arn("ecs", "container-instance/"+u.cluster+"/0123456789abcdef0123456789abcdef")
}

// nodeAgentEdges are the calls a node's SSM and ECS agents make with the
// site's instance role: each allowed.
func (w *world) nodeAgentEdges(u *siteUnderTest) []edge {
	inCluster := map[string]any{"ecs:cluster": u.clusterArn}
	call := func(action, resource string, ctx map[string]any) edge {
		return edge{what: u.name + "'s node agents call " + action, role: u.instance, action: action, resource: resource, context: ctx, allow: true}
	}
	return []edge{
		call("ssm:UpdateInstanceInformation", "*", nil),
		call("ssm:ListInstanceAssociations", "*", nil),
		call("ssm:PutInventory", "*", nil),
		call("ec2messages:GetMessages", "*", nil),
		call("ssmmessages:OpenControlChannel", "*", nil),
		call("ecs:DiscoverPollEndpoint", "*", nil),
		call("ecs:RegisterContainerInstance", u.clusterArn, nil),
		call("ecs:Poll", u.instanceOf(), inCluster),
		call("ecs:StartTelemetrySession", u.instanceOf(), inCluster),
		call("ecs:SubmitTaskStateChange", u.clusterArn, nil),
		call("ecs:SubmitContainerStateChange", u.clusterArn, nil),
		call("ecs:TagResource", u.instanceOf(), map[string]any{"ecs:CreateAction": "RegisterContainerInstance"}),
	}
}

// crossSiteEdges are what a's machine and a's people try on b, on the
// region and on another app of the account: each denied.
func (w *world) crossSiteEdges(a, b *siteUnderTest, regionQueue string) []edge {
	var edges []edge
	deny := func(who string, role *roleRef, extra map[string]any, what, action, resource string, ctx map[string]any) {
		e := edge{what: fmt.Sprintf("%s of %s reaches nothing of %s: %s", who, a.name, b.name, what), role: role, action: action, resource: resource, context: ctx, allow: false}
		if extra != nil {
			e.principal = fmt.Sprintf("arn:aws:iam::%s:role/%s-person", iamAccount, a.name)
			e.extra = []map[string]any{extra}
		}
		edges = append(edges, e)
	}
	otherApp := map[string]any{"aws:ResourceTag/stretched:fleet": "SomeoneElse", "aws:ResourceTag/stretched:location": "somewhere"}
	bNode := map[string]any{"ssm:resourceTag/stretched:stack": b.s.name}
	for _, who := range []struct {
		name string
		role *roleRef
	}{{"the instance role", a.instance}, {"the task role", a.task}, {"the execution role", a.exec}} {
		for _, q := range []struct{ what, arn string }{{"its queue", b.queue}, {"its dead-letter queue", b.dlq}, {"the region's queue", regionQueue}} {
			ctx := w.queueTags(q.arn)
			for _, action := range []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:SendMessage", "sqs:PurgeQueue"} {
				deny(who.name, who.role, nil, q.what, action, q.arn, ctx)
			}
		}
		deny(who.name, who.role, nil, "another app's queue", "sqs:ReceiveMessage", arn("sqs", "other-app-queue"), otherApp)
		deny(who.name, who.role, nil, "its cluster (register)", "ecs:RegisterContainerInstance", b.clusterArn, nil)
		deny(who.name, who.role, nil, "its cluster (poll)", "ecs:Poll", b.instanceOf(), map[string]any{"ecs:cluster": b.clusterArn})
		deny(who.name, who.role, nil, "its cluster (report)", "ecs:SubmitTaskStateChange", b.clusterArn, nil)
		deny(who.name, who.role, nil, "its nodes (list)", "ecs:ListContainerInstances", b.clusterArn, nil)
		deny(who.name, who.role, nil, "its nodes (drain)", "ecs:UpdateContainerInstancesState", b.instanceOf(), map[string]any{"ecs:cluster": b.clusterArn})
		deny(who.name, who.role, nil, "its nodes (deregister)", "ecs:DeregisterContainerInstance", b.clusterArn, nil)
		deny(who.name, who.role, nil, "a new cluster", "ecs:CreateCluster", arn("ecs", "cluster/new"), nil)
		deny(who.name, who.role, nil, "another app's cluster", "ecs:RegisterContainerInstance", arn("ecs", "cluster/other-app"), nil)
		deny(who.name, who.role, nil, "its activation", "secretsmanager:GetSecretValue", b.secret, nil)
		deny(who.name, who.role, nil, "another app's secret", "secretsmanager:GetSecretValue", arn("secretsmanager", "secret:other-app-AbCdEf"), nil)
		deny(who.name, who.role, nil, "its directory entry", "ssm:GetParameter", arn("ssm", "parameter"+b.entry), nil)
		deny(who.name, who.role, nil, "another app's parameter", "ssm:GetParameters", arn("ssm", "parameter/other-app/db-password"), nil)
		deny(who.name, who.role, nil, "its log streams", "logs:PutLogEvents", arn("logs", "log-group:"+b.logGroup+":log-stream:"+b.prefix+"/worker/abc"), nil)
		deny(who.name, who.role, nil, "the region's log streams", "logs:CreateLogStream", arn("logs", "log-group:"+b.logGroup+":log-stream:regional/worker/abc"), nil)
		deny(who.name, who.role, nil, "another log group", "logs:PutLogEvents", arn("logs", "log-group:/other-app:log-stream:x"), nil)
		deny(who.name, who.role, nil, "its nodes in SSM", "ssm:SendCommand", arn("ssm", "managed-instance/mi-0123456789abcdef0"), bNode)
	}
	deny("the join policy", nil, a.join, "its activation", "secretsmanager:GetSecretValue", b.secret, nil)
	op := func(what, action, resource string, ctx map[string]any) {
		deny("the node operator policy", nil, a.operator, what, action, resource, ctx)
	}
	op("its directory entry", "ssm:GetParameter", arn("ssm", "parameter"+b.entry), nil)
	bBatch := maps.Clone(b.tags)
	bBatch["aws:TagKeys"] = []any{"stretched:stack", "site", "cluster"}
	op("an activation for it", "ssm:CreateActivation", "*", bBatch)
	op("its instance role", "iam:PassRole", b.instanceRoleArn, map[string]any{"iam:PassedToService": "ssm.amazonaws.com"})
	op("its nodes (list)", "ecs:ListContainerInstances", b.clusterArn, nil)
	op("its nodes (drain)", "ecs:UpdateContainerInstancesState", b.instanceOf(), map[string]any{"ecs:cluster": b.clusterArn})
	op("its nodes (deregister)", "ecs:DeregisterContainerInstance", b.clusterArn, nil)
	op("its nodes in SSM (run)", "ssm:SendCommand", arn("ssm", "managed-instance/mi-0123456789abcdef0"), bNode)
	op("its nodes in SSM (retire)", "ssm:DeregisterManagedInstance", arn("ssm", "managed-instance/mi-0123456789abcdef0"), bNode)
	return edges
}

// TestASiteReachesNoOtherSite evaluates every cross-site edge of the
// pinned configuration's three sites, and every call a node's agents make.
func TestASiteReachesNoOtherSite(t *testing.T) {
	requireSynth(t)
	w := newWorld(all)
	var sites []*siteUnderTest
	regionQueue := ""
	for _, s := range all {
		switch {
		case strings.HasPrefix(s.name, pinnedPrefix+"-Anywhere-"):
			sites = append(sites, w.siteUnderTest(t, s))
		case s.name == pinnedPrefix+"-Regional":
			for id, td := range resources(s, "AWS::ECS::TaskDefinition") {
				for _, e := range asList(w.resolve(s, props(td)["ContainerDefinitions"]).([]any)[0].(map[string]any)["Environment"]) {
					if em := e.(map[string]any); em["Name"] == "SQS_QUEUE_URL" {
						regionQueue = queueArns([]string{fmt.Sprint(em["Value"])})[0]
					}
				}
				_ = id
			}
		}
	}
	if len(sites) != 3 || regionQueue == "" {
		t.Fatalf("want the pinned configuration's three sites and its region's queue, got %d sites, queue %q", len(sites), regionQueue)
	}
	var edges []edge
	for _, a := range sites {
		edges = append(edges, w.nodeAgentEdges(a)...)
		for _, b := range sites {
			if a != b {
				edges = append(edges, w.crossSiteEdges(a, b, regionQueue)...)
			}
		}
	}
	w.check(t, edges)
}

// TestServiceTrustsNameTheAccount: every role of the app's stacks that a
// service assumes (the pipelines' aside, which CDK Pipelines makes) is
// held to this account with aws:SourceAccount, as AWS's confused-deputy
// guidance asks. Lambda's execution roles are the exception: Lambda
// assumes them for the function itself and documents no source context.
func TestServiceTrustsNameTheAccount(t *testing.T) {
	requireSynth(t)
	checked := 0
	for _, s := range all {
		if strings.HasSuffix(s.name, "-Pipeline") {
			continue
		}
		for id, r := range resources(s, "AWS::IAM::Role") {
			for _, st := range statementsOf(props(r)["AssumeRolePolicyDocument"].(map[string]any)) {
				p, _ := st["Principal"].(map[string]any)
				service, _ := p["Service"].(string)
				if service == "" || service == "lambda.amazonaws.com" {
					continue
				}
				checked++
				if !strings.Contains(jsonOf(st["Condition"]), `"aws:SourceAccount"`) {
					t.Errorf("%s/%s: the trust of %s has no aws:SourceAccount: %s", s.name, id, service, jsonOf(st))
				}
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d service trusts checked", checked)
	}
}
