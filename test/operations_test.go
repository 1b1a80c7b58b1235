package test

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// TestDeploysLeaveTheTaskCountAlone: scaling owns the count, so a deploy
// must not set one of its own (CloudFormation sets DesiredCount on every
// update when the template has it). The regional service has none; a site's
// service has the count Custom::ServiceTaskCount reads from the service
// itself right before (0 before it exists: a new site has no node, and
// CloudFormation would wait for its first task for hours), re-read whenever
// the task definition or another setting of the service changes.
func TestDeploysLeaveTheTaskCountAlone(t *testing.T) {
	requireSynth(t)
	for _, s := range all {
		for id, r := range resources(s, "AWS::ECS::Service") {
			d, set := props(r)["DesiredCount"]
			if !strings.Contains(s.name, "-Anywhere-") {
				if set {
					t.Errorf("%s: service %s sets DesiredCount %v: a deploy would reset the scaled count", s.name, id, d)
				}
				continue
			}
			countID := logicalID(t, s, "Custom::ServiceTaskCount", "TaskCount")
			if want := `{"Fn::GetAtt":["` + countID + `","DesiredCount"]}`; jsonOf(d) != want {
				t.Errorf("%s: service %s DesiredCount %s, want %s", s.name, id, jsonOf(d), want)
			}
			count := props(resources(s, "Custom::ServiceTaskCount")[countID])
			td := logicalID(t, s, "AWS::ECS::TaskDefinition", "WorkerTaskDefinition")
			if jsonOf(count["TaskDefinition"]) != `{"Ref":"`+td+`"}` || count["Family"] != "ecsworker-external" ||
				!strings.Contains(jsonOf(count["ServiceSettings"]), "PlacementStrategies") || !strings.Contains(jsonOf(count["ServiceSettings"]), "DeploymentConfiguration") {
				t.Errorf("%s: the count must be re-read when the task definition or the service's settings change: %s", s.name, jsonOf(count))
			}
		}
	}
}

func TestRegionalScalesOnQueueDepth(t *testing.T) {
	s := regional(t)
	assertTemplate(t, s, func(tmpl assertions.Template) {
		tmpl.ResourceCountIs(jsii.String("AWS::ApplicationAutoScaling::ScalableTarget"), jsii.Number(1))
		tmpl.HasResourceProperties(jsii.String("AWS::ApplicationAutoScaling::ScalableTarget"), map[string]any{
			"MinCapacity":       1,
			"MaxCapacity":       10,
			"ScalableDimension": "ecs:service:DesiredCount",
			"ServiceNamespace":  "ecs",
			"ResourceId":        assertions.Match_AnyValue(),
			"RoleARN": map[string]any{"Fn::Join": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ArrayWith(&[]any{assertions.Match_StringLikeRegexp(jsii.String("AWSServiceRoleForApplicationAutoScaling_ECSService"))}),
			})},
		})
	})
	steps := stepPolicies(t, s)
	if got := jsonOf(steps); !strings.Contains(got, `"MetricIntervalUpperBound":0,"ScalingAdjustment":-1`) ||
		!strings.Contains(got, `"MetricIntervalLowerBound":0,"MetricIntervalUpperBound":400,"ScalingAdjustment":1`) ||
		!strings.Contains(got, `"MetricIntervalLowerBound":400,"ScalingAdjustment":5`) {
		t.Errorf("depth steps must be: empty -1, from 100 +1, from 500 +5; got %s", got)
	}
	alarms := jsonOf(resources(s, "AWS::CloudWatch::Alarm"))
	if !strings.Contains(alarms, `"MetricName":"ApproximateNumberOfMessagesVisible"`) || !strings.Contains(alarms, `"Threshold":100`) {
		t.Errorf("depth scaling alarms on visible messages from 100: %s", alarms)
	}
}

func TestRegionalBurstScalesOnAgeFromZero(t *testing.T) {
	requireSynth(t)
	s := variant["Variant-Regional"]
	target := only(t, s, "AWS::ApplicationAutoScaling::ScalableTarget")
	if target["MinCapacity"] != float64(0) || target["MaxCapacity"] != float64(6) {
		t.Errorf("burst: 0..6 tasks, got %s", jsonOf(target))
	}
	var thresholds []float64
	for _, a := range resources(s, "AWS::CloudWatch::Alarm") {
		p := props(a)
		if p["MetricName"] == "ApproximateAgeOfOldestMessage" && p["AlarmActions"] != nil && strings.Contains(jsonOf(p["AlarmActions"]), "Policy") {
			thresholds = append(thresholds, p["Threshold"].(float64))
		}
	}
	slices.Sort(thresholds)
	if jsonOf(thresholds) != "[75,300]" {
		t.Errorf("burst scales in below 75 s and out from 300 s of age, alarm thresholds %v", thresholds)
	}
}

func stepPolicies(t *testing.T, s *synthesized) []any {
	t.Helper()
	var steps []any
	for _, p := range resources(s, "AWS::ApplicationAutoScaling::ScalingPolicy") {
		cfg, _ := props(p)["StepScalingPolicyConfiguration"].(map[string]any)
		if cfg["AdjustmentType"] != "ChangeInCapacity" {
			t.Errorf("%s: step policies change the count by tasks: %s", s.name, jsonOf(cfg))
		}
		steps = append(steps, cfg["StepAdjustments"])
	}
	if len(steps) != 2 {
		t.Fatalf("%s: want a scale-in and a scale-out policy, got %d", s.name, len(steps))
	}
	return steps
}

// One agent serves the fleet: its function, role and rules are in the
// regional stack, and a site adds only its directory entry (and the tags
// that let the agent act on its cluster, service and queue).
func TestSiteAgentScalesTheExternalService(t *testing.T) {
	s, r := anywhere(t), regional(t)
	if len(resources(s, "AWS::ApplicationAutoScaling::ScalableTarget")) != 0 {
		t.Error("the EXTERNAL service is scaled by the site agent, not Application Auto Scaling")
	}
	if n := len(resources(s, "AWS::Lambda::Function")) + len(resources(s, "AWS::Events::Rule")); len(resourcesWithPrefix(s, "AWS::Lambda::Function", "Agent")) != 0 || n > 6 {
		t.Errorf("a site brings no agent function or rule of its own (%d functions and rules in its stack)", n)
	}
	agentID := logicalID(t, r, "AWS::Lambda::Function", "SiteAgentHandler")
	fn := props(resources(r, "AWS::Lambda::Function")[agentID])
	if env := jsonOf(fn["Environment"]); !strings.Contains(env, `"SITE_DIRECTORY":"/EcsWorker/sites"`) {
		t.Errorf("agent environment lacks the site directory: %s", env)
	}
	if _, reserved := fn["ReservedConcurrentExecutions"]; reserved || jsonOf(fn["LoggingConfig"]) != `{"LogFormat":"Text","LogGroup":{"Ref":"`+logicalID(t, r, "AWS::Logs::LogGroup", "SiteAgentHandlerLogs")+`"}}` {
		t.Errorf("no reserved concurrency (an account with a quota of 10 refuses any), text logs for the embedded metric format: %s", jsonOf(fn))
	}
	cluster := logicalID(t, s, "AWS::ECS::Cluster", "Cluster")
	entry := jsonOf(props(resources(s, "AWS::SSM::Parameter")[logicalID(t, s, "AWS::SSM::Parameter", "AgentEntry")]))
	for _, want := range []string{`"Name":"/EcsWorker/sites/onprem"`, `"Tier":"Standard"`, `\"minTasks\":1`, `\"maxTasks\":3`, `\"backlogPerTask\":100`,
		`{"Ref":"` + cluster + `"}`, `{"Fn::GetAtt":["WorkerService`, `\"queueUrl\":\"",{"Ref":"WorkQueueAD162499"}`, `\"site\":\"onprem\"`,
		`\"deadLetterQueueUrl\":\"",{"Ref":"WorkQueueDeadLetterQueueF71CA21F"}`, `\"entryTopicArn\":\"",{"Fn::ImportValue":"EcsWorker-Regional:ExportsOutputRefEntryTopic`} {
		if !strings.Contains(entry, want) {
			t.Errorf("directory entry lacks %s: %s", want, entry)
		}
	}
	factory := variant["Variant-Anywhere-factory"]
	fentry := jsonOf(props(resources(factory, "AWS::SSM::Parameter")[logicalID(t, factory, "AWS::SSM::Parameter", "AgentEntry")]))
	if !strings.Contains(fentry, `\"minTasks\":2`) || !strings.Contains(fentry, `\"maxTasks\":5`) || !strings.Contains(fentry, `"/Variant/sites/factory"`) {
		t.Errorf("site factory's minTasks 2, maxTasks 5 not in its entry of the Variant directory: %s", fentry)
	}
	fleetTag := `{"Key":"stretched:fleet","Value":"EcsWorker"}`
	for _, res := range []struct {
		st  *synthesized
		typ string
		id  string
	}{{s, "AWS::ECS::Cluster", "Cluster"}, {s, "AWS::ECS::Service", "WorkerService"}, {s, "AWS::SQS::Queue", "WorkQueueAD"}, {r, "AWS::SQS::Queue", "WorkQueueAD"}} {
		if tags := jsonOf(props(resources(res.st, res.typ)[logicalID(t, res.st, res.typ, res.id)])["Tags"]); !strings.Contains(tags, fleetTag) {
			t.Errorf("%s %s lacks the tag %s the agent is scoped by: %s", res.st.name, res.id, fleetTag, tags)
		}
	}
	assertTemplate(t, r, func(tmpl assertions.Template) {
		tmpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
			"ScheduleExpression": "rate(1 minute)",
			"Targets":            []any{assertions.Match_ObjectLike(&map[string]any{"Arn": map[string]any{"Fn::GetAtt": []any{agentID, "Arn"}}})},
		})
		tmpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
			"EventPattern": map[string]any{"source": []any{"aws.ecs"}, "detail-type": []any{"ECS Container Instance State Change"}},
			"Targets":      []any{assertions.Match_ObjectLike(&map[string]any{"Arn": map[string]any{"Fn::GetAtt": []any{agentID, "Arn"}}})},
		})
	})
	got := map[string]statement{}
	for _, st := range statements(r, "SiteAgentHandlerRole") {
		for _, a := range st.actions {
			got[a] = st
		}
	}
	for a, want := range map[string]string{
		"ssm:GetParametersByPath":        `:parameter/EcsWorker/sites"`,
		"ecs:ListContainerInstances":     `:cluster/*"`,
		"ecs:UpdateService":              `:service/*"`,
		"ecs:DescribeServices":           `:service/*"`,
		"ecs:DescribeContainerInstances": `:container-instance/*"`,
		"sqs:GetQueueAttributes":         `:sqs:`,
	} {
		if !strings.Contains(jsonOf(got[a].resource), want) {
			t.Errorf("%s must be on %s, resource %s", a, want, jsonOf(got[a].resource))
		}
	}
	for _, a := range []string{"ecs:ListContainerInstances", "ecs:UpdateService", "ecs:DescribeServices", "sqs:GetQueueAttributes"} {
		if c := jsonOf(got[a].raw["Condition"]); c != `{"StringEquals":{"aws:ResourceTag/stretched:fleet":"EcsWorker"}}` {
			t.Errorf("%s must be limited to what this app's fleet tag marks: %s", a, c)
		}
	}
}

func TestAlarmsAndTheirTopic(t *testing.T) {
	s := regional(t)
	topic := props(resources(s, "AWS::SNS::Topic")[logicalID(t, s, "AWS::SNS::Topic", "AlertsTopic")])
	if topic["KmsMasterKeyId"] == nil {
		t.Errorf("the alarm topic must be KMS encrypted: %s", jsonOf(topic))
	}
	for id, sub := range resources(s, "AWS::SNS::Subscription") {
		if props(sub)["Protocol"] != "sqs" {
			t.Errorf("no e-mail subscription without alarmEmail, got %s: %s", id, jsonOf(sub))
		}
	}
	if sub := only(t, variant["Variant-Regional"], "AWS::SNS::Subscription"); sub["Protocol"] != "email" || sub["Endpoint"] != "ops@example.com" {
		t.Errorf("alarmEmail subscription: %s", jsonOf(sub))
	}
	assertTemplate(t, s, func(tmpl assertions.Template) {
		tmpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
			"MetricName": "ApproximateNumberOfMessagesVisible", "Threshold": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
			"Dimensions":   []any{map[string]any{"Name": "QueueName", "Value": map[string]any{"Fn::GetAtt": []any{logicalID(t, s, "AWS::SQS::Queue", "WorkQueueDeadLetterQueue"), "QueueName"}}}},
			"AlarmActions": []any{map[string]any{"Ref": logicalID(t, s, "AWS::SNS::Topic", "AlertsTopic")}},
		})
		tmpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
			"MetricName": "ApproximateAgeOfOldestMessage", "Threshold": 900, "ComparisonOperator": "GreaterThanThreshold",
			"AlarmActions": []any{map[string]any{"Ref": logicalID(t, s, "AWS::SNS::Topic", "AlertsTopic")}},
		})
	})
	// The fleet's agent failing: one alarm in the region, a quarter hour of
	// failing runs.
	failing := props(resources(s, "AWS::CloudWatch::Alarm")[logicalID(t, s, "AWS::CloudWatch::Alarm", "SiteAgentAgentFailing")])
	if failing["MetricName"] != "Errors" || failing["Statistic"] != "Sum" || failing["EvaluationPeriods"] != float64(15) || failing["DatapointsToAlarm"] != float64(15) ||
		jsonOf(failing["AlarmActions"]) != `[{"Ref":"`+logicalID(t, s, "AWS::SNS::Topic", "AlertsTopic")+`"}]` {
		t.Errorf("AgentFailing must need a quarter hour of failing runs and notify: %s", jsonOf(failing))
	}
	// Renewals run once a day per site: between runs the alarm must keep
	// what the last run said, not fall back to OK.
	renewal := props(resources(s, "AWS::CloudWatch::Alarm")[logicalID(t, s, "AWS::CloudWatch::Alarm", "ActivationsRenewalFailed")])
	// One function renews every site: errors are summed over a day, so
	// another site's success (an hour of 0 errors) does not clear a site
	// whose daily renewal fails.
	if renewal["MetricName"] != "Errors" || renewal["TreatMissingData"] != "ignore" || renewal["Period"] != float64(86400) || renewal["Statistic"] != "Sum" ||
		jsonOf(renewal["AlarmActions"]) != `[{"Ref":"`+logicalID(t, s, "AWS::SNS::Topic", "AlertsTopic")+`"}]` {
		t.Errorf("RenewalFailed must keep a day's failures, keep its state between runs and notify: %s", jsonOf(renewal))
	}
	site := anywhere(t)
	// A site's queue alarms are in its stack, beside the queue: the
	// regional stack has none per site.
	for _, id := range []string{"DeadLettersAlarm", "OldestMessageAlarm"} {
		if len(resourcesWithPrefix(s, "AWS::CloudWatch::Alarm", id+"onprem")) != 0 {
			t.Errorf("the regional stack has the site's %s", id)
		}
		a := props(resources(site, "AWS::CloudWatch::Alarm")[logicalID(t, site, "AWS::CloudWatch::Alarm", id)])
		dims := jsonOf(a["Dimensions"])
		if !strings.Contains(dims, `{"Fn::GetAtt":["WorkQueue`) ||
			!strings.Contains(jsonOf(a["AlarmActions"]), "Fn::ImportValue") {
			t.Errorf("site alarm %s must watch the site's queue and notify the app's topic: %s", id, jsonOf(a))
		}
	}
	// The sites' node and task alarms are the fleet's, in the regional
	// stack, on the agent's counts of sites: none per site.
	if n := len(resources(site, "AWS::CloudWatch::Alarm")); n != 2 {
		t.Errorf("a site has %d alarms, want its queue's 2 only", n)
	}
	for prefix, want := range map[string]struct {
		metric  string
		minutes float64
	}{
		"SiteAgentSitesOffline":           {"SitesOffline", 5},
		"SiteAgentSitesNodeDisconnected":  {"SitesNodeDisconnected", 10},
		"SiteAgentSitesTasksBelowDesired": {"SitesTasksBelowDesired", 10},
	} {
		a := props(resources(s, "AWS::CloudWatch::Alarm")[logicalID(t, s, "AWS::CloudWatch::Alarm", prefix)])
		if a["MetricName"] != want.metric || a["Namespace"] != "EcsAnywhereStretched" || jsonOf(a["Dimensions"]) != `[{"Name":"Fleet","Value":"EcsWorker"}]` ||
			a["Statistic"] != "Minimum" || a["EvaluationPeriods"] != want.minutes || a["DatapointsToAlarm"] != want.minutes || a["Threshold"] != float64(1) ||
			a["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" || jsonOf(a["AlarmActions"]) != `[{"Ref":"`+logicalID(t, s, "AWS::SNS::Topic", "AlertsTopic")+`"}]` {
			t.Errorf("%s must alarm when at least one site is counted for %v minutes in a row and notify the app's topic: %s", prefix, want.minutes, jsonOf(a))
		}
	}
}

func TestDashboard(t *testing.T) {
	requireSynth(t)
	body := jsonOf(only(t, variant["Variant-Regional"], "AWS::CloudWatch::Dashboard")["DashboardBody"])
	for _, want := range []string{"ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible", "ApproximateAgeOfOldestMessage",
		"RunningTaskCount", "DesiredTaskCount", "SitesOffline", "SitesNodeDisconnected", "SitesTasksBelowDesired", "site state"} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard lacks %s", want)
		}
	}
	if d := only(t, regional(t), "AWS::CloudWatch::Dashboard"); d["DashboardName"] != "EcsWorker" {
		t.Errorf("dashboard name %v, want the stack prefix", d["DashboardName"])
	}
}

func TestInventoryAndPatchAssociations(t *testing.T) {
	requireSynth(t)
	target := func(site string) []any {
		return []any{map[string]any{"Key": "tag:stretched:stack", "Values": []any{site}}}
	}
	byName := func(s *synthesized) map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, r := range resources(s, "AWS::SSM::Association") {
			out[props(r)["Name"].(string)] = props(r)
		}
		return out
	}
	def := byName(anywhere(t))
	inv := def["AWS-GatherSoftwareInventory"]
	params, _ := inv["Parameters"].(map[string]any)
	if jsonOf(inv["Targets"]) != jsonOf(target("EcsWorker-Anywhere-onprem")) || inv["ScheduleExpression"] != "rate(12 hours)" ||
		jsonOf(params["applications"]) != `["Enabled"]` {
		t.Errorf("inventory association: %s", jsonOf(inv))
	}
	patch := def["AWS-RunPatchBaseline"]
	if jsonOf(patch["Parameters"]) != `{"Operation":["Scan"],"RebootOption":["NoReboot"]}` || patch["ScheduleExpression"] != "cron(0 3 ? * SUN *)" ||
		jsonOf(patch["Targets"]) != jsonOf(target("EcsWorker-Anywhere-onprem")) {
		t.Errorf("default patch association scans weekly: %s", jsonOf(patch))
	}
	// Site factory: patching install, on Saturdays.
	assertTemplate(t, variant["Variant-Anywhere-factory"], func(tmpl assertions.Template) {
		tmpl.HasResourceProperties(jsii.String("AWS::SSM::Association"), map[string]any{
			"Name":               "AWS-RunPatchBaseline",
			"Parameters":         assertions.Match_ObjectLike(&map[string]any{"Operation": []any{"Install"}}),
			"ScheduleExpression": "cron(0 2 ? * SAT *)",
		})
	})
	pi := byName(variant["Variant-Anywhere-pi"])
	if _, has := pi["AWS-RunPatchBaseline"]; has || pi["AWS-GatherSoftwareInventory"] == nil {
		t.Errorf("site pi: inventory, no patching: %v", pi)
	}
	// Site factory updates its nodes' ECS agent on Mondays, one node at a
	// time, the first failure stopping the round; the default site does not.
	if _, has := def["AWS-RunShellScript"]; has {
		t.Error("the default site has an ECS agent update association")
	}
	up := byName(variant["Variant-Anywhere-factory"])["AWS-RunShellScript"]
	if up == nil || up["ScheduleExpression"] != "cron(0 4 ? * MON *)" || up["MaxConcurrency"] != "1" || up["MaxErrors"] != "0" ||
		!strings.Contains(jsonOf(up["Parameters"]), "amazon-ecs-init-latest") || !strings.Contains(jsonOf(up["Parameters"]), "systemctl restart ecs") {
		t.Errorf("ECS agent update association: %s", jsonOf(up))
	}
	// Every site keeps its nodes' SSM Agent current (an older one reconnects
	// hours after an outage), patching or not.
	for _, s := range []map[string]map[string]any{def, pi} {
		up := s["AWS-UpdateSSMAgent"]
		if up == nil || up["ScheduleExpression"] != "rate(7 days)" || jsonOf(up["Parameters"]) != `{"allowDowngrade":["false"]}` || !strings.Contains(jsonOf(up["Targets"]), "tag:stretched:stack") {
			t.Errorf("SSM Agent update association: %s", jsonOf(up))
		}
	}
}
