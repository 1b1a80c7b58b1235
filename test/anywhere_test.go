package test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	activationcontract "github.com/ecs-anywhere-stretched/stretched/constructs/activation/contract"
	"github.com/ecs-anywhere-stretched/stretched/constructs/workerspec/contract"
)

func anywhere(t *testing.T) *synthesized {
	t.Helper()
	requireSynth(t)
	return defaults["EcsWorker-Anywhere-onprem"]
}

func TestExternalClusterAndInstanceRole(t *testing.T) {
	s := anywhere(t)
	assertTemplate(t, s, func(tmpl assertions.Template) {
		tmpl.HasResourceProperties(jsii.String("AWS::ECS::Cluster"), map[string]any{
			"ClusterName":     "ecsAnywhereCluster",
			"ClusterSettings": []any{map[string]any{"Name": "containerInsights", "Value": "disabled"}},
		})
		tmpl.HasResourceProperties(jsii.String("AWS::IAM::Role"), map[string]any{
			"AssumeRolePolicyDocument": map[string]any{"Statement": []any{map[string]any{
				"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": map[string]any{"Service": "ssm.amazonaws.com"},
			}}},
		})
	})
	// No AWS managed policy (TestInstanceRoleCoversTheManagedPolicies
	// holds its inline policy to theirs), trusted for this account only.
	role := props(resources(s, "AWS::IAM::Role")[logicalID(t, s, "AWS::IAM::Role", "InstanceRole")])
	if role["ManagedPolicyArns"] != nil {
		t.Errorf("instance role names managed policies: %s", jsonOf(role["ManagedPolicyArns"]))
	}
	if trust := jsonOf(role["AssumeRolePolicyDocument"]); !strings.Contains(trust, `"aws:SourceAccount"`) || !strings.Contains(trust, `"aws:SourceArn"`) {
		t.Errorf("the instance role's trust of ssm.amazonaws.com lacks the confused-deputy conditions: %s", trust)
	}
	if role["PermissionsBoundary"] != nil {
		t.Errorf("default instance role has a boundary: %v", role["PermissionsBoundary"])
	}
	if len(resources(s, "AWS::EC2::VPC")) != 0 || len(resources(s, "AWS::EC2::NatGateway")) != 0 {
		t.Error("the anywhere stack must not create network resources")
	}
	pi := variant["Variant-Anywhere-pi"]
	// Container Insights costs a site several USD a month: off unless the
	// site asks (pi does).
	piCluster := props(resources(pi, "AWS::ECS::Cluster")[logicalID(t, pi, "AWS::ECS::Cluster", "Cluster")])
	if got := jsonOf(piCluster["ClusterSettings"]); got != `[{"Name":"containerInsights","Value":"enabled"}]` {
		t.Errorf("site pi sets containerInsights, its cluster has %s", got)
	}
	piRole := props(resources(pi, "AWS::IAM::Role")[logicalID(t, pi, "AWS::IAM::Role", "InstanceRole")])
	if piRole["PermissionsBoundary"] != "arn:aws:iam::123456789012:policy/boundary" {
		t.Errorf("site pi's permissionsBoundary not applied: %v", piRole["PermissionsBoundary"])
	}
}

// A site with its own instance role: the stack makes none and passes that
// role to SSM by name (the permission simulation passes it, tagged).
func TestOwnInstanceRole(t *testing.T) {
	requireSynth(t)
	factory := variant["Variant-Anywhere-factory"]
	if hasPrefix(resources(factory, "AWS::IAM::Role"), "InstanceRole") {
		t.Error("a site with instanceRoleArn must not make an instance role")
	}
	if got := only(t, factory, "Custom::SsmActivation")["IamRole"]; got != "factoryNodes" {
		t.Errorf("the activation must name the user's role, got %s", jsonOf(got))
	}
	// The fleet's activation function passes only roles tagged
	// stretched:fleet: the user's own role needs the tag (docs/sites.md);
	// the stack passes no role itself.
	for _, st := range statements(factory, "") {
		if slices.Contains(st.actions, "iam:PassRole") {
			t.Errorf("the site's stack grants iam:PassRole itself: %s", jsonOf(st.raw))
		}
	}
}

func TestActivationCustomResource(t *testing.T) {
	s := anywhere(t)
	act := only(t, s, "Custom::SsmActivation")
	if act["RegistrationLimit"] != "10" || act["ExpiryDays"] != "7" || act["DefaultInstanceName"] != "onprem" {
		t.Errorf("activation properties: %s", jsonOf(act))
	}
	if !strings.Contains(jsonOf(act["IamRole"]), "InstanceRole") || !strings.Contains(jsonOf(act["SecretArn"]), "ActivationCode") {
		t.Errorf("activation must name the instance role and the code secret: %s", jsonOf(act))
	}
	r := regional(t)
	fnID := logicalID(t, r, "AWS::Lambda::Function", "ActivationsHandler")
	fn := props(resources(r, "AWS::Lambda::Function")[fnID])
	if fn["Runtime"] != "provided.al2023" || jsonOf(fn["Architectures"]) != `["arm64"]` || fn["Handler"] != activationcontract.Handler {
		t.Errorf("handler must be the project binary's activation handler on provided.al2023 arm64: %s", jsonOf(fn))
	}
	if token := jsonOf(act["ServiceToken"]); !strings.Contains(token, `"Fn::ImportValue":"EcsWorker-Regional:ExportsOutputFnGetAtt`+fnID+`Arn`) {
		t.Errorf("the site's activation must be answered by the fleet's function in the regional stack: %s", token)
	}
	if len(resources(s, "AWS::Lambda::Function")) > 2 {
		t.Errorf("a site brings no activation function of its own: %d functions", len(resources(s, "AWS::Lambda::Function")))
	}
	secret := only(t, s, "AWS::SecretsManager::Secret")
	if secret["KmsKeyId"] == nil {
		t.Errorf("code secret must be KMS encrypted: %s", jsonOf(secret))
	}
	factory := only(t, variant["Variant-Anywhere-factory"], "Custom::SsmActivation")
	if factory["RegistrationLimit"] != "25" || factory["ExpiryDays"] != "30" {
		t.Errorf("site factory's activation settings not applied: %s", jsonOf(factory))
	}
}

// activationActions are what the activation handler and the renewer may do,
// and nothing more.
var activationActions = []string{"cloudformation:ListStackResources", "iam:PassRole", "logs:CreateLogStream", "logs:PutLogEvents",
	"secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage", "ssm:CreateActivation", "ssm:DeleteActivation", "ssm:DescribeActivations"}

func TestActivationFunctionsLeastPrivilege(t *testing.T) {
	s := regional(t)
	role := "ActivationsHandlerRole"
	var got []string
	deniesTaggingNodes := false
	fleetTag := `"aws:ResourceTag/stretched:fleet":"EcsWorker"`
	for _, st := range statements(s, role) {
		if st.effect == "Deny" {
			deniesTaggingNodes = deniesTaggingNodes || slices.Equal(st.actions, []string{"ssm:AddTagsToResource"}) &&
				strings.Contains(jsonOf(st.resource), ":managed-instance/*")
			continue
		}
		cond := jsonOf(st.raw["Condition"])
		for _, a := range st.actions {
			got = append(got, a)
			switch a {
			case "iam:PassRole":
				if cond != `{"StringEquals":{"iam:PassedToService":"ssm.amazonaws.com","iam:ResourceTag/stretched:fleet":"EcsWorker"}}` {
					t.Errorf("%s: iam:PassRole must be limited to the fleet's tagged roles, passed to SSM: %s", role, jsonOf(st.raw))
				}
			case "secretsmanager:PutSecretValue", "secretsmanager:GetSecretValue", "secretsmanager:UpdateSecretVersionStage":
				if !strings.Contains(cond, fleetTag) {
					t.Errorf("%s: the secret access must be limited to the fleet's tagged secrets: %s", role, jsonOf(st.raw))
				}
			case "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey":
				t.Errorf("%s: the records' key is granted by its key policy, naming the role, not by a tag condition KMS takes minutes to honour: %s", role, jsonOf(st.raw))
			case "ssm:CreateActivation":
				if cond != `{"ForAllValues:StringEquals":{"aws:TagKeys":["stretched:stack","cluster","site"]},"StringLike":{"aws:RequestTag/stretched:stack":"EcsWorker-Anywhere-*"}}` {
					t.Errorf("%s: activations may be made only with a site stack's tag, condition %s", role, cond)
				}
			}
		}
	}
	if !deniesTaggingNodes {
		t.Errorf("%s: tagging managed instances must be denied (a node with the site's tag is deregistered with the site)", role)
	}
	slices.Sort(got)
	if !slices.Equal(got, activationActions) {
		t.Errorf("%s actions\n got %v\nwant %v", role, got, activationActions)
	}
	// What the role acts on carries the tag: the site's secret and key and
	// the instance role it makes.
	site := anywhere(t)
	for _, r := range []struct {
		st      *synthesized
		typ, id string
	}{{site, "AWS::SecretsManager::Secret", "ActivationCode"}, {site, "AWS::IAM::Role", "InstanceRole"}, {s, "AWS::KMS::Key", "Key9"}} {
		if tags := jsonOf(props(resources(r.st, r.typ)[logicalID(t, r.st, r.typ, r.id)])["Tags"]); !strings.Contains(tags, `{"Key":"stretched:fleet","Value":"EcsWorker"}`) {
			t.Errorf("%s lacks the fleet tag the activation function is scoped by: %s", r.id, tags)
		}
	}
	// The record is encrypted with the app's key (no key per site), whose
	// ARN is a property: a new key rewrites the record under it.
	secret := props(resources(site, "AWS::SecretsManager::Secret")[logicalID(t, site, "AWS::SecretsManager::Secret", "ActivationCode")])
	act := only(t, site, "Custom::SsmActivation")
	if k := jsonOf(secret["KmsKeyId"]); !strings.Contains(k, "EcsWorker-Regional:ExportsOutputFnGetAttKey9") || jsonOf(act["SecretKey"]) != k {
		t.Errorf("the record's key must be the app's, named in the activation's properties: secret %s, activation %s", k, jsonOf(act["SecretKey"]))
	}
	if n := len(resources(site, "AWS::KMS::Key")); n != 0 {
		t.Errorf("a site has %d keys of its own (USD 1 each a month)", n)
	}
}

// unconditioned are the actions a site's roles may have on "*" without a
// condition: aws-cdk's grants for the site's task definition, of actions
// with neither resource-level permissions nor a condition key that could
// limit them, and that reach nothing by themselves: an ECR login token
// pulls only what the role may pull, and ECS Exec's channels open only
// the sessions ECS starts for the task.
var unconditioned = map[string]bool{
	"ecr:GetAuthorizationToken":        true,
	"ssmmessages:CreateControlChannel": true, "ssmmessages:CreateDataChannel": true,
	"ssmmessages:OpenControlChannel": true, "ssmmessages:OpenDataChannel": true,
}

// TestNoUnconditionedWildcard: every statement on "*" in a site's stack
// carries a condition, but for the actions unconditioned lists.
func TestNoUnconditionedWildcard(t *testing.T) {
	requireSynth(t)
	for _, s := range all {
		if !strings.Contains(s.name, "-Anywhere-") {
			continue
		}
		for _, st := range statements(s, "") {
			if !slices.ContainsFunc(st.actions, func(a string) bool { return !unconditioned[a] }) {
				continue
			}
			if jsonOf(st.resource) == `"*"` && st.raw["Condition"] == nil && st.effect == "Allow" {
				t.Errorf("%s: %s allows %v on * without a condition", s.name, st.policy, st.actions)
			}
		}
	}
}

// Renewal: the site's own EventBridge Scheduler schedule (not a rule: the
// account has 300 rules per bus) runs the fleet's activation function with
// the site's settings; one alarm watches every renewal.
func TestRenewerScheduleAndAlarm(t *testing.T) {
	s, r := anywhere(t), regional(t)
	fnID := logicalID(t, r, "AWS::Lambda::Function", "ActivationsHandler")
	fn := props(resources(r, "AWS::Lambda::Function")[fnID])
	// No reservation: an account with a concurrency quota of 10 refuses any.
	if _, reserved := fn["ReservedConcurrentExecutions"]; reserved || fn["Runtime"] != "provided.al2023" || jsonOf(fn["Architectures"]) != `["arm64"]` {
		t.Errorf("renewer: no reserved concurrency, Go on arm64: %s", jsonOf(fn))
	}
	schedule := only(t, s, "AWS::Scheduler::Schedule")
	target := jsonOf(schedule["Target"])
	for _, want := range []string{`\"renewDays\":2`, `\"settings\":`, `\"RegistrationLimit\":\"10\"`, `\"ExpiryDays\":\"7\"`, `stretched:stack`, "ActivationCode",
		`"Arn":{"Fn::ImportValue":"EcsWorker-Regional:ExportsOutputFnGetAtt` + fnID, `"RoleArn":{"Fn::ImportValue":"EcsWorker-Regional:ExportsOutputFnGetAttActivationsSchedulerRole`,
		`"RetryPolicy":{"MaximumEventAgeInSeconds":3600,"MaximumRetryAttempts":2}`} {
		if !strings.Contains(target, want) {
			t.Errorf("renewal schedule's target lacks %s: %s", want, target)
		}
	}
	if schedule["ScheduleExpression"] != "rate(1 day)" || jsonOf(schedule["FlexibleTimeWindow"]) != `{"Mode":"OFF"}` {
		t.Errorf("renewal schedule: %s", jsonOf(schedule))
	}
	if len(resources(s, "AWS::Events::Rule")) != 0 {
		t.Errorf("a site brings no EventBridge rule: %d", len(resources(s, "AWS::Events::Rule")))
	}
	assertTemplate(t, r, func(tmpl assertions.Template) {
		tmpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
			"MetricName":         "Errors",
			"Namespace":          "AWS/Lambda",
			"Statistic":          "Sum",
			"Threshold":          1,
			"ComparisonOperator": "GreaterThanOrEqualToThreshold",
			"TreatMissingData":   "ignore",
			"Dimensions":         []any{map[string]any{"Name": "FunctionName", "Value": map[string]any{"Ref": fnID}}},
		})
	})
	// The scheduler's role may invoke exactly the function.
	var invokes []string
	for _, st := range statements(r, "ActivationsSchedulerRole") {
		invokes = append(invokes, jsonOf(st.actions)+jsonOf(st.resource))
	}
	if len(invokes) != 1 || !strings.Contains(invokes[0], `["lambda:InvokeFunction"]`) || !strings.Contains(invokes[0], fnID) {
		t.Errorf("the scheduler role may only invoke the activation function: %v", invokes)
	}
	// Site factory's activationRenewSchedule and activationRenewDays.
	factory := only(t, variant["Variant-Anywhere-factory"], "AWS::Scheduler::Schedule")
	if factory["ScheduleExpression"] != "rate(12 hours)" || !strings.Contains(jsonOf(factory["Target"]), `\"renewDays\":5`) {
		t.Errorf("site factory's renewal settings not applied: %s", jsonOf(factory))
	}
	pi := variant["Variant-Anywhere-pi"]
	if len(resources(pi, "AWS::Scheduler::Schedule")) != 0 {
		t.Error("activationRenewDays=0 must make no renewal schedule")
	}
}

func TestDestroyOrderServiceThenNodesThenCluster(t *testing.T) {
	s := anywhere(t)
	nodesID := logicalID(t, s, "Custom::SiteNodes", "Nodes")
	nodes := resources(s, "Custom::SiteNodes")[nodesID]
	p := props(nodes)
	cluster := logicalID(t, s, "AWS::ECS::Cluster", "Cluster")
	if jsonOf(p["ClusterName"]) != `{"Ref":"`+cluster+`"}` || p["TagKey"] != "stretched:stack" || p["TagValue"] != "EcsWorker-Anywhere-onprem" {
		t.Errorf("nodes resource must name the site's cluster and stack tag: %s", jsonOf(p))
	}
	service := resources(s, "AWS::ECS::Service")[logicalID(t, s, "AWS::ECS::Service", "WorkerService")]
	if !slices.Contains(list(service["DependsOn"]), nodesID) {
		t.Errorf("the service must depend on %s (deleted before the nodes are deregistered), DependsOn %v", nodesID, service["DependsOn"])
	}
	// The fleet's function answers it: its permissions are in the regional
	// stack, deployed before every site and deleted after them.
	if token := jsonOf(p["ServiceToken"]); !strings.Contains(token, `"Fn::ImportValue":"EcsWorker-Regional:ExportsOutputFnGetAttSiteNodesHandler`) {
		t.Errorf("the nodes resource must be answered by the fleet's function: %s", token)
	}
	activationID := logicalID(t, s, "Custom::SsmActivation", "Activation")
	rule := resources(s, "AWS::Scheduler::Schedule")[logicalID(t, s, "AWS::Scheduler::Schedule", "ActivationRenewal")]
	if !slices.Contains(list(rule["DependsOn"]), activationID) {
		t.Errorf("the renewal schedule must go before the activation (a run between would make an activation nothing deletes), DependsOn %v", rule["DependsOn"])
	}
	if len(resources(variant["Variant-Anywhere-pi"], "Custom::SiteNodes")) != 0 {
		t.Error("keepNodesOnDestroy must leave out the deregistration")
	}
	if len(resources(variant["Variant-Anywhere-factory"], "Custom::SiteNodes")) != 1 {
		t.Error("every other site deregisters its nodes on destroy")
	}
}

func TestNodeDeregistrationLeastPrivilege(t *testing.T) {
	s := regional(t)
	got := map[string]statement{}
	for _, st := range statements(s, "SiteNodesHandlerRole") {
		for _, a := range st.actions {
			got[a] = st
		}
	}
	want := []string{"cloudformation:DescribeStacks", "cloudformation:ListStackResources", "ecs:DeregisterContainerInstance", "ecs:ListContainerInstances", "logs:CreateLogStream", "logs:PutLogEvents", "ssm:DeregisterManagedInstance", "ssm:DescribeInstanceInformation"}
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, want) {
		t.Errorf("node deregistration actions\n got %v\nwant %v", keys, want)
	}
	for _, a := range []string{"ecs:DeregisterContainerInstance", "ecs:ListContainerInstances"} {
		if c := jsonOf(got[a].raw["Condition"]); !strings.Contains(jsonOf(got[a].resource), ":cluster/*") || c != `{"StringEquals":{"aws:ResourceTag/stretched:fleet":"EcsWorker"}}` {
			t.Errorf("%s must be limited to the fleet's tagged clusters: %s", a, jsonOf(got[a].raw))
		}
	}
	if r := jsonOf(got["cloudformation:DescribeStacks"].resource); !strings.Contains(r, ":stack/EcsWorker-Anywhere-*/*") {
		t.Errorf("the stack status may be read of the app's site stacks only, resource %s", r)
	}
	dereg := got["ssm:DeregisterManagedInstance"]
	if c := jsonOf(dereg.raw["Condition"]); c != `{"StringLike":{"ssm:resourceTag/stretched:stack":"EcsWorker-Anywhere-*"}}` ||
		!strings.Contains(jsonOf(dereg.resource), ":managed-instance/*") {
		t.Errorf("managed-instance deregistration must be limited to the app's site stacks' tag: %s", jsonOf(dereg.raw))
	}
	site := anywhere(t)
	if tags := jsonOf(props(resources(site, "AWS::ECS::Cluster")[logicalID(t, site, "AWS::ECS::Cluster", "Cluster")])["Tags"]); !strings.Contains(tags, `{"Key":"stretched:fleet","Value":"EcsWorker"}`) {
		t.Errorf("the site's cluster must carry the fleet tag: %s", tags)
	}
}

func TestExternalTaskDefinitionFromSameSpec(t *testing.T) {
	requireSynth(t)
	r, a := regional(t), anywhere(t)
	td := only(t, a, "AWS::ECS::TaskDefinition")
	if jsonOf(td["RequiresCompatibilities"]) != `["EXTERNAL"]` || td["NetworkMode"] != "bridge" ||
		td["Family"] != "ecsworker-external" || td["Cpu"] != "256" || td["Memory"] != "512" {
		t.Errorf("external task definition: %s", jsonOf(td))
	}
	if got := jsonOf(td["Volumes"]); got != `[{"Host":{"SourcePath":"/data"},"Name":"share"}]` {
		t.Errorf("external volume %s, want the node's /data as share", got)
	}
	// The site's own roles: a node holds the credentials of its tasks.
	for _, k := range []string{"TaskRoleArn", "ExecutionRoleArn"} {
		if v := jsonOf(td[k]); strings.Contains(v, "Fn::ImportValue") || !strings.Contains(v, `"Worker`) {
			t.Errorf("%s must be a role of the site's stack, got %s", k, v)
		}
	}
	rc, ec := container(t, r), container(t, a)
	if jsonOf(rc["Image"]) != jsonOf(ec["Image"]) {
		t.Errorf("images differ:\n regional %s\n external %s", jsonOf(rc["Image"]), jsonOf(ec["Image"]))
	}
	for _, k := range []string{"Cpu", "Memory", "User", "StopTimeout", "MountPoints", "Essential"} {
		if jsonOf(rc[k]) != jsonOf(ec[k]) {
			t.Errorf("%s differs: regional %s, external %s", k, jsonOf(rc[k]), jsonOf(ec[k]))
		}
	}
	// A site's worker is restarted on its node when it exits, even with the
	// link down; a clean stop and a worker that cannot start are not.
	// Fargate replaces a stopped task itself: no restart policy there.
	if got := jsonOf(ec["RestartPolicy"]); got != `{"Enabled":true,"IgnoredExitCodes":[0],"RestartAttemptPeriod":60}` {
		t.Errorf("external container restart policy %s", got)
	}
	if rc["RestartPolicy"] != nil {
		t.Errorf("regional container restart policy %s, want none", jsonOf(rc["RestartPolicy"]))
	}
	renv, eenv := envOf(rc), envOf(ec)
	// The environment is exactly the contract: the names no worker secret may take.
	if !slices.Equal(slices.Sorted(mapsKeys(renv)), slices.Sorted(slices.Values(contract.Set))) || renv[contract.StopTimeout] != `"30"` {
		t.Errorf("environment contract: %v", renv)
	}
	for k, v := range renv {
		ev := eenv[k]
		if k == "SQS_QUEUE_URL" {
			// Each its own stack's queue (the site's in the site's stack).
			if !strings.Contains(v, `"WorkQueue`) || strings.Contains(v, "DeadLetter") || !strings.Contains(ev, `"WorkQueue`) || strings.Contains(ev, "DeadLetter") {
				t.Errorf("SQS_QUEUE_URL: regional %s, external %s", v, ev)
			}
			continue
		}
		if v != ev {
			t.Errorf("%s differs: regional %s, external %s", k, v, ev)
		}
	}
	rl, el := jsonOf(rc["LogConfiguration"]), jsonOf(ec["LogConfiguration"])
	if !strings.Contains(rl, `"awslogs-stream-prefix":"regional"`) || !strings.Contains(el, `"awslogs-stream-prefix":"external-onprem"`) ||
		!strings.Contains(el, "Fn::ImportValue") || !strings.Contains(el, "LogGroup") {
		t.Errorf("both sides log to the one regional group:\n regional %s\n external %s", rl, el)
	}
	// Each side its own roles.
	ext := defaultApp.Sites[0].Worker
	if *ext.TaskRole().RoleArn() == *defaultApp.Regional.Spec.TaskRole().RoleArn() || *ext.ExecutionRole().RoleArn() == *defaultApp.Regional.Spec.ExecutionRole().RoleArn() {
		t.Error("the site's tasks run as the regional spec's roles")
	}
}

func envOf(c map[string]any) map[string]string {
	out := map[string]string{}
	env, _ := c["Environment"].([]any)
	for _, e := range env {
		m := e.(map[string]any)
		out[m["Name"].(string)] = jsonOf(m["Value"])
	}
	return out
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestExternalService(t *testing.T) {
	s := anywhere(t)
	assertTemplate(t, s, func(tmpl assertions.Template) {
		tmpl.HasResourceProperties(jsii.String("AWS::ECS::Service"), map[string]any{
			"LaunchType": "EXTERNAL",
			"DeploymentConfiguration": assertions.Match_ObjectLike(&map[string]any{
				"MinimumHealthyPercent": 0,
				"MaximumPercent":        100,
			}),
			"PlacementStrategies":  []any{map[string]any{"Type": "spread", "Field": "instanceId"}},
			"EnableExecuteCommand": true,
		})
	})
}

func TestAnywhereOutputsNeverHoldTheCode(t *testing.T) {
	s := anywhere(t)
	outs, _ := s.template["Outputs"].(map[string]any)
	var keys []string
	for k := range outs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"ActivationSecretArn", "ClusterName", "JoinCommand", "JoinPolicyArn", "NodeOperatorPolicyArn", "ServiceName"}; !slices.Equal(keys, want) {
		t.Errorf("anywhere outputs %v, want %v (nothing a renewal makes stale)", keys, want)
	}
	join := jsonOf(outs["JoinCommand"])
	for _, want := range []string{"ecs-anywhere-install-latest.sh", ".asc", "F34C3DDAE72926B079BEAEC6BCE9D9A42D51784F", "--cluster", "--activation-id", "--activation-code",
		"secretsmanager get-secret-value", "--region", "ActivationCode", "ecs_anywhere_join"} {
		if !strings.Contains(join, want) {
			t.Errorf("join command lacks %q: %s", want, join)
		}
	}
	// The code exists only in the Lambda and the secret: no template names an
	// attribute that could carry it.
	for _, st := range all {
		if strings.Contains(jsonOf(st.template), `"ActivationCode"]`) || strings.Contains(jsonOf(st.template), "ActivationCode\"}") {
			t.Errorf("%s references an ActivationCode attribute", st.name)
		}
	}
}

func TestSitesAreSeparateStacks(t *testing.T) {
	requireSynth(t)
	names := map[string]string{}
	for _, name := range []string{"Variant-Anywhere-factory", "Variant-Anywhere-pi"} {
		s := variant[name]
		if s == nil {
			t.Fatalf("missing stack %s", name)
		}
		names[name], _ = only(t, s, "AWS::ECS::Cluster")["ClusterName"].(string)
	}
	if names["Variant-Anywhere-factory"] != "ecsAnywhereCluster-factory" || names["Variant-Anywhere-pi"] != "piCluster" {
		t.Errorf("cluster names: %v", names)
	}
}

// hasPrefix reports whether a resource's logical id starts with prefix.
func hasPrefix(rs map[string]map[string]any, prefix string) bool {
	for id := range rs {
		if strings.HasPrefix(id, prefix) {
			return true
		}
	}
	return false
}

// TestTaskCountReadsOnlyTheSitesServices: the task count's function lists
// and describes services of the site's cluster, nothing else.
func TestTaskCountReadsOnlyTheSitesServices(t *testing.T) {
	s := regional(t)
	var got []string
	for _, st := range statements(s, "TaskCountsHandlerRole") {
		for _, a := range st.actions {
			got = append(got, a)
			switch a {
			case "ecs:ListServices":
				if cond := jsonOf(st.raw["Condition"]); !strings.Contains(cond, `"ArnLike":{"ecs:cluster"`) || !strings.Contains(cond, `:cluster/*`) {
					t.Errorf("ListServices must be limited to the clusters of the account and region: %s", jsonOf(st.raw))
				}
			case "ecs:DescribeServices":
				if !strings.Contains(jsonOf(st.resource), ":service/*") || !strings.Contains(jsonOf(st.raw["Condition"]), `"ArnLike":{"ecs:cluster"`) {
					t.Errorf("DescribeServices must be limited to the services of the account and region: %s", jsonOf(st.raw))
				}
			}
		}
	}
	slices.Sort(got)
	if want := []string{"ecs:DescribeServices", "ecs:ListServices", "logs:CreateLogStream", "logs:PutLogEvents"}; !slices.Equal(got, want) {
		t.Errorf("task count actions\n got %v\nwant %v", got, want)
	}
}
