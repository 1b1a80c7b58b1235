// Package review writes what a reviewer signs: for every stack of a
// synthesized cloud assembly, what it holds, every IAM role and resource
// policy in words grouped by service and access level, the permission edges
// the simulation proved, every checker exception, and anything public or
// unencrypted; with a base assembly, what changed first (`make review`,
// `make review BASE=<ref>`). It reads templates only: no AWS, no CDK.
package review

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Stack is one synthesized stack.
type Stack struct {
	// Name is the stack's name in CloudFormation.
	Name string
	// Template is the parsed template.
	Template map[string]any
	// Account and Region are the stack's environment; "" when it is not
	// pinned (environment-agnostic).
	Account, Region string
	// resources caches Resources (Load fills it).
	resources map[string]map[string]any
}

// Resources of the stack, by logical id (not CDK's metadata resource).
func (s Stack) Resources() map[string]map[string]any {
	if s.resources != nil {
		return s.resources
	}
	out := map[string]map[string]any{}
	res, _ := s.Template["Resources"].(map[string]any)
	for id, r := range res {
		if m, ok := r.(map[string]any); ok && m["Type"] != "AWS::CDK::Metadata" {
			out[id] = m
		}
	}
	return out
}

// sortedIDs are the logical ids of res, sorted.
func sortedIDs(res map[string]map[string]any) []string { return keysOf(res) }

// Keep keeps only the stacks keep says yes to (exports of the others still
// resolve).
func (a *Assembly) Keep(keep func(name string) bool) {
	var out []Stack
	for _, s := range a.Stacks {
		if keep(s.Name) {
			out = append(out, s)
		}
	}
	a.Stacks = out
	a.index()
}

// Assembly is every stack of a cloud assembly, nested stage assemblies
// (pipeline mode) included, by name.
type Assembly struct {
	Stacks []Stack
	byName map[string]int
	// exports maps an export name to the stack and the output's value.
	exports map[string]export
	// Managed are the AWS managed policies' published texts, by name: the
	// roles that name one show its statements (ReadManagedPolicies).
	Managed map[string]ManagedPolicy
}

type export struct {
	stack string
	value any
}

// Load reads the cloud assembly in dir (cdk.out): the stacks its
// manifest.json names, and those of the assemblies it nests.
func Load(dir string) (*Assembly, error) {
	a := &Assembly{exports: map[string]export{}}
	if err := a.read(dir); err != nil {
		return nil, err
	}
	if len(a.Stacks) == 0 {
		return nil, fmt.Errorf("review: %s holds no stack: run make synth first", dir)
	}
	sort.Slice(a.Stacks, func(i, j int) bool { return a.Stacks[i].Name < a.Stacks[j].Name })
	a.index()
	for _, s := range a.Stacks {
		outs, _ := s.Template["Outputs"].(map[string]any)
		for _, o := range outs {
			m, _ := o.(map[string]any)
			exp, _ := m["Export"].(map[string]any)
			if name, ok := exp["Name"].(string); ok {
				a.exports[name] = export{s.Name, m["Value"]}
			}
		}
	}
	return a, nil
}

func (a *Assembly) read(dir string) error {
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return fmt.Errorf("review: %w (run make synth first)", err)
	}
	var m struct {
		Artifacts map[string]struct {
			Type        string `json:"type"`
			Environment string `json:"environment"`
			Properties  struct {
				TemplateFile  string `json:"templateFile"`
				StackName     string `json:"stackName"`
				DirectoryName string `json:"directoryName"`
			} `json:"properties"`
		} `json:"artifacts"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("review: %s/manifest.json: %w", dir, err)
	}
	for id, art := range m.Artifacts {
		switch art.Type {
		case "aws:cloudformation:stack":
			raw, err := os.ReadFile(filepath.Join(dir, art.Properties.TemplateFile))
			if err != nil {
				return fmt.Errorf("review: %w", err)
			}
			s := Stack{Name: id}
			if acct, region, ok := strings.Cut(strings.TrimPrefix(art.Environment, "aws://"), "/"); ok {
				if acct != "unknown-account" {
					s.Account = acct
				}
				if region != "unknown-region" {
					s.Region = region
				}
			}
			if art.Properties.StackName != "" {
				s.Name = art.Properties.StackName
			}
			if err := json.Unmarshal(raw, &s.Template); err != nil {
				return fmt.Errorf("review: template %s: %w", art.Properties.TemplateFile, err)
			}
			a.Stacks = append(a.Stacks, s)
		case "cdk:cloud-assembly":
			if err := a.read(filepath.Join(dir, art.Properties.DirectoryName)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Stack is the stack named name, or nil.
func (a *Assembly) Stack(name string) *Stack {
	if i, ok := a.byName[name]; ok {
		return &a.Stacks[i]
	}
	return nil
}

// index makes Stack and Resources lookups: a review asks for them for
// every value it writes.
func (a *Assembly) index() {
	a.byName = map[string]int{}
	for i := range a.Stacks {
		a.Stacks[i].resources = a.Stacks[i].Resources()
		a.byName[a.Stacks[i].Name] = i
	}
}

// hashSuffix is the 8 hex digits CDK ends a logical id with.
var hashSuffix = regexp.MustCompile(`[0-9A-F]{8}$`)

// innerHash is such a hash after a word, inside an id.
var innerHash = regexp.MustCompile(`([a-z])[0-9A-F]{8}`)

// words turns a logical id into the construct path it was made from, in
// words: WorkQueueDeadLetterQueueF71CA21F → "work queue dead letter queue".
func words(logicalID string) string {
	id := hashSuffix.ReplaceAllString(logicalID, "")
	// A path that names another construct's id carries its hash inside.
	id = innerHash.ReplaceAllString(id, "$1")
	var b strings.Builder
	prevLower := false
	for i, r := range id {
		upper := r >= 'A' && r <= 'Z'
		nextLower := i+1 < len(id) && id[i+1] >= 'a' && id[i+1] <= 'z'
		if i > 0 && upper && (prevLower || nextLower) {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
		prevLower = r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
	}
	return strings.ToLower(b.String())
}

// owner says whose a stack's resources are, in words: "the region's",
// "site onprem's", "the pipeline's".
func owner(stack string) string {
	switch {
	case strings.Contains(stack, "-Anywhere-"):
		return "site " + stack[strings.LastIndex(stack, "-Anywhere-")+len("-Anywhere-"):] + "'s"
	case strings.HasSuffix(stack, "-Regional"):
		return "the region's"
	case strings.HasSuffix(stack, "-Pipeline"):
		return "the pipeline's"
	}
	return stack + "'s"
}

// kinds names resource types in words.
var kinds = map[string]string{
	"AWS::SQS::Queue": "SQS queue", "AWS::SNS::Topic": "SNS topic", "AWS::KMS::Key": "KMS key", "AWS::IAM::Role": "IAM role",
	"AWS::IAM::Policy": "IAM policy", "AWS::IAM::ManagedPolicy": "managed policy", "AWS::Lambda::Function": "Lambda function",
	"AWS::Logs::LogGroup": "log group", "AWS::SecretsManager::Secret": "secret", "AWS::ECR::Repository": "ECR repository",
	"AWS::EFS::FileSystem": "EFS file system", "AWS::ECS::Cluster": "ECS cluster", "AWS::ECS::Service": "ECS service",
	"AWS::ECS::TaskDefinition": "task definition", "AWS::SSM::Parameter": "SSM parameter", "AWS::S3::Bucket": "S3 bucket",
	"AWS::CloudWatch::Alarm": "alarm", "AWS::CloudWatch::CompositeAlarm": "composite alarm", "AWS::CloudWatch::Dashboard": "dashboard",
	"AWS::Events::Rule": "EventBridge rule", "AWS::Scheduler::Schedule": "schedule", "AWS::SSM::Association": "State Manager association",
	"AWS::SQS::QueuePolicy": "queue policy", "AWS::SNS::TopicPolicy": "topic policy", "AWS::SNS::Subscription": "SNS subscription",
	"AWS::Lambda::Permission": "invoke permission", "AWS::Lambda::EventInvokeConfig": "asynchronous invocation settings",
	"AWS::ApplicationAutoScaling::ScalableTarget": "scaling target", "AWS::ApplicationAutoScaling::ScalingPolicy": "scaling policy",
	"AWS::EFS::MountTarget": "EFS mount target", "AWS::EFS::AccessPoint": "EFS access point", "AWS::EC2::VPC": "VPC",
	"AWS::EC2::Subnet": "subnet", "AWS::EC2::RouteTable": "route table", "AWS::EC2::Route": "route", "AWS::EC2::FlowLog": "VPC flow log",
	"AWS::EC2::InternetGateway": "internet gateway", "AWS::EC2::NatGateway": "NAT gateway", "AWS::EC2::EIP": "elastic IP",
	"AWS::EC2::SubnetRouteTableAssociation": "route table association", "AWS::EC2::VPCGatewayAttachment": "gateway attachment",
	"AWS::EC2::SecurityGroupIngress": "ingress rule", "AWS::S3::BucketPolicy": "bucket policy",
	"AWS::CodePipeline::Pipeline": "pipeline", "AWS::CodeBuild::Project": "CodeBuild project", "AWS::EC2::SecurityGroup": "security group",
}

// Kind is a resource type in words ("SQS queue"); the type itself when the
// table does not know it.
func Kind(typ string) string {
	if k, ok := kinds[typ]; ok {
		return k
	}
	return typ
}

// Name is a resource in words: whose, what (from its logical id), and its
// kind: "site onprem's work queue (SQS queue)".
func Name(stack, logicalID, typ string) string {
	return fmt.Sprintf("%s %s (%s)", owner(stack), words(logicalID), Kind(typ))
}
