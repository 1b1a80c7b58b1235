package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	activationhandler "github.com/ecs-anywhere-stretched/stretched/constructs/activation/handler"
	siteagenthandler "github.com/ecs-anywhere-stretched/stretched/constructs/siteagent/handler"
	sitenodeshandler "github.com/ecs-anywhere-stretched/stretched/constructs/sitenodes/handler"
	taskcounthandler "github.com/ecs-anywhere-stretched/stretched/constructs/taskcount/handler"
	"github.com/ecs-anywhere-stretched/stretched/internal/review"
	"github.com/ecs-anywhere-stretched/stretched/testkit/sdkcalls"
)

// The calls the running system makes, evaluated against the identity,
// resource and key policies of the synthesized templates by a policy
// simulator (test/iamsim/simulate.mjs). moto_server evaluates no policy: a
// call these tests do not allow would be refused on AWS.

// edge is one call: who, what, on which resource, in which context, and
// whether it must be allowed.
type edge struct {
	what      string
	principal string // a role ARN or a service principal
	role      *roleRef
	// extra identity policies (a managed policy a user attaches).
	extra    []map[string]any
	action   string
	resource string
	context  map[string]any
	allow    bool
}

// roleRef is a role of a template.
type roleRef struct {
	stack *synthesized
	id    string
}

// roleARN is the ARN the world gives a role.
func (w *world) roleARN(r *roleRef) string { return fmt.Sprint(w.getAtt(r.stack, r.id, "Arn")) }

// roleByARN finds the role a resolved ARN names, in any stack.
func (w *world) roleByARN(arn string) *roleRef {
	for _, s := range w.stacks {
		for id := range resources(s, "AWS::IAM::Role") {
			r := &roleRef{s, id}
			if w.roleARN(r) == arn {
				return r
			}
		}
	}
	return nil
}

// identityPolicies are the policies attached to a role: its inline ones, the
// IAM policies and the template's managed policies that name it. AWS
// managed policies (the instance role's) are not known here: a call only
// they allow is not among the edges.
func (w *world) identityPolicies(r *roleRef) []map[string]any {
	var out []map[string]any
	for _, p := range w.policies(r.stack) {
		if p.kind != "identity" {
			continue
		}
		for _, id := range p.roles {
			if id == r.id {
				out = append(out, p.doc)
			}
		}
	}
	// Managed policies of the template listed on the role, and AWS
	// managed policies whose published text testdata/managed holds.
	arns := asStrings(w.resolve(r.stack, props(resourceOf(r.stack, r.id))["ManagedPolicyArns"]))
	for _, a := range arns {
		if doc := awsManagedPolicies[a]; doc != nil {
			out = append(out, doc)
		}
	}
	for id, mp := range resources(r.stack, "AWS::IAM::ManagedPolicy") {
		mine := false
		for _, a := range arns {
			mine = mine || a == fmt.Sprint(w.ref(r.stack, id))
		}
		if mine {
			doc, _ := w.resolve(r.stack, props(mp)["PolicyDocument"]).(map[string]any)
			out = append(out, doc)
		}
	}
	return out
}

// boundary is the role's permissions boundary when the template defines it;
// a boundary given by ARN from outside is not known here.
func (w *world) boundary(r *roleRef) map[string]any {
	b := props(resourceOf(r.stack, r.id))["PermissionsBoundary"]
	if b == nil {
		return nil
	}
	arn := fmt.Sprint(w.resolve(r.stack, b))
	for _, s := range w.stacks {
		for id, mp := range resources(s, "AWS::IAM::ManagedPolicy") {
			if fmt.Sprint(w.ref(s, id)) == arn {
				doc, _ := w.resolve(s, props(mp)["PolicyDocument"]).(map[string]any)
				return doc
			}
		}
	}
	return nil
}

// resourcePolicy is the policy (queue, topic, key, bucket, secret) on the
// resource a request names, from any stack.
func (w *world) resourcePolicy(resource string) map[string]any {
	var docs []map[string]any
	for _, s := range all {
		for _, p := range w.policies(s) {
			if p.kind == "identity" {
				continue
			}
			for _, on := range p.on {
				if on == resource || (strings.HasSuffix(on, "/*") && strings.HasPrefix(resource, strings.TrimSuffix(on, "*"))) {
					docs = append(docs, p.doc)
				}
			}
		}
	}
	if len(docs) == 0 {
		return nil
	}
	// A bucket's one policy may be listed for the bucket and its objects.
	return docs[0]
}

// simulate runs every edge through the simulator in one process and
// returns each result ("Allowed", "ImplicitlyDenied", "ExplicitlyDenied").
func (w *world) simulate(t *testing.T, edges []edge) []string {
	t.Helper()
	type policy struct {
		Name   string         `json:"name"`
		Policy map[string]any `json:"policy"`
	}
	var sims []map[string]any
	for _, e := range edges {
		principal := e.principal
		var identity, boundaries []policy
		if e.role != nil {
			principal = w.roleARN(e.role)
			for i, d := range w.identityPolicies(e.role) {
				identity = append(identity, policy{fmt.Sprintf("identity%d", i), d})
			}
			if b := w.boundary(e.role); b != nil {
				boundaries = append(boundaries, policy{"boundary", b})
			}
		}
		for i, d := range e.extra {
			identity = append(identity, policy{fmt.Sprintf("extra%d", i), d})
		}
		if identity == nil {
			identity = []policy{}
		}
		ctx := map[string]any{"aws:SecureTransport": "true", "aws:RequestedRegion": iamRegion}
		if e.role != nil {
			ctx["aws:PrincipalAccount"] = iamAccount
		}
		for k, v := range e.context {
			ctx[k] = v
		}
		sim := map[string]any{
			"request": map[string]any{
				"principal": principal, "action": e.action,
				"resource":         map[string]any{"resource": e.resource, "accountId": iamAccount},
				"contextVariables": ctx,
			},
			"identityPolicies": identity, "serviceControlPolicies": []any{}, "resourceControlPolicies": []any{},
		}
		if rp := w.resourcePolicy(e.resource); rp != nil {
			sim["resourcePolicy"] = rp
		}
		if boundaries != nil {
			sim["permissionBoundaryPolicies"] = boundaries
		}
		sims = append(sims, sim)
	}
	in, err := json.Marshal(sims)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join("..", "node_modules", ".bin", "node"), filepath.Join("iamsim", "simulate.mjs"))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("policy simulator: %v\n%s (run make tools)", err, stderr.String())
	}
	var results []struct {
		Result string `json:"result"`
		Errors any    `json:"errors"`
	}
	if err := json.Unmarshal(out, &results); err != nil || len(results) != len(edges) {
		t.Fatalf("policy simulator answered %d results for %d requests: %v\n%s", len(results), len(edges), err, out)
	}
	got := make([]string, len(results))
	for i, r := range results {
		got[i] = r.Result
		if r.Errors != nil {
			got[i] = fmt.Sprintf("error %v", r.Errors)
		}
	}
	return got
}

// check simulates the edges and reports each that is not as it must be.
func (w *world) check(t *testing.T, edges []edge) []string {
	t.Helper()
	if len(edges) == 0 {
		t.Fatal("no calls to check")
	}
	results := w.simulate(t, edges)
	for i, e := range edges {
		allowed := results[i] == "Allowed"
		if allowed != e.allow {
			want := map[bool]string{true: "allowed", false: "denied"}[e.allow]
			who := e.principal
			if e.role != nil {
				who = e.role.stack.name + "/" + e.role.id
			}
			t.Errorf("%s: %s %s on %s must be %s, the policies give %s", e.what, who, e.action, e.resource, want, results[i])
		}
	}
	t.Logf("%d calls evaluated", len(edges))
	return results
}

// interfaceMethods lists the methods of a named interface in a Go file (the
// worker is a main package: its SQS interface is read from the source).
func interfaceMethods(t *testing.T, file, name string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != name {
			return true
		}
		for _, m := range ts.Type.(*ast.InterfaceType).Methods.List {
			for _, n := range m.Names {
				out = append(out, n.Name)
			}
		}
		return false
	})
	if len(out) == 0 {
		t.Fatalf("%s: no interface %s", file, name)
	}
	return out
}

// siteEdges are the calls of one site stack's functions, task and nodes.
func (w *world) siteEdges(t *testing.T, s *synthesized) []edge {
	t.Helper()
	one := func(typ, prefix string) string { return logicalID(t, s, typ, prefix) }
	clusterID := one("AWS::ECS::Cluster", "Cluster")
	cluster := fmt.Sprint(w.ref(s, clusterID))
	clusterArn := fmt.Sprint(w.getAtt(s, clusterID, "Arn"))
	service := fmt.Sprint(w.ref(s, one("AWS::ECS::Service", "WorkerService")))
	secretID := one("AWS::SecretsManager::Secret", "ActivationCode")
	secret := fmt.Sprint(w.ref(s, secretID))
	secretKey := fmt.Sprint(w.resolve(s, props(resourceOf(s, secretID))["KmsKeyId"]))
	instanceRole := ownInstanceRoles[s.name]
	if instanceRole == "" {
		instanceRole = fmt.Sprint(w.getAtt(s, one("AWS::IAM::Role", "InstanceRole"), "Arn"))
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(fmt.Sprint(w.resolve(s, props(resourceOf(s, one("AWS::SSM::Parameter", "AgentEntry")))["Value"]))), &entry); err != nil {
		t.Fatalf("%s: directory entry: %v", s.name, err)
	}
	queue := queueArns([]string{fmt.Sprint(entry["queueUrl"])})[0]
	tags := map[string]any{}
	var tagKeys []any
	for _, tag := range w.resolve(s, props(resourceOf(s, one("Custom::SsmActivation", "Activation")))["Tags"]).([]any) {
		tm := tag.(map[string]any)
		tags["aws:RequestTag/"+fmt.Sprint(tm["Key"])] = tm["Value"]
		tagKeys = append(tagKeys, tm["Key"])
	}
	viaSecrets := map[string]any{"kms:ViaService": "secretsmanager." + iamRegion + ".amazonaws.com"}
	// resourceFor is where each call acts and what IAM sees with it.
	resourceFor := func(call string) (string, map[string]any) {
		inCluster := map[string]any{"ecs:cluster": clusterArn}
		switch call {
		case "ecs:DescribeServices", "ecs:UpdateService":
			return service, inCluster
		case "ecs:ListContainerInstances", "ecs:DeregisterContainerInstance":
			return clusterArn, map[string]any{"aws:ResourceTag/stretched:fleet": prefixOf(s.name)}
		case "ecs:DescribeContainerInstances":
			return arn("ecs", "container-instance/"+cluster+"/0123456789abcdef0123456789abcdef"), inCluster
		case "ecs:ListServices":
			return "*", inCluster
		case "sqs:GetQueueAttributes":
			return queue, nil
		case "ssm:CreateActivation":
			ctx := map[string]any{"aws:TagKeys": tagKeys}
			for k, v := range tags {
				ctx[k] = v
			}
			return "*", ctx
		case "ssm:DeleteActivation", "ssm:DescribeActivations", "ssm:DescribeInstanceInformation":
			return "*", nil
		case "ssm:DeregisterManagedInstance":
			return arn("ssm", "managed-instance/mi-0123456789abcdef0"), map[string]any{"ssm:resourceTag/stretched:stack": s.name}
		case "cloudformation:DescribeStacks", "cloudformation:ListStackResources":
			return fmt.Sprint(w.ref(s, "AWS::StackId")), nil
		case "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage":
			return secret, nil
		}
		t.Errorf("%s: no resource known for the call %s: add it to siteEdges (and grant it)", s.name, call)
		return "", nil
	}
	var edges []edge
	for _, h := range []struct {
		prefix  string
		handler any
	}{
		// The fleet's functions in the regional stack, for this site.
		{"SiteNodesHandler", sitenodeshandler.Handler{}},
		{"TaskCountsHandler", taskcounthandler.Handler{}},
	} {
		if h.prefix == "SiteNodesHandler" && len(resources(s, "Custom::SiteNodes")) == 0 {
			continue // keepNodesOnDestroy: nothing deregisters this site's nodes
		}
		regional, fn, role := w.fleetFunction(t, s, h.prefix)
		calls := sdkcalls.Of(h.handler)
		if len(calls) == 0 {
			t.Fatalf("%s: no SDK calls found in %T", h.prefix, h.handler)
		}
		for _, call := range calls {
			res, ctx := resourceFor(call)
			edges = append(edges, edge{what: h.prefix + " calls " + call, role: role, action: call, resource: res, context: ctx, allow: true})
		}
		if h.prefix == "SiteNodesHandler" {
			prefix := prefixOf(s.name)
			edges = append(edges,
				edge{what: "the fleet's deregistration leaves another app's nodes", role: role, action: "ecs:DeregisterContainerInstance", resource: clusterArn,
					context: map[string]any{"aws:ResourceTag/stretched:fleet": "SomeoneElse"}, allow: false},
				edge{what: "the fleet's deregistration leaves another app's managed instances", role: role, action: "ssm:DeregisterManagedInstance",
					resource: arn("ssm", "managed-instance/mi-0123456789abcdef0"), context: map[string]any{"ssm:resourceTag/stretched:stack": "SomeoneElse-Anywhere-x"}, allow: false},
				edge{what: "the fleet's deregistration reads no other stack", role: role, action: "cloudformation:DescribeStacks",
					resource: arn("cloudformation", "stack/"+prefix+"-Regional/0a1b2c3d-0000-0000-0000-000000000000"), allow: false},
			)
		}
		// What the calls need besides: the function's logs.
		edges = append(edges, w.logEdges(regional, fn, role, h.prefix)...)
	}
	// Nobody but the join policy (and the two functions that write it)
	// reads the activation: every other role of the site and of the region.
	for _, st := range all {
		if !strings.HasPrefix(st.name, prefixOf(s.name)+"-") {
			continue
		}
		for id := range resources(st, "AWS::IAM::Role") {
			if strings.HasPrefix(id, "ActivationsHandlerRole") {
				continue // the fleet's activation function: fleetActivationEdges
			}
			edges = append(edges, edge{what: "only the join policy reads the activation", role: &roleRef{st, id},
				action: "secretsmanager:GetSecretValue", resource: secret, allow: false})
		}
	}
	joinID := one("AWS::IAM::ManagedPolicy", "ActivationJoinPolicy")
	join, _ := w.resolve(s, props(resourceOf(s, joinID))["PolicyDocument"]).(map[string]any)
	joiner := fmt.Sprintf("arn:aws:iam::%s:role/platform-engineer", iamAccount)
	edges = append(edges,
		edge{what: "the join policy reads the activation", principal: joiner, extra: []map[string]any{join}, action: "secretsmanager:GetSecretValue", resource: secret, allow: true},
		edge{what: "the join policy decrypts it through Secrets Manager", principal: joiner, extra: []map[string]any{join}, action: "kms:Decrypt", resource: secretKey, context: viaSecrets, allow: true},
		edge{what: "the join policy decrypts nothing directly", principal: joiner, extra: []map[string]any{join}, action: "kms:Decrypt", resource: secretKey, allow: false},
	)
	// fleet node userdata with the site's NodeOperatorPolicy: its calls
	// (cmd/fleet/internal/nodes, send.Entry), for this site only.
	opID := one("AWS::IAM::ManagedPolicy", "ActivationNodeOperatorPolicy")
	op, _ := w.resolve(s, props(resourceOf(s, opID))["PolicyDocument"]).(map[string]any)
	operator := fmt.Sprintf("arn:aws:iam::%s:role/site-operator", iamAccount)
	entryName := fmt.Sprint(w.resolve(s, props(resourceOf(s, one("AWS::SSM::Parameter", "AgentEntry")))["Name"]))
	prefix := prefixOf(s.name)
	// A batch is tagged like the site's own activation (cmd/fleet/internal/nodes).
	batch := func(stack string, keys ...any) map[string]any {
		ctx := maps.Clone(tags)
		ctx["aws:RequestTag/stretched:stack"], ctx["aws:TagKeys"] = stack, keys
		return ctx
	}
	opEdge := func(what, action, resource string, ctx map[string]any, allow bool) edge {
		return edge{what: "fleet node userdata " + what, principal: operator, extra: []map[string]any{op}, action: action, resource: resource, context: ctx, allow: allow}
	}
	ci := arn("ecs", "container-instance/"+cluster+"/0123456789abcdef0123456789abcdef")
	otherCluster := arn("ecs", "cluster/someone-elses")
	mine := map[string]any{"ssm:resourceTag/stretched:stack": s.name}
	// The command's calls, as its own test lists them (the test package
	// cannot import cmd/fleet/internal/nodes).
	raw, err := os.ReadFile(filepath.Join("..", "cmd", "fleet", "internal", "nodes", "testdata", "calls.txt"))
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, c := range strings.Fields(string(raw)) {
		covered[c] = true
	}
	if len(covered) < 5 {
		t.Fatalf("fleet node's calls file lists %d calls", len(covered))
	}
	opEdges := []edge{
		opEdge("lists the site's container instances", "ecs:ListContainerInstances", clusterArn, nil, true),
		opEdge("lists no other cluster's", "ecs:ListContainerInstances", otherCluster, nil, false),
		opEdge("describes the site's nodes", "ecs:DescribeContainerInstances", ci, map[string]any{"ecs:cluster": clusterArn}, true),
		opEdge("drains the site's nodes", "ecs:UpdateContainerInstancesState", ci, map[string]any{"ecs:cluster": clusterArn}, true),
		opEdge("drains no other cluster's node", "ecs:UpdateContainerInstancesState", arn("ecs", "container-instance/someone-elses/0123456789abcdef0123456789abcdef"), map[string]any{"ecs:cluster": otherCluster}, false),
		opEdge("deregisters the site's nodes from its cluster", "ecs:DeregisterContainerInstance", clusterArn, nil, true),
		opEdge("deregisters nothing from another cluster", "ecs:DeregisterContainerInstance", otherCluster, nil, false),
		opEdge("finds the site's managed instances", "ssm:DescribeInstanceInformation", "*", nil, true),
		opEdge("retires the site's managed instances", "ssm:DeregisterManagedInstance", arn("ssm", "managed-instance/mi-0123456789abcdef0"), mine, true),
		opEdge("runs the agent update on the site's nodes", "ssm:SendCommand", arn("ssm", "managed-instance/mi-0123456789abcdef0"), mine, true),
		// AWS's documents have no account in their ARN, which the
		// simulator cannot type: the edge names one (the policy's '*').
		opEdge("runs the agent update with AWS-RunShellScript", "ssm:SendCommand", arn("ssm", "document/AWS-RunShellScript"), nil, true),
		opEdge("runs no other document", "ssm:SendCommand", arn("ssm", "document/AWS-RunPowerShellScript"), nil, false),
		opEdge("runs nothing on another site's nodes", "ssm:SendCommand", arn("ssm", "managed-instance/mi-0123456789abcdef0"),
			map[string]any{"ssm:resourceTag/stretched:stack": prefix + "-Anywhere-elsewhere"}, false),
		opEdge("reads the update's result", "ssm:GetCommandInvocation", "*", nil, true),
		opEdge("retires no other site's managed instance", "ssm:DeregisterManagedInstance", arn("ssm", "managed-instance/mi-0123456789abcdef0"),
			map[string]any{"ssm:resourceTag/stretched:stack": prefix + "-Anywhere-elsewhere"}, false),
	}
	for _, e := range opEdges {
		delete(covered, e.action)
	}
	delete(covered, "ssm:CreateActivation")
	for c := range covered {
		t.Errorf("fleet node calls %s: add its edge here and grant it in the NodeOperatorPolicy", c)
	}
	edges = append(edges, opEdges...)
	edges = append(edges,
		opEdge("reads the site's directory entry", "ssm:GetParameter", arn("ssm", "parameter"+entryName), nil, true),
		// AWS's public parameters have no account in their ARN, which the
		// simulator cannot type: the edge names one (the policy's '*').
		opEdge("reads AWS's recommended ECS agent version", "ssm:GetParameter", arn("ssm", "parameter/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended"), nil, true),
		opEdge("reads no other public parameter", "ssm:GetParameter", arn("ssm", "parameter/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"), nil, false),
		opEdge("reads no other site's entry", "ssm:GetParameter", arn("ssm", "parameter/"+prefix+"/sites/elsewhere"), nil, false),
		opEdge("makes the batch's activation", "ssm:CreateActivation", "*", batch(s.name, "stretched:stack", "site", "cluster"), true),
		opEdge("makes no activation for another site", "ssm:CreateActivation", "*", batch(prefix+"-Anywhere-elsewhere", "stretched:stack", "site", "cluster"), false),
		opEdge("makes no activation with other tags", "ssm:CreateActivation", "*", batch(s.name, "stretched:stack", "owner"), false),
		opEdge("makes no activation named for another site", "ssm:CreateActivation", "*",
			func() map[string]any {
				c := batch(s.name, "stretched:stack", "site", "cluster")
				c["aws:RequestTag/site"] = "elsewhere"
				return c
			}(), false),
		opEdge("makes no activation for another cluster", "ssm:CreateActivation", "*",
			func() map[string]any {
				c := batch(s.name, "stretched:stack", "site", "cluster")
				c["aws:RequestTag/cluster"] = "elsewhere"
				return c
			}(), false),
		opEdge("passes the site's instance role to SSM", "iam:PassRole", instanceRole, map[string]any{"iam:PassedToService": "ssm.amazonaws.com"}, true),
		opEdge("passes the role to nothing but SSM", "iam:PassRole", instanceRole, map[string]any{"iam:PassedToService": "ec2.amazonaws.com"}, false),
		opEdge("passes no other role", "iam:PassRole", fmt.Sprintf("arn:aws:iam::%s:role/admin", iamAccount), map[string]any{"iam:PassedToService": "ssm.amazonaws.com"}, false),
	)
	edges = append(edges, w.fleetAgentEdges(t, s, clusterArn, service, queue)...)
	edges = append(edges, w.fleetActivationEdges(t, s, secret, secretKey, instanceRole, tags, tagKeys)...)
	return edges
}

// regionalOf is the regional stack of site stack s.
func regionalOf(t *testing.T, s *synthesized) *synthesized {
	t.Helper()
	prefix, _, _ := strings.Cut(s.name, "-Anywhere-") // a cell's prefix has a '-'
	for _, st := range all {
		if st.name == prefix+"-Regional" {
			return st
		}
	}
	t.Fatalf("%s: no regional stack %s-Regional", s.name, prefix)
	return nil
}

// fleetFunction is the function of the regional stack of site stack s
// whose logical id starts with prefix, and its role.
func (w *world) fleetFunction(t *testing.T, s *synthesized, prefix string) (regional *synthesized, fn map[string]any, role *roleRef) {
	t.Helper()
	regional = regionalOf(t, s)
	fn = props(resourceOf(regional, logicalID(t, regional, "AWS::Lambda::Function", prefix)))
	return regional, fn, w.roleByARN(fmt.Sprint(w.resolve(regional, fn["Role"])))
}

// logEdges let a function of stack st write to its log group.
func (w *world) logEdges(st *synthesized, fn map[string]any, role *roleRef, what string) []edge {
	lc, ok := w.resolve(st, fn["LoggingConfig"]).(map[string]any)
	if !ok || lc["LogGroup"] == nil {
		return nil
	}
	stream := arn("logs", "log-group:"+fmt.Sprint(lc["LogGroup"])+":log-stream:2026/12/02/[$LATEST]abc")
	var edges []edge
	for _, a := range []string{"logs:CreateLogStream", "logs:PutLogEvents"} {
		edges = append(edges, edge{what: what + " logs", role: role, action: a, resource: stream, allow: true})
	}
	return edges
}

// fleetActivationEdges are the calls the fleet's one activation function
// (regional) makes for site stack s, as the custom resource and as its
// renewal: allowed on the site's tagged secret, key and instance role and
// for activations tagged with the site's stack; denied for another app's.
func (w *world) fleetActivationEdges(t *testing.T, s *synthesized, secret, secretKey, instanceRole string, tags map[string]any, tagKeys []any) []edge {
	t.Helper()
	prefix := prefixOf(s.name)
	regional, fn, role := w.fleetFunction(t, s, "ActivationsHandler")
	ours := map[string]any{"aws:ResourceTag/stretched:fleet": prefix}
	theirs := map[string]any{"aws:ResourceTag/stretched:fleet": "SomeoneElse"}
	with := func(a, b map[string]any) map[string]any {
		out := maps.Clone(a)
		maps.Copy(out, b)
		return out
	}
	viaSecrets := map[string]any{"kms:ViaService": "secretsmanager." + iamRegion + ".amazonaws.com"}
	createCtx := map[string]any{"aws:TagKeys": tagKeys}
	maps.Copy(createCtx, tags)
	passCtx := map[string]any{"iam:PassedToService": "ssm.amazonaws.com", "iam:ResourceTag/stretched:fleet": prefix}
	recordCtx := map[string]any{"kms:EncryptionContext:SecretARN": secret}
	resourceFor := func(call string) (string, map[string]any) {
		switch call {
		case "ssm:CreateActivation":
			return "*", createCtx
		case "ssm:DeleteActivation", "ssm:DescribeActivations":
			return "*", nil
		case "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage":
			return secret, ours
		case "cloudformation:ListStackResources":
			return fmt.Sprint(w.ref(s, "AWS::StackId")), nil
		}
		t.Errorf("fleet activation function: no resource known for the call %s: add it to fleetActivationEdges (and grant it)", call)
		return "", nil
	}
	var edges []edge
	calls := append(sdkcalls.Of(activationhandler.Handler{}), sdkcalls.Of(activationhandler.Renewer{})...)
	for _, call := range calls {
		res, ctx := resourceFor(call)
		edges = append(edges, edge{what: "the fleet's activation function calls " + call + " for " + s.name, role: role, action: call, resource: res, context: ctx, allow: true})
		if ctx != nil && ctx["aws:ResourceTag/stretched:fleet"] != nil {
			edges = append(edges, edge{what: "the fleet's activation function may not call " + call + " on another app's", role: role, action: call, resource: res, context: theirs, allow: false})
		}
	}
	otherStack := maps.Clone(createCtx)
	otherStack["aws:RequestTag/stretched:stack"] = "SomeoneElse-Anywhere-x"
	edges = append(edges,
		// The key's policy names the function's role: no tag for KMS to
		// propagate (the first deploy's PutSecretValue was denied).
		edge{what: "the fleet's activation function reads the record's key through Secrets Manager", role: role, action: "kms:Decrypt", resource: secretKey, context: with(viaSecrets, recordCtx), allow: true},
		edge{what: "the fleet's activation function writes the record's key through Secrets Manager", role: role, action: "kms:GenerateDataKey", resource: secretKey, context: with(viaSecrets, recordCtx), allow: true},
		edge{what: "the fleet's activation function decrypts nothing directly", role: role, action: "kms:Decrypt", resource: secretKey, context: recordCtx, allow: false},
		edge{what: "the fleet's activation function uses no other app's key", role: role, action: "kms:Decrypt", resource: arn("kms", "key/11111111-2222-3333-4444-555555555555"), context: with(viaSecrets, recordCtx), allow: false},
		edge{what: "the fleet's activation function passes the site's instance role (tagged)", role: role, action: "iam:PassRole", resource: instanceRole, context: passCtx, allow: true},
		edge{what: "the fleet's activation function passes no untagged role named like a site's", role: role, action: "iam:PassRole",
			resource: fmt.Sprintf("arn:aws:iam::%s:role/%s-Anywhere-x-InstanceRole3CCE2F1D-AbC", iamAccount, prefix), context: map[string]any{"iam:PassedToService": "ssm.amazonaws.com"}, allow: false},
		edge{what: "the fleet's activation function passes no role merely tagged", role: role, action: "iam:PassRole",
			resource: fmt.Sprintf("arn:aws:iam::%s:role/admin", iamAccount), context: passCtx, allow: false},
		edge{what: "the fleet's activation function passes roles to SSM only", role: role, action: "iam:PassRole", resource: instanceRole, context: map[string]any{"iam:PassedToService": "ec2.amazonaws.com", "iam:ResourceTag/stretched:fleet": prefix}, allow: false},
		edge{what: "the fleet's activation function makes no activation for another app's stack", role: role, action: "ssm:CreateActivation", resource: "*", context: otherStack, allow: false},
		edge{what: "the fleet's activation function reads no stack but the app's sites", role: role, action: "cloudformation:ListStackResources",
			resource: arn("cloudformation", "stack/"+prefix+"-Regional/0a1b2c3d-0000-0000-0000-000000000000"), allow: false},
		// Never a node: a tagged node is deregistered with the site.
		edge{what: "the fleet's activation function must not tag nodes", role: role, action: "ssm:AddTagsToResource", resource: arn("ssm", "managed-instance/mi-0123456789abcdef0"), context: tags, allow: false},
	)
	edges = append(edges, w.logEdges(regional, fn, role, "the fleet's activation function")...)
	// EventBridge Scheduler runs the renewal with the fleet's scheduler role.
	schedRole := &roleRef{regional, logicalID(t, regional, "AWS::IAM::Role", "ActivationsSchedulerRole")}
	edges = append(edges, edge{what: "the scheduler runs the renewal", role: schedRole, action: "lambda:InvokeFunction", resource: fmt.Sprint(w.resolve(regional, map[string]any{"Fn::GetAtt": []any{logicalID(t, regional, "AWS::Lambda::Function", "ActivationsHandler"), "Arn"}})), allow: true})
	return edges
}

// fleetAgentEdges are the calls the fleet's one site agent (in the
// regional stack) makes for site stack s, allowed because s tags its
// cluster and service and the region its queue with the app's fleet tag;
// and the same calls on another app's resources, or untagged ones, denied.
func (w *world) fleetAgentEdges(t *testing.T, s *synthesized, clusterArn, service, queue string) []edge {
	t.Helper()
	prefix := prefixOf(s.name)
	regional, fn, role := w.fleetFunction(t, s, "SiteAgentHandler")
	ours := map[string]any{"aws:ResourceTag/stretched:fleet": prefix}
	theirs := map[string]any{"aws:ResourceTag/stretched:fleet": "SomeoneElse"}
	node := arn("ecs", "container-instance/"+clusterArn[strings.LastIndex(clusterArn, "/")+1:]+"/0123456789abcdef0123456789abcdef")
	resourceFor := func(call string) (string, map[string]any) {
		switch call {
		case "ssm:GetParametersByPath":
			return arn("ssm", "parameter/"+prefix+"/sites"), nil
		case "ecs:ListContainerInstances":
			return clusterArn, ours
		case "ecs:DescribeContainerInstances":
			return node, map[string]any{"ecs:cluster": clusterArn}
		case "ecs:DescribeServices", "ecs:UpdateService":
			return service, ours
		case "sqs:GetQueueAttributes":
			return queue, ours
		}
		t.Errorf("fleet agent: no resource known for the call %s: add it to fleetAgentEdges (and grant it)", call)
		return "", nil
	}
	var edges []edge
	for _, call := range sdkcalls.Of(siteagenthandler.Fleet{}) {
		res, ctx := resourceFor(call)
		edges = append(edges, edge{what: "the fleet agent calls " + call + " for " + s.name, role: role, action: call, resource: res, context: ctx, allow: true})
		if ctx != nil && ctx["aws:ResourceTag/stretched:fleet"] != nil {
			edges = append(edges,
				edge{what: "the fleet agent may not call " + call + " on another app's", role: role, action: call, resource: res, context: theirs, allow: false},
				edge{what: "the fleet agent may not call " + call + " on untagged resources", role: role, action: call, resource: res, allow: false})
		}
	}
	edges = append(edges,
		edge{what: "the fleet agent reads no other app's directory", role: role, action: "ssm:GetParametersByPath", resource: arn("ssm", "parameter/SomeoneElse/sites"), allow: false},
		edge{what: "the fleet agent deregisters no node", role: role, action: "ecs:DeregisterContainerInstance", resource: clusterArn, context: ours, allow: false},
		edge{what: "the fleet agent reads no message", role: role, action: "sqs:ReceiveMessage", resource: queue, context: ours, allow: false},
		// The site's dead-letter queue is tagged as the queue is: its
		// depth is the SitesWithDeadLetters count.
		edge{what: "the fleet agent reads the depth of " + s.name + "'s dead-letter queue", role: role, action: "sqs:GetQueueAttributes", resource: queue + "-dlq", context: ours, allow: true},
	)
	edges = append(edges, w.logEdges(regional, fn, role, "the fleet agent")...)
	return edges
}

// taskEdges are the calls of the worker's task and execution roles, from
// the task definitions of every stack: the queue the task consumes and its
// key, the image, the logs and, in the region, the file system.
func (w *world) taskEdges(t *testing.T, s *synthesized) []edge {
	t.Helper()
	var edges []edge
	calls := interfaceMethods(t, filepath.Join("..", "worker", "worker.go"), "sqsAPI")
	for id, td := range resources(s, "AWS::ECS::TaskDefinition") {
		p := props(td)
		task := w.roleByARN(fmt.Sprint(w.resolve(s, p["TaskRoleArn"])))
		execRole := w.roleByARN(fmt.Sprint(w.resolve(s, p["ExecutionRoleArn"])))
		if task == nil || execRole == nil {
			t.Fatalf("%s/%s: task or execution role not found", s.name, id)
		}
		for _, c := range w.resolve(s, p["ContainerDefinitions"]).([]any) {
			cd := c.(map[string]any)
			env := map[string]string{}
			for _, e := range asList(cd["Environment"]) {
				em := e.(map[string]any)
				env[fmt.Sprint(em["Name"])] = fmt.Sprint(em["Value"])
			}
			queue := queueArns([]string{env["SQS_QUEUE_URL"]})[0]
			for _, m := range calls {
				// DeleteMessageBatch is authorized as sqs:DeleteMessage.
				action := "sqs:" + strings.TrimSuffix(m, "Batch")
				edges = append(edges, edge{what: id + " worker calls " + m, role: task, action: action, resource: queue, context: w.queueTags(queue), allow: true})
			}
			if tags := w.queueTags(queue); tags["aws:ResourceTag/stretched:location"] != nil {
				other := maps.Clone(tags)
				other["aws:ResourceTag/stretched:fleet"] = "SomeoneElse"
				dead := maps.Clone(tags)
				delete(dead, "aws:ResourceTag/stretched:location")
				edges = append(edges,
					edge{what: id + " worker consumes no other app's location queue", role: task, action: "sqs:ReceiveMessage", resource: arn("sqs", "other-queue"), context: other, allow: false},
					edge{what: id + " worker consumes no dead-letter or unrouted queue", role: task, action: "sqs:ReceiveMessage", resource: arn("sqs", "some-dlq"), context: dead, allow: false},
					edge{what: id + " worker sends to no location queue", role: task, action: "sqs:SendMessage", resource: queue, context: tags, allow: false},
					edge{what: id + " worker purges no location queue", role: task, action: "sqs:PurgeQueue", resource: queue, context: tags, allow: false})
			}
			if key := w.queueKey(queue); key != "" {
				edges = append(edges, edge{what: id + " worker reads encrypted messages", role: task, action: "kms:Decrypt", resource: key,
					context: map[string]any{"kms:ViaService": "sqs." + iamRegion + ".amazonaws.com"}, allow: true})
			}
			image := fmt.Sprint(cd["Image"])
			if repo := w.repositoryOf(image); repo != "" {
				for _, a := range []string{"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"} {
					edges = append(edges, edge{what: id + " pulls its image", role: execRole, action: a, resource: repo, allow: true})
				}
				edges = append(edges, edge{what: id + " logs in to ECR", role: execRole, action: "ecr:GetAuthorizationToken", resource: "*", allow: true})
			}
			if lc, ok := cd["LogConfiguration"].(map[string]any); ok {
				opts, _ := lc["Options"].(map[string]any)
				// The awslogs driver's stream: <prefix>/<container>/<task id>.
				stream := arn("logs", "log-group:"+fmt.Sprint(opts["awslogs-group"])+":log-stream:"+fmt.Sprint(opts["awslogs-stream-prefix"])+"/worker/abc")
				for _, a := range []string{"logs:CreateLogStream", "logs:PutLogEvents"} {
					edges = append(edges, edge{what: id + " writes its logs", role: execRole, action: a, resource: stream, allow: true})
				}
			}
		}
		for _, v := range asList(p["Volumes"]) {
			efs, _ := v.(map[string]any)["EFSVolumeConfiguration"].(map[string]any)
			if efs == nil {
				continue
			}
			fsID := fmt.Sprint(w.resolve(s, efs["FilesystemId"]))
			auth, _ := w.resolve(s, efs["AuthorizationConfig"]).(map[string]any)
			ctx := map[string]any{}
			if ap, ok := auth["AccessPointId"]; ok {
				ctx["elasticfilesystem:AccessPointArn"] = arn("elasticfilesystem", "access-point/"+fmt.Sprint(ap))
			}
			for _, a := range []string{"elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"} {
				edges = append(edges, edge{what: id + " mounts /data", role: task, action: a, resource: arn("elasticfilesystem", "file-system/"+fsID), context: ctx, allow: true})
			}
		}
	}
	return edges
}

// resourcesWithPrefix lists the logical ids of type typ starting with prefix.
func resourcesWithPrefix(s *synthesized, typ, prefix string) []string {
	var out []string
	for id := range resources(s, typ) {
		if strings.HasPrefix(id, prefix) {
			out = append(out, id)
		}
	}
	return out
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// queueKey is the KMS key ARN of the queue, from its template.
func (w *world) queueKey(queue string) string {
	for _, s := range all {
		for id, q := range resources(s, "AWS::SQS::Queue") {
			if fmt.Sprint(w.getAtt(s, id, "Arn")) == queue {
				return fmt.Sprint(w.resolve(s, props(q)["KmsMasterKeyId"]))
			}
		}
	}
	return ""
}

// queueTags are a queue's tags as the aws:ResourceTag/ context IAM
// evaluates a call on it with; nil when the queue is not ours.
func (w *world) queueTags(queue string) map[string]any {
	for _, s := range all {
		for id, q := range resources(s, "AWS::SQS::Queue") {
			if fmt.Sprint(w.getAtt(s, id, "Arn")) != queue {
				continue
			}
			out := map[string]any{}
			for _, tag := range asList(props(q)["Tags"]) {
				m := tag.(map[string]any)
				out["aws:ResourceTag/"+fmt.Sprint(m["Key"])] = fmt.Sprint(w.resolve(s, m["Value"]))
			}
			return out
		}
	}
	return nil
}

// repositoryOf is the ARN of the repository an image URI names, if ours.
func (w *world) repositoryOf(image string) string {
	host, path, ok := strings.Cut(image, "/")
	if !ok || !strings.Contains(host, ".dkr.ecr.") {
		return ""
	}
	name, _, _ := strings.Cut(path, ":")
	name, _, _ = strings.Cut(name, "@")
	return arn("ecr", "repository/"+name)
}

// alarmEdges: every alarm of every stack can notify each of its topics, and
// CloudWatch can use the topic's key; a publisher in another account, or
// without TLS, cannot.
func (w *world) alarmEdges(t *testing.T, s *synthesized) []edge {
	t.Helper()
	var edges []edge
	alarms := resources(s, "AWS::CloudWatch::Alarm")
	maps.Copy(alarms, resources(s, "AWS::CloudWatch::CompositeAlarm"))
	for id, a := range alarms {
		p := props(a)
		alarm := arn("cloudwatch", "alarm:"+w.physicalName(s, id))
		ctx := map[string]any{"aws:SourceAccount": iamAccount, "aws:SourceArn": alarm}
		var topics []string
		topics = append(topics, asStrings(w.resolve(s, p["AlarmActions"]))...)
		topics = append(topics, asStrings(w.resolve(s, p["OKActions"]))...)
		for _, topic := range topics {
			if !strings.HasPrefix(topic, "arn:"+iamPartition+":sns:") {
				continue // a scaling policy, not a notification
			}
			edges = append(edges, edge{what: "alarm " + id + " notifies", principal: "cloudwatch.amazonaws.com", action: "sns:Publish", resource: topic, context: ctx, allow: true})
			key := w.topicKey(topic)
			if key == "" {
				t.Errorf("%s: alarm %s notifies %s, a topic not found in any template", s.name, id, topic)
				continue
			}
			for _, a := range []string{"kms:GenerateDataKey", "kms:Decrypt"} {
				edges = append(edges, edge{what: "alarm " + id + " uses the topic's key", principal: "cloudwatch.amazonaws.com", action: a, resource: key, context: ctx, allow: true})
			}
			other := map[string]any{"aws:SourceAccount": "999999999999", "aws:SourceArn": "arn:aws:cloudwatch:" + iamRegion + ":999999999999:alarm:x"}
			edges = append(edges, edge{what: "another account's alarm", principal: "cloudwatch.amazonaws.com", action: "sns:Publish", resource: topic, context: other, allow: false})
			plain := map[string]any{"aws:SourceAccount": iamAccount, "aws:SourceArn": alarm, "aws:SecureTransport": "false"}
			edges = append(edges, edge{what: "a publish without TLS", principal: "cloudwatch.amazonaws.com", action: "sns:Publish", resource: topic, context: plain, allow: false})
		}
	}
	return edges
}

// topicKey is the KMS key ARN of a topic, from its template.
func (w *world) topicKey(topic string) string {
	for _, s := range all {
		for id, tp := range resources(s, "AWS::SNS::Topic") {
			if fmt.Sprint(w.ref(s, id)) == topic {
				return fmt.Sprint(w.resolve(s, props(tp)["KmsMasterKeyId"]))
			}
		}
	}
	return ""
}

// pipelineEdges: the source action uses the connection it is given, the
// image step pushes to the regional repository only, the after-first-run
// step may start its own pipeline.
func (w *world) pipelineEdges(t *testing.T, s *synthesized) []edge {
	t.Helper()
	var edges []edge
	prefix := strings.TrimSuffix(s.name, "-Pipeline")
	regional := prefix + "-Regional"
	repo := arn("ecr", "repository/"+strings.ToLower(regional)+"-repository")
	regionalStack := arn("cloudformation", "stack/"+regional+"/0f0e0d0c-0b0a-0908-0706-050403020100")
	for id, pipe := range resources(s, "AWS::CodePipeline::Pipeline") {
		for _, st := range asList(props(pipe)["Stages"]) {
			for _, a := range asList(st.(map[string]any)["Actions"]) {
				am := a.(map[string]any)
				cfg, _ := am["Configuration"].(map[string]any)
				conn, ok := cfg["ConnectionArn"].(string)
				if !ok {
					continue
				}
				role := w.roleByARN(fmt.Sprint(w.resolve(s, am["RoleArn"])))
				action := strings.Split(conn, ":")[2] + ":UseConnection"
				edges = append(edges, edge{what: id + " source uses its connection", role: role, action: action, resource: conn, allow: true})
			}
		}
	}
	for id, proj := range resources(s, "AWS::CodeBuild::Project") {
		p := props(proj)
		spec := jsonOf(p["Source"])
		role := w.roleByARN(fmt.Sprint(w.resolve(s, p["ServiceRole"])))
		tagged := map[string]any{"aws:ResourceTag/stretched:stack": regional}
		switch {
		case strings.Contains(spec, "docker buildx build"):
			for _, a := range []string{"ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchCheckLayerAvailability", "ecr:DescribeImages"} {
				edges = append(edges, edge{what: id + " pushes the image", role: role, action: a, resource: repo, context: tagged, allow: true})
			}
			edges = append(edges,
				edge{what: id + " pushes to no other repository", role: role, action: "ecr:PutImage", resource: arn("ecr", "repository/other"), context: map[string]any{"aws:ResourceTag/stretched:stack": "Other-Regional"}, allow: false},
				edge{what: id + " logs in to ECR", role: role, action: "ecr:GetAuthorizationToken", resource: "*", allow: true},
				edge{what: id + " reads the regional stack", role: role, action: "cloudformation:DescribeStacks", resource: regionalStack, allow: true})
		case strings.Contains(spec, "start-pipeline-execution"):
			edges = append(edges,
				edge{what: id + " asks for the image", role: role, action: "ecr:DescribeImages", resource: repo, context: tagged, allow: true},
				edge{what: id + " starts its pipeline again", role: role, action: "codepipeline:StartPipelineExecution", resource: arn("codepipeline", s.name), allow: true},
				edge{what: id + " starts no other pipeline", role: role, action: "codepipeline:StartPipelineExecution", resource: arn("codepipeline", "Other-Pipeline"), allow: false})
		case strings.Contains(spec, "make test"):
			edges = append(edges, edge{what: id + " reads the regional stack", role: role, action: "cloudformation:DescribeStacks", resource: regionalStack, allow: true})
		}
	}
	return edges
}

// routingEdges: a producer with the producer policy may publish to the entry
// and send to every location's queue, and nothing more; SNS may deliver
// each subscription's messages to its queue with the queue's key.
func (w *world) routingEdges(t *testing.T, s *synthesized) []edge {
	t.Helper()
	ids := resourcesWithPrefix(s, "AWS::SNS::Topic", "EntryTopic")
	if len(ids) == 0 {
		return nil
	}
	topic := fmt.Sprint(w.ref(s, ids[0]))
	topicKey := w.topicKey(topic)
	policy, _ := w.resolve(s, props(resourceOf(s, logicalID(t, s, "AWS::IAM::ManagedPolicy", "EntryProducerPolicy")))["PolicyDocument"]).(map[string]any)
	producer := fmt.Sprintf("arn:aws:iam::%s:role/producer", iamAccount)
	via := func(service string) map[string]any {
		return map[string]any{"kms:ViaService": service + "." + iamRegion + ".amazonaws.com"}
	}
	edges := []edge{
		{what: "a producer publishes work", principal: producer, extra: []map[string]any{policy}, action: "sns:Publish", resource: topic,
			context: map[string]any{"aws:SecureTransport": "true"}, allow: true},
		{what: "a producer encrypts through SNS", principal: producer, extra: []map[string]any{policy}, action: "kms:GenerateDataKey", resource: topicKey, context: via("sns"), allow: true},
		{what: "a producer publishes only with TLS", principal: producer, extra: []map[string]any{policy}, action: "sns:Publish", resource: topic,
			context: map[string]any{"aws:SecureTransport": "false"}, allow: false},
	}
	for id, sub := range resources(s, "AWS::SNS::Subscription") {
		p := props(sub)
		if fmt.Sprint(w.resolve(s, p["TopicArn"])) != topic {
			continue
		}
		queue := fmt.Sprint(w.resolve(s, p["Endpoint"]))
		key := w.queueKey(queue)
		from := map[string]any{"aws:SourceArn": topic, "aws:SourceAccount": iamAccount}
		edges = append(edges,
			edge{what: id + ": SNS delivers", principal: "sns.amazonaws.com", action: "sqs:SendMessage", resource: queue, context: from, allow: true},
			edge{what: id + ": SNS encrypts for the queue", principal: "sns.amazonaws.com", action: "kms:GenerateDataKey", resource: key, context: from, allow: true},
			edge{what: id + ": SNS decrypts for the queue", principal: "sns.amazonaws.com", action: "kms:Decrypt", resource: key, context: from, allow: true},
			edge{what: id + ": another topic cannot deliver", principal: "sns.amazonaws.com", action: "sqs:SendMessage", resource: queue,
				context: map[string]any{"aws:SourceArn": arn("sns", "other-topic"), "aws:SourceAccount": iamAccount}, allow: false},
		)
		if !strings.Contains(id, "Unrouted") {
			prefix := prefixOf(s.name)
			location := map[string]any{"aws:ResourceTag/stretched:fleet": prefix, "aws:ResourceTag/stretched:location": "somewhere"}
			edges = append(edges,
				edge{what: "a producer sends straight to a location", principal: producer, extra: []map[string]any{policy}, action: "sqs:SendMessage", resource: queue, context: location, allow: true},
				edge{what: "a producer sends to no queue without a location (dead letters, unrouted)", principal: producer, extra: []map[string]any{policy}, action: "sqs:SendMessage", resource: queue,
					context: map[string]any{"aws:ResourceTag/stretched:fleet": prefix}, allow: false},
				edge{what: "a producer sends to no other app's location", principal: producer, extra: []map[string]any{policy}, action: "sqs:SendMessage", resource: queue,
					context: map[string]any{"aws:ResourceTag/stretched:fleet": "SomeoneElse", "aws:ResourceTag/stretched:location": "somewhere"}, allow: false},
				edge{what: "a producer encrypts through SQS", principal: producer, extra: []map[string]any{policy}, action: "kms:GenerateDataKey", resource: key, context: via("sqs"), allow: true},
				edge{what: "a producer consumes nothing", principal: producer, extra: []map[string]any{policy}, action: "sqs:ReceiveMessage", resource: queue, allow: false})
		}
	}
	return edges
}

// TestCallsTheSystemMakesAreAllowed evaluates every call above over every
// tested configuration: direct (default, several sites, pinned) and the
// pipelines.
func TestCallsTheSystemMakesAreAllowed(t *testing.T) {
	requireSynth(t)
	w := newWorld(all)
	var edges []edge
	var from []*synthesized // the stack each edge was made for
	sites := 0
	for _, s := range all {
		// The world resolves every ARN in one account and region; the
		// cells' stacks are built by the same code as the pinned ones
		// (config.ForCell changes only their environment, names and
		// sites), and what is theirs is checked by the residency walk.
		if cells[s.name] != nil || ringed[s.name] != nil {
			continue
		}
		n := len(edges)
		switch {
		case strings.HasSuffix(s.name, "-Pipeline"):
			edges = append(edges, w.pipelineEdges(t, s)...)
		case strings.Contains(s.name, "-Anywhere-"):
			sites++
			edges = append(edges, w.siteEdges(t, s)...)
		}
		edges = append(edges, w.taskEdges(t, s)...)
		edges = append(edges, w.alarmEdges(t, s)...)
		edges = append(edges, w.routingEdges(t, s)...)
		for range len(edges) - n {
			from = append(from, s)
		}
	}
	if sites < 4 {
		t.Fatalf("only %d site stacks: the tested configurations were not all read", sites)
	}
	results := w.check(t, edges)
	writeSimulation(t, edges, from, results)
}

// simulationFile is what the review reports of the simulation: the edges
// of the default configuration, with their results (make review reads it;
// -update rewrites it, and a stale one fails).
var simulationFile = filepath.Join("testdata", "review", "simulation.json")

func writeSimulation(t *testing.T, edges []edge, from []*synthesized, results []string) {
	t.Helper()
	sim := review.Simulation{Configurations: []string{"the default configuration (cdk.json: one site, onprem)"}}
	for i, e := range edges {
		if defaults[from[i].name] == nil {
			continue
		}
		who := e.principal
		if e.role != nil {
			who = review.Name(e.role.stack.name, e.role.id, "AWS::IAM::Role")
		}
		sim.Edges = append(sim.Edges, review.Edge{What: e.what, Who: who, Action: e.action, Resource: e.resource, Allowed: results[i] == "Allowed"})
	}
	// The edges are made partly in map order: sorted, the file is stable.
	sort.Slice(sim.Edges, func(i, j int) bool {
		a, b := sim.Edges[i], sim.Edges[j]
		return fmt.Sprint(!a.Allowed, a.Who, a.Action, a.What, a.Resource) < fmt.Sprint(!b.Allowed, b.Who, b.Action, b.What, b.Resource)
	})
	got, err := json.MarshalIndent(sim, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.MkdirAll(filepath.Dir(simulationFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(simulationFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(simulationFile)
	if err != nil || !bytes.Equal(want, got) {
		t.Errorf("%s is stale (%v): the review would report other edges than this run proved; go test ./test -run TestCallsTheSystemMakesAreAllowed -update", simulationFile, err)
	}
}

// TestHandlerCallsComeFromTheCode: the edges above are the handlers' own
// client interfaces; an interface with no methods would check nothing.
func TestHandlerCallsComeFromTheCode(t *testing.T) {
	got := strings.Join(sdkcalls.Of(siteagenthandler.Fleet{}), " ")
	for _, want := range []string{"ssm:GetParametersByPath", "ecs:UpdateService", "ecs:DescribeContainerInstances", "sqs:GetQueueAttributes"} {
		if !strings.Contains(got, want) {
			t.Errorf("the site agent's calls %s lack %s", got, want)
		}
	}
	if _, err := os.Stat(filepath.Join("iamsim", "simulate.mjs")); err != nil {
		t.Fatal(err)
	}
}

// prefixOf is the stack prefix of a stack's name (a cell's prefix,
// <prefix>-<cell>, has a '-' of its own).
func prefixOf(name string) string {
	for _, sep := range []string{"-Anywhere-", "-Regional", "-Pipeline"} {
		if p, _, ok := strings.Cut(name, sep); ok {
			return p
		}
	}
	return name
}
