package test

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// The IAM tests read the templates' policies with concrete values: every
// intrinsic (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::ImportValue, ...) is
// resolved as CloudFormation would in one account and region, with a
// physical name made up from the logical id where the template names none.

const (
	iamAccount   = "123456789012"
	iamRegion    = "eu-west-1"
	iamPartition = "aws"
)

// world holds every synthesized template, so an import finds its export.
type world struct {
	stacks  map[string]*synthesized
	exports map[string]exported
	// resolved holds each stack's policies once read: the simulator's
	// edges ask for them once per call.
	resolved map[*synthesized][]policyDoc
	// unknown records every Fn::GetAtt the resolver could only give a
	// placeholder for (a resource type or attribute it does not map).
	unknown map[string]bool
}

type exported struct {
	stack *synthesized
	value any
}

func newWorld(stacks []*synthesized) *world {
	w := &world{stacks: map[string]*synthesized{}, exports: map[string]exported{}, resolved: map[*synthesized][]policyDoc{}, unknown: map[string]bool{}}
	for _, s := range stacks {
		w.stacks[s.name] = s
	}
	for _, s := range stacks {
		outs, _ := s.template["Outputs"].(map[string]any)
		for _, o := range outs {
			om, _ := o.(map[string]any)
			exp, _ := om["Export"].(map[string]any)
			if exp == nil {
				continue
			}
			if name, ok := w.resolve(s, exp["Name"]).(string); ok {
				w.exports[name] = exported{s, om["Value"]}
			}
		}
	}
	return w
}

// resource returns the resource with logical id id of s.
func resourceOf(s *synthesized, id string) map[string]any {
	res, _ := s.template["Resources"].(map[string]any)
	r, _ := res[id].(map[string]any)
	return r
}

var nonName = regexp.MustCompile(`[^a-z0-9-]+`)

// physicalName is the name CloudFormation would give the resource: its
// name property when the template sets one, else one made from the stack
// and the logical id.
func (w *world) physicalName(s *synthesized, id string) string {
	r := resourceOf(s, id)
	p := props(r)
	for _, key := range []string{"QueueName", "TopicName", "RoleName", "FunctionName", "ClusterName", "RepositoryName",
		"LogGroupName", "BucketName", "Name", "ManagedPolicyName", "Family", "ServiceName", "PolicyName"} {
		if v, ok := w.resolve(s, p[key]).(string); ok && v != "" {
			return v
		}
	}
	if r["Type"] == "AWS::IAM::Role" {
		// CloudFormation keeps the case of a role's generated name
		// (<stack>-<logical id>-<suffix>): policies may match its prefix.
		return s.name + "-" + id
	}
	return nonName.ReplaceAllString(strings.ToLower(s.name+"-"+id), "-")
}

// arn builds an ARN of this account and region.
func arn(service, resource string) string {
	return fmt.Sprintf("arn:%s:%s:%s:%s:%s", iamPartition, service, iamRegion, iamAccount, resource)
}

// ref is what {"Ref": id} gives for each resource type.
func (w *world) ref(s *synthesized, id string) any {
	switch id {
	case "AWS::Partition":
		return iamPartition
	case "AWS::Region":
		return iamRegion
	case "AWS::AccountId":
		return iamAccount
	case "AWS::URLSuffix":
		return "amazonaws.com"
	case "AWS::StackName":
		return s.name
	case "AWS::StackId":
		return arn("cloudformation", "stack/"+s.name+"/00000000-0000-0000-0000-000000000000")
	case "AWS::NoValue":
		return nil
	}
	if params, _ := s.template["Parameters"].(map[string]any); params[id] != nil {
		pm, _ := params[id].(map[string]any)
		if d, ok := pm["Default"]; ok {
			return d
		}
		return "param-" + id
	}
	r := resourceOf(s, id)
	if r == nil {
		return "unresolved-ref-" + id
	}
	name := w.physicalName(s, id)
	switch r["Type"] {
	case "AWS::SQS::Queue":
		return fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/%s", iamRegion, iamAccount, name)
	case "AWS::SNS::Topic":
		return arn("sns", name)
	case "AWS::KMS::Key":
		return "key-" + name
	case "AWS::IAM::ManagedPolicy":
		return fmt.Sprintf("arn:%s:iam::%s:policy/%s", iamPartition, iamAccount, name)
	case "AWS::SecretsManager::Secret":
		return arn("secretsmanager", "secret:"+name+"-AbCdEf")
	case "AWS::ECS::Service":
		return arn("ecs", "service/"+w.clusterOf(s, r)+"/"+name)
	case "AWS::ECS::TaskDefinition":
		return arn("ecs", "task-definition/"+name+":1")
	case "AWS::EFS::FileSystem":
		return "fs-" + name
	case "AWS::EFS::AccessPoint":
		return "fsap-" + name
	case "AWS::EC2::SecurityGroup":
		return "sg-" + name
	}
	return name
}

// clusterOf is the cluster name of an ECS service.
func (w *world) clusterOf(s *synthesized, service map[string]any) string {
	c, _ := w.resolve(s, props(service)["Cluster"]).(string)
	return c[strings.LastIndex(c, "/")+1:]
}

// getAtt is what {"Fn::GetAtt": [id, attr]} gives.
func (w *world) getAtt(s *synthesized, id, attr string) any {
	r := resourceOf(s, id)
	if r == nil {
		w.unknown[s.name+": no resource "+id] = true
		return "unresolved-getatt-" + id + "." + attr
	}
	name := w.physicalName(s, id)
	typ, _ := r["Type"].(string)
	switch typ + "." + attr {
	case "AWS::SQS::Queue.Arn":
		return arn("sqs", name)
	case "AWS::SQS::Queue.QueueName":
		return name
	case "AWS::SQS::Queue.QueueUrl":
		return w.ref(s, id)
	case "AWS::SNS::Topic.TopicArn":
		return arn("sns", name)
	case "AWS::SNS::Topic.TopicName":
		return name
	case "AWS::KMS::Key.Arn":
		return arn("kms", "key/key-"+name)
	case "AWS::KMS::Key.KeyId":
		return "key-" + name
	case "AWS::IAM::Role.Arn":
		return fmt.Sprintf("arn:%s:iam::%s:role/%s", iamPartition, iamAccount, name)
	case "AWS::IAM::Role.RoleId":
		return "AROA" + strings.ToUpper(id)
	case "AWS::Lambda::Function.Arn":
		return arn("lambda", "function:"+name)
	case "AWS::ECS::Cluster.Arn":
		return arn("ecs", "cluster/"+name)
	case "AWS::ECS::Service.Name":
		return name
	case "AWS::ECS::Service.ServiceArn":
		return w.ref(s, id)
	case "AWS::ECS::TaskDefinition.TaskDefinitionArn":
		return w.ref(s, id)
	case "AWS::Logs::LogGroup.Arn":
		return arn("logs", "log-group:"+name+":*")
	case "AWS::ECR::Repository.Arn":
		return arn("ecr", "repository/"+name)
	case "AWS::ECR::Repository.RepositoryUri":
		return fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s", iamAccount, iamRegion, name)
	case "AWS::S3::Bucket.Arn":
		return fmt.Sprintf("arn:%s:s3:::%s", iamPartition, name)
	case "AWS::CloudWatch::CompositeAlarm.Arn", "AWS::CloudWatch::Alarm.Arn":
		return arn("cloudwatch", "alarm:"+name)
	case "AWS::EFS::FileSystem.Arn":
		return arn("elasticfilesystem", "file-system/fs-"+name)
	case "AWS::EFS::FileSystem.FileSystemId":
		return "fs-" + name
	case "AWS::EFS::AccessPoint.Arn":
		return arn("elasticfilesystem", "access-point/fsap-"+name)
	case "AWS::EFS::AccessPoint.AccessPointId":
		return "fsap-" + name
	case "AWS::CodeBuild::Project.Arn":
		return arn("codebuild", "project/"+name)
	case "AWS::Events::Rule.Arn":
		return arn("events", "rule/"+name)
	case "AWS::SecretsManager::Secret.Id":
		return w.ref(s, id)
	case "AWS::EC2::SecurityGroup.GroupId":
		return "sg-" + name
	case "AWS::EC2::VPC.CidrBlock":
		return "10.0.0.0/16"
	case "AWS::EC2::VPC.DefaultSecurityGroup":
		return "sg-default-" + name
	}
	w.unknown[typ+"."+attr] = true
	return id + "." + attr
}

// resolve turns a template value into plain JSON values.
func (w *world) resolve(s *synthesized, v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if r := w.resolve(s, e); r != nil {
				out = append(out, r)
			}
		}
		return out
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if r, ok := w.intrinsic(s, k, arg); ok {
					return r
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = w.resolve(s, e)
		}
		return out
	}
	return v
}

var subVar = regexp.MustCompile(`\$\{([^}!]+)\}`)

func (w *world) intrinsic(s *synthesized, fn string, arg any) (any, bool) {
	switch fn {
	case "Ref":
		id, _ := arg.(string)
		return w.ref(s, id), true
	case "Fn::GetAtt":
		parts, _ := arg.([]any)
		if len(parts) != 2 {
			return nil, false
		}
		id, _ := parts[0].(string)
		attr, _ := parts[1].(string)
		return w.getAtt(s, id, attr), true
	case "Fn::Join":
		parts, _ := arg.([]any)
		sep, _ := parts[0].(string)
		items, _ := w.resolve(s, parts[1]).([]any)
		strs := make([]string, len(items))
		for i, it := range items {
			strs[i] = fmt.Sprint(it)
		}
		return strings.Join(strs, sep), true
	case "Fn::Sub":
		var tmpl string
		vars := map[string]any{}
		switch a := arg.(type) {
		case string:
			tmpl = a
		case []any:
			tmpl, _ = a[0].(string)
			if len(a) > 1 {
				vars, _ = a[1].(map[string]any)
			}
		}
		return subVar.ReplaceAllStringFunc(tmpl, func(m string) string {
			name := m[2 : len(m)-1]
			if v, ok := vars[name]; ok {
				return fmt.Sprint(w.resolve(s, v))
			}
			if id, attr, ok := strings.Cut(name, "."); ok {
				return fmt.Sprint(w.getAtt(s, id, attr))
			}
			return fmt.Sprint(w.ref(s, name))
		}), true
	case "Fn::Select":
		parts, _ := arg.([]any)
		idx, _ := w.resolve(s, parts[0]).(float64)
		if str, ok := w.resolve(s, parts[0]).(string); ok {
			fmt.Sscan(str, &idx)
		}
		items, _ := w.resolve(s, parts[1]).([]any)
		if int(idx) < len(items) {
			return items[int(idx)], true
		}
		return "", true
	case "Fn::Split":
		parts, _ := arg.([]any)
		sep, _ := parts[0].(string)
		str, _ := w.resolve(s, parts[1]).(string)
		var out []any
		for _, p := range strings.Split(str, sep) {
			out = append(out, p)
		}
		return out, true
	case "Fn::ImportValue":
		name, _ := w.resolve(s, arg).(string)
		if e, ok := w.exports[name]; ok {
			return w.resolve(e.stack, e.value), true
		}
		return "unresolved-import-" + name, true
	case "Fn::GetAZs":
		return []any{iamRegion + "a", iamRegion + "b"}, true
	case "Fn::If":
		parts, _ := arg.([]any)
		return w.resolve(s, parts[1]), true
	}
	return nil, false
}

// policyDoc is one policy document found in a template, resolved.
type policyDoc struct {
	stack *synthesized
	// where names the place: logical id and property.
	where string
	kind  string // identity, resource, key, boundary
	doc   map[string]any
	// roles are the logical ids of the roles an identity policy is on.
	roles []string
	// on are the resources a resource policy is on (resolved ARNs or URLs).
	on []string
}

// policies returns every policy document of s: identity (IAM policies,
// managed policies, a role's inline ones) and resource (queue, topic, key,
// bucket, secret).
func (w *world) policies(s *synthesized) []policyDoc {
	if docs, ok := w.resolved[s]; ok {
		return docs
	}
	docs := w.readPolicies(s)
	w.resolved[s] = docs
	return docs
}

// readPolicies resolves every policy document of s.
func (w *world) readPolicies(s *synthesized) []policyDoc {
	var out []policyDoc
	res, _ := s.template["Resources"].(map[string]any)
	ids := make([]string, 0, len(res))
	for id := range res {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	refIDs := func(v any) []string {
		var out []string
		items, _ := v.([]any)
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				if id, ok := m["Ref"].(string); ok {
					out = append(out, id)
				}
			}
		}
		return out
	}
	strs := func(v any) []string {
		var out []string
		switch x := w.resolve(s, v).(type) {
		case string:
			out = append(out, x)
		case []any:
			for _, e := range x {
				out = append(out, fmt.Sprint(e))
			}
		}
		return out
	}
	for _, id := range ids {
		r, _ := res[id].(map[string]any)
		p := props(r)
		doc := func(key string) map[string]any {
			d, _ := w.resolve(s, p[key]).(map[string]any)
			return d
		}
		switch r["Type"] {
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
			out = append(out, policyDoc{stack: s, where: id + ".PolicyDocument", kind: "identity", doc: doc("PolicyDocument"), roles: refIDs(p["Roles"])})
		case "AWS::IAM::Role":
			pols, _ := p["Policies"].([]any)
			for i, pol := range pols {
				pm, _ := pol.(map[string]any)
				d, _ := w.resolve(s, pm["PolicyDocument"]).(map[string]any)
				out = append(out, policyDoc{stack: s, where: fmt.Sprintf("%s.Policies[%d]", id, i), kind: "identity", doc: d, roles: []string{id}})
			}
		case "AWS::SQS::QueuePolicy":
			out = append(out, policyDoc{stack: s, where: id + ".PolicyDocument", kind: "resource", doc: doc("PolicyDocument"), on: queueArns(strs(p["Queues"]))})
		case "AWS::SNS::TopicPolicy":
			out = append(out, policyDoc{stack: s, where: id + ".PolicyDocument", kind: "resource", doc: doc("PolicyDocument"), on: strs(p["Topics"])})
		case "AWS::KMS::Key":
			out = append(out, policyDoc{stack: s, where: id + ".KeyPolicy", kind: "key", doc: doc("KeyPolicy"), on: []string{fmt.Sprint(w.getAtt(s, id, "Arn"))}})
		case "AWS::S3::BucketPolicy":
			bucket := fmt.Sprintf("arn:%s:s3:::%s", iamPartition, w.resolve(s, p["Bucket"]))
			out = append(out, policyDoc{stack: s, where: id + ".PolicyDocument", kind: "resource", doc: doc("PolicyDocument"), on: []string{bucket, bucket + "/*"}})
		case "AWS::SecretsManager::ResourcePolicy":
			out = append(out, policyDoc{stack: s, where: id + ".ResourcePolicy", kind: "resource", doc: doc("ResourcePolicy"), on: strs(p["SecretId"])})
		case "AWS::ECR::Repository":
			if d := doc("RepositoryPolicyText"); d != nil {
				out = append(out, policyDoc{stack: s, where: id + ".RepositoryPolicyText", kind: "resource", doc: d, on: []string{fmt.Sprint(w.getAtt(s, id, "Arn"))}})
			}
		}
	}
	return out
}

// queueArns turns queue URLs into ARNs.
func queueArns(urls []string) []string {
	out := make([]string, len(urls))
	for i, u := range urls {
		parts := strings.Split(u, "/")
		out[i] = arn("sqs", parts[len(parts)-1])
	}
	return out
}

// statementsOf returns a document's statements.
func statementsOf(doc map[string]any) []map[string]any {
	var out []map[string]any
	switch x := doc["Statement"].(type) {
	case []any:
		for _, st := range x {
			if m, ok := st.(map[string]any); ok {
				out = append(out, m)
			}
		}
	case map[string]any:
		out = append(out, x)
	}
	return out
}
