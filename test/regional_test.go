package test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

func regional(t *testing.T) *synthesized {
	t.Helper()
	requireSynth(t)
	return defaults["EcsWorker-Regional"]
}

func TestQueueEncryptedTLSOnlyWithRedrive(t *testing.T) {
	s := regional(t)
	// The count of queues per location: TestEveryLocationHasItsOwnQueue.
	queues := resources(s, "AWS::SQS::Queue")
	for id, q := range queues {
		if props(q)["KmsMasterKeyId"] == nil {
			t.Errorf("queue %s is not encrypted with the KMS key: %s", id, jsonOf(props(q)))
		}
	}
	assertTemplate(t, s, func(tmpl assertions.Template) {
		tmpl.HasResourceProperties(jsii.String("AWS::SQS::Queue"), map[string]any{
			"RedrivePolicy": map[string]any{
				"deadLetterTargetArn": assertions.Match_AnyValue(),
				"maxReceiveCount":     5,
			},
			"VisibilityTimeout": 60,
		})
		tmpl.HasResourceProperties(jsii.String("AWS::SQS::QueuePolicy"), map[string]any{
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Effect":    "Deny",
				"Action":    "sqs:*",
				"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
			})})},
		})
	})
	v := variant["Variant-Regional"]
	assertTemplate(t, v, func(tmpl assertions.Template) {
		tmpl.HasResourceProperties(jsii.String("AWS::SQS::Queue"), map[string]any{
			"RedrivePolicy": map[string]any{"deadLetterTargetArn": assertions.Match_AnyValue(), "maxReceiveCount": 3},
		})
	})
}

func TestRepositoryScannedImmutableWithLifecycle(t *testing.T) {
	s := regional(t)
	repo := only(t, s, "AWS::ECR::Repository")
	if jsonOf(repo["ImageScanningConfiguration"]) != `{"ScanOnPush":true}` {
		t.Errorf("scan on push: %s", jsonOf(repo["ImageScanningConfiguration"]))
	}
	if repo["ImageTagMutability"] != "IMMUTABLE" {
		t.Errorf("tag mutability: %v", repo["ImageTagMutability"])
	}
	if jsonOf(repo["EncryptionConfiguration"]) != `{"EncryptionType":"KMS"}` {
		t.Errorf("repository not KMS encrypted: %s", jsonOf(repo["EncryptionConfiguration"]))
	}
	// The rollback depth docs/pipeline.md states: 20 commits. Each commit is one
	// tagged image index; its untagged platform images must be neither
	// counted (they would shrink the depth) nor expired (the index would
	// lose a platform).
	text, _ := repo["LifecyclePolicy"].(map[string]any)["LifecyclePolicyText"].(string)
	var policy struct {
		Rules []struct {
			Selection struct {
				TagStatus      string   `json:"tagStatus"`
				TagPatternList []string `json:"tagPatternList"`
				CountType      string   `json:"countType"`
				CountNumber    int      `json:"countNumber"`
			} `json:"selection"`
		} `json:"rules"`
	}
	if err := json.Unmarshal([]byte(text), &policy); err != nil {
		t.Fatalf("lifecycle policy %q: %v", text, err)
	}
	if len(policy.Rules) != 1 {
		t.Fatalf("want one rule (keep the newest 20 tagged images), got %s", text)
	}
	sel := policy.Rules[0].Selection
	if sel.TagStatus != "tagged" || !slices.Equal(sel.TagPatternList, []string{"*"}) || sel.CountType != "imageCountMoreThan" || sel.CountNumber != 20 {
		t.Errorf("the rule must count tagged images only and keep 20: %s", text)
	}
}

func TestNoReservedConcurrency(t *testing.T) {
	requireSynth(t)
	for _, s := range all {
		for id, fn := range resources(s, "AWS::Lambda::Function") {
			if v, ok := props(fn)["ReservedConcurrentExecutions"]; ok {
				t.Errorf("%s/%s reserves %v concurrent executions: an account with a concurrency quota of 10 refuses the stack", s.name, id, v)
			}
		}
	}
}

func TestLogGroupRetainedEncrypted(t *testing.T) {
	s := regional(t)
	groups := resources(s, "AWS::Logs::LogGroup")
	for id, g := range groups {
		p := props(g)
		if p["KmsKeyId"] == nil {
			t.Errorf("log group %s is not KMS encrypted", id)
		}
		if p["RetentionInDays"] != float64(365) {
			t.Errorf("log group %s retention %v, want 365", id, p["RetentionInDays"])
		}
	}
	shared := groups[logicalID(t, s, "AWS::Logs::LogGroup", "LogGroup")]
	if shared["DeletionPolicy"] != "Retain" {
		t.Errorf("shared log group must survive stack deletion, has DeletionPolicy %v", shared["DeletionPolicy"])
	}
	for id, g := range resources(variant["Variant-Regional"], "AWS::Logs::LogGroup") {
		if props(g)["RetentionInDays"] != float64(731) {
			t.Errorf("variant log group %s retention %v, want 731", id, props(g)["RetentionInDays"])
		}
	}
}

func TestNoNatGatewayByDefault(t *testing.T) {
	s := regional(t)
	if n := len(resources(s, "AWS::EC2::NatGateway")); n != 0 {
		t.Errorf("default VPC has %d NAT gateways, want 0", n)
	}
	svc := only(t, s, "AWS::ECS::Service")
	if got := jsonOf(svc["NetworkConfiguration"]); !strings.Contains(got, `"AssignPublicIp":"ENABLED"`) {
		t.Errorf("without NAT the tasks need a public IP: %s", got)
	}
	for id, sg := range resources(s, "AWS::EC2::SecurityGroup") {
		if in := props(sg)["SecurityGroupIngress"]; in != nil {
			t.Errorf("security group %s allows inbound %s; the worker takes no inbound traffic", id, jsonOf(in))
		}
	}
	v := variant["Variant-Regional"]
	if n := len(resources(v, "AWS::EC2::NatGateway")); n != 1 {
		t.Errorf("natGateways=1 gives %d NAT gateways", n)
	}
	if got := jsonOf(only(t, v, "AWS::ECS::Service")["NetworkConfiguration"]); !strings.Contains(got, `"AssignPublicIp":"DISABLED"`) {
		t.Errorf("with NAT the tasks run privately: %s", got)
	}
}

func TestEncryptedEfsWithWorkerAccessPoint(t *testing.T) {
	s := regional(t)
	fs := only(t, s, "AWS::EFS::FileSystem")
	if fs["Encrypted"] != true {
		t.Errorf("file system not encrypted: %s", jsonOf(fs))
	}
	ap := only(t, s, "AWS::EFS::AccessPoint")
	if got := jsonOf(ap["PosixUser"]); got != `{"Gid":"1000","Uid":"1000"}` {
		t.Errorf("access point user %s, want the image's 1000:1000", got)
	}
	td := only(t, s, "AWS::ECS::TaskDefinition")
	vol := jsonOf(td["Volumes"])
	for _, want := range []string{`"TransitEncryption":"ENABLED"`, `"IAM":"ENABLED"`, `"Name":"share"`} {
		if !strings.Contains(vol, want) {
			t.Errorf("EFS volume %s lacks %s", vol, want)
		}
	}
}

func TestFargateServiceAsInReference(t *testing.T) {
	s := regional(t)
	assertTemplate(t, s, func(tmpl assertions.Template) {
		tmpl.HasResourceProperties(jsii.String("AWS::ECS::Cluster"), map[string]any{
			"ClusterSettings": []any{map[string]any{"Name": "containerInsights", "Value": "enabled"}},
		})
		tmpl.HasResourceProperties(jsii.String("AWS::ECS::Service"), map[string]any{
			"LaunchType":           "FARGATE",
			"EnableExecuteCommand": true,
			"DeploymentConfiguration": assertions.Match_ObjectLike(&map[string]any{
				"DeploymentCircuitBreaker": map[string]any{"Enable": true, "Rollback": true},
			}),
		})
		tmpl.HasResourceProperties(jsii.String("AWS::ECS::TaskDefinition"), map[string]any{
			"Family":                  "ecsworker",
			"Cpu":                     "256",
			"Memory":                  "512",
			"RequiresCompatibilities": []any{"FARGATE"},
			"NetworkMode":             "awsvpc",
		})
	})
}

func TestImageSource(t *testing.T) {
	requireSynth(t)
	def := container(t, regional(t))
	if !strings.Contains(jsonOf(def["Image"]), "container-assets") {
		t.Errorf("without imageTag the image is the worker's Dockerfile built as an asset, got %s", jsonOf(def["Image"]))
	}
	v := container(t, variant["Variant-Regional"])
	img := jsonOf(v["Image"])
	if !strings.Contains(img, ":v1.2.3") || !strings.Contains(img, "Repository") {
		t.Errorf("imageTag=v1.2.3 must use the stack's repository at that tag, got %s", img)
	}
}

// container returns the worker container definition of the stack's task definition.
func container(t *testing.T, s *synthesized) map[string]any {
	t.Helper()
	defs, _ := only(t, s, "AWS::ECS::TaskDefinition")["ContainerDefinitions"].([]any)
	if len(defs) != 1 {
		t.Fatalf("%s: want one container, got %d", s.name, len(defs))
	}
	return defs[0].(map[string]any)
}

func TestTaskRoleOnlyConsumesQueueAndMountsAccessPoint(t *testing.T) {
	s := regional(t)
	var sqs, efs []statement
	for _, st := range statements(s, "WorkerSpecTaskRole") {
		for _, a := range st.actions {
			if a == "*" || strings.HasSuffix(a, ":*") {
				t.Errorf("task role allows wildcard action %q", a)
			}
		}
		switch {
		case strings.HasPrefix(st.actions[0], "sqs:"):
			sqs = append(sqs, st)
		case strings.HasPrefix(st.actions[0], "elasticfilesystem:"):
			efs = append(efs, st)
		}
	}
	// The region's queue by ARN, nothing else: each site's tasks run as
	// the site's own task role.
	if len(sqs) != 1 || sqs[0].raw["Condition"] != nil || !strings.Contains(jsonOf(sqs[0].resource), `"WorkQueue`) {
		t.Fatalf("want one SQS statement on the task role, the region's queue by ARN, got %d: %v", len(sqs), sqs)
	}
	got := slices.Sorted(slices.Values(sqs[0].actions))
	// Spelled out, not workqueue.ConsumeActions: widening that list must
	// fail here.
	want := []string{"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"}
	if !slices.Equal(got, want) {
		t.Errorf("task role SQS actions %v, want exactly %v", got, want)
	}
	if r := jsonOf(sqs[0].resource); !strings.Contains(r, `"WorkQueue`) || strings.Contains(r, "DeadLetter") {
		t.Errorf("SQS statement must name the work queue only, got %s", r)
	}
	if len(efs) != 1 || !strings.Contains(jsonOf(efs[0].raw["Condition"]), "elasticfilesystem:AccessPointArn") {
		t.Errorf("EFS access must be limited to the access point: %+v", efs)
	}
}

func TestExecutionRolePullsAndLogsOnly(t *testing.T) {
	s := regional(t)
	allowed := map[string]bool{
		"ecr:BatchCheckLayerAvailability": true, "ecr:GetDownloadUrlForLayer": true, "ecr:BatchGetImage": true,
		"ecr:GetAuthorizationToken": true, "logs:CreateLogStream": true, "logs:PutLogEvents": true,
	}
	sts := statements(s, "WorkerSpecExecutionRole")
	if len(sts) == 0 {
		t.Fatal("execution role has no policy")
	}
	for _, st := range sts {
		for _, a := range st.actions {
			if !allowed[a] {
				t.Errorf("execution role allows %q, beyond pulling the image and writing logs", a)
			}
			if a == "ecr:GetAuthorizationToken" {
				continue // has no resource-level permissions
			}
			if jsonOf(st.resource) == `"*"` {
				t.Errorf("execution role allows %q on every resource", a)
			}
		}
	}
}

func TestNoWildcardActionsOnOwnResources(t *testing.T) {
	requireSynth(t)
	// Actions AWS offers only on "*" and that CDK adds for ECS Exec.
	noResourceLevel := map[string]bool{
		"ssmmessages:CreateControlChannel": true, "ssmmessages:CreateDataChannel": true,
		"ssmmessages:OpenControlChannel": true, "ssmmessages:OpenDataChannel": true,
		"ecr:GetAuthorizationToken": true, "ssm:CreateActivation": true, "ssm:DeleteActivation": true,
		"ssm:DescribeActivations": true, "ssm:DescribeInstanceInformation": true, "ecs:ListServices": true,
		"ec2:DescribeSecurityGroups": true, "ec2:AuthorizeSecurityGroupIngress": true,
		"ec2:AuthorizeSecurityGroupEgress": true, "ec2:RevokeSecurityGroupIngress": true, "ec2:RevokeSecurityGroupEgress": true,
		"logs:CreateLogDelivery": true, "logs:DescribeLogGroups": true,
	}
	for _, s := range all {
		if strings.HasSuffix(s.name, "-Pipeline") {
			// CDK Pipelines' own roles use aws-cdk's grants on the
			// pipeline's bucket and key (s3:GetObject* ...); the pipeline's
			// own steps are checked in pipeline_test.go.
			continue
		}
		for _, st := range statements(s, "") {
			for _, a := range st.actions {
				if a == "*" || strings.HasSuffix(a, ":*") || strings.Contains(a, "*") {
					t.Errorf("%s: policy %s allows wildcard action %q", s.name, st.policy, a)
				}
				if jsonOf(st.resource) == `"*"` && !noResourceLevel[a] {
					t.Errorf("%s: policy %s allows %q on every resource", s.name, st.policy, a)
				}
			}
		}
	}
}

func TestRegionalOutputs(t *testing.T) {
	s := regional(t)
	outs, _ := s.template["Outputs"].(map[string]any)
	for _, k := range []string{"QueueUrl", "DeadLetterQueueUrl", "RepositoryUri", "LogGroupName", "ClusterName", "ServiceName"} {
		if _, ok := outs[k]; !ok {
			t.Errorf("regional stack lacks output %s", k)
		}
	}
}

// TestPinnedEnvironmentNeedsNoLookup: with an account and region, synthesis
// still asks AWS nothing (no credentials, no cdk.context.json).
func TestPinnedEnvironmentNeedsNoLookup(t *testing.T) {
	requireSynth(t)
	if len(missing) != 0 {
		t.Errorf("synthesis needs context lookups (AWS calls): %v", missing)
	}
	s := pinned["Pinned-Regional"]
	if !strings.Contains(jsonOf(s.template), `"Fn::GetAZs"`) {
		t.Error("the pinned VPC must take its AZs from CloudFormation")
	}
}
