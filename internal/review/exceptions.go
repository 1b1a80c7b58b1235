package review

import (
	"fmt"
	"regexp"
	"strings"
)

// GuardException is a Control Tower rule (cfn-guard) that resources of
// this app fail on purpose: the rule, the logical id patterns of the
// resources (anchored at the start), and why. test/checkers_test.go fails
// on any other finding; the review lists each with its resources.
type GuardException struct {
	Rule string
	// Type is the resource type the rule checks.
	Type      string
	Resources []string
	Reason    string
	// Fails, when set, tells from a resource's properties whether it fails
	// the rule (a pattern can name resources that pass it); nil: every
	// matching resource fails.
	Fails func(props map[string]any) bool
}

// GuardExceptions are the app's cfn-guard exceptions (docs/security.md).
var GuardExceptions = []GuardException{
	{"ecs_containers_readonly_access_check", "AWS::ECS::TaskDefinition", []string{"WorkerTaskDefinition"},
		"ECS Exec's agent needs a writable root filesystem", nil},
	{"lambda_inside_vpc_check", "AWS::Lambda::Function", []string{"ActivationsHandler", "SiteNodesHandler", "SiteAgentHandler", "TaskCountsHandler", "CustomVpcRestrictDefaultSGCustomResourceProviderHandler"},
		"the fleet's functions call only public AWS APIs (CDK's default-security-group handler only EC2's); in a VPC they would need a NAT gateway or endpoints", nil},
	{"ecs_service_assign_public_ip_disabled_check", "AWS::ECS::Service", []string{"WorkerService"},
		"without a NAT gateway (the default) Fargate tasks reach AWS through a public IP; security groups allow no inbound traffic",
		func(p map[string]any) bool {
			return strings.Contains(fmt.Sprint(p["NetworkConfiguration"]), "AssignPublicIp:ENABLED")
		}},
	{"s3_event_notifications_enabled_check", "AWS::S3::Bucket", []string{"Artifacts", "CrossRegionCodePipelineReplicationBucket", "ReplicationAccessLogs"},
		"nothing consumes the pipeline artifact bucket's object events (CodePipeline reads artifacts itself)", nil},
	{"s3_bucket_object_lock_enabled_check", "AWS::S3::Bucket", []string{"Artifacts", "CrossRegionCodePipelineReplicationBucket", "ReplicationAccessLogs"},
		"object lock would keep every superseded artifact; the repository is the record of what was deployed", nil},
	{"s3_bucket_logging_enabled_check", "AWS::S3::Bucket", []string{"ArtifactsAccessLogs", "ReplicationAccessLogs"},
		"the access-log bucket does not log its own access", func(p map[string]any) bool { return p["LoggingConfiguration"] == nil }},
	{"kms_create_grant_aws_service_check", "AWS::KMS::Key", []string{"CrossRegionCodePipelineReplicationBucketEncryptionKey"},
		"the key CDK makes for a pipeline's artifacts in another region: its policy lets the account's root administer it, as CDK's default key policy does; only the pipeline's roles use it", nil},
	{"s3_bucket_default_encryption_kms_check", "AWS::S3::Bucket", []string{"ArtifactsAccessLogs", "ReplicationAccessLogs"},
		"S3 delivers server access logs only to a bucket with SSE-S3", func(p map[string]any) bool { return !strings.Contains(fmt.Sprint(p["BucketEncryption"]), "aws:kms") }},
	{"sqs_dlq_check", "AWS::SQS::Queue", []string{"WorkQueue[a-z0-9]*DeadLetterQueue", "EntryUnrouted"},
		"the dead-letter queues and the unrouted queue are the end of the line: a DLQ of their own would only move the problem",
		func(p map[string]any) bool { return p["RedrivePolicy"] == nil }},
	{"sqs_queue_encrypted_check", "AWS::SQS::Queue", []string{"WorkQueue"},
		"a site's queues are encrypted with the app's key, imported from the regional stack: the rule reads only a literal or a key of the same template (TestEveryLocationHasItsOwnQueue checks every queue's key)",
		func(p map[string]any) bool {
			return strings.Contains(fmt.Sprint(p["KmsMasterKeyId"]), "Fn::ImportValue")
		}},
	{"ecs_container_insights_enabled_check", "AWS::ECS::Cluster", []string{"Cluster"},
		"a site's cluster has Container Insights only when the site sets containerInsights: 16 or more custom metrics a cluster would cost a fleet several USD a site a month (the regional cluster keeps it)",
		func(p map[string]any) bool {
			return !strings.Contains(fmt.Sprint(p["ClusterSettings"]), "Value:enabled")
		}},
	{"codebuild_project_environment_privileged_check", "AWS::CodeBuild::Project", []string{"PipelineAssetsDockerAsset", "Pipeline[A-Za-z]*MultiArchImage"},
		"the pipeline's Docker builds run the Docker daemon inside CodeBuild, which needs privileged mode; no other project has it", nil},
}

// GuardExcepted tells whether a cfn-guard finding (rule, logical id) is
// one of GuardExceptions.
func GuardExcepted(rule, logicalID string) bool {
	for _, e := range GuardExceptions {
		if e.Rule != rule {
			continue
		}
		for _, p := range e.Resources {
			if regexp.MustCompile("^" + p).MatchString(logicalID) {
				return true
			}
		}
	}
	return false
}

// LintIgnored are the cfn-lint checks the app's tests ignore, and why.
var LintIgnored = []struct{ Check, Where, Reason string }{
	{"W3005", "every template", "CDK writes a DependsOn next to the GetAtt of every Lambda function's role, which the GetAtt already implies"},
	{"E3703", "the pipeline stack", "CDK Pipelines writes role ARNs into its CloudFormation actions' free-form Configuration as an empty-delimiter Fn::Join"},
}

// Exception is one checker exception as the review lists it.
type Exception struct {
	Checker, Rule, Resource, Reason string
}

// Line is the exception as one line of text.
func (e Exception) Line() string {
	return strings.Join([]string{e.Checker, e.Rule, e.Resource, e.Reason}, " | ")
}

// exceptions are a stack's checker exceptions: its cdk-nag suppressions
// (template metadata), the cfn-guard exceptions its resources match (a
// pattern of a rule the resource's type can fail: the rule's service), and
// the ignored cfn-lint checks.
func (a *Assembly) exceptions(s Stack) []Exception {
	var out []Exception
	nag := func(where string, md any) {
		m, _ := md.(map[string]any)
		cn, _ := m["cdk_nag"].(map[string]any)
		for _, raw := range list(cn["rules_to_suppress"]) {
			r, _ := raw.(map[string]any)
			rule := fmt.Sprint(r["id"])
			if applies := list(r["applies_to"]); len(applies) > 0 {
				var parts []string
				for _, ap := range applies {
					if am, ok := ap.(map[string]any); ok {
						parts = append(parts, fmt.Sprint(am["regex"]))
					} else {
						parts = append(parts, fmt.Sprint(ap))
					}
				}
				rule += " (" + strings.Join(parts, ", ") + ")"
			}
			out = append(out, Exception{"cdk-nag", rule, where, fmt.Sprint(r["reason"])})
		}
	}
	nag("the whole stack", s.Template["Metadata"])
	res := s.Resources()
	ids := sortedIDs(res)
	for _, id := range ids {
		r := res[id]
		typ := fmt.Sprint(r["Type"])
		where := Name(s.Name, id, typ) + " `" + id + "`"
		nag(where, r["Metadata"])
		props, _ := r["Properties"].(map[string]any)
		for _, e := range GuardExceptions {
			if e.Type == typ && GuardExcepted(e.Rule, id) && (e.Fails == nil || e.Fails(props)) {
				out = append(out, Exception{"cfn-guard", e.Rule, where, e.Reason})
			}
		}
	}
	for _, l := range LintIgnored {
		if l.Where == "every template" || l.Where == "the pipeline stack" && strings.HasSuffix(s.Name, "-Pipeline") {
			out = append(out, Exception{"cfn-lint", l.Check, l.Where, l.Reason})
		}
	}
	return out
}
