package quota

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Template is the part of a CloudFormation template the quotas read.
type Template struct {
	Resources  map[string]Resource `json:"Resources"`
	Outputs    map[string]any      `json:"Outputs"`
	Parameters map[string]any      `json:"Parameters"`
}

// Resource is one resource of a template.
type Resource struct {
	Type       string         `json:"Type"`
	Properties map[string]any `json:"Properties"`
}

// Stack is one synthesized template: its file name, size, environment and
// content.
type Stack struct {
	File  string
	Bytes int
	// Env is the stack's environment as the manifest writes it,
	// aws://<account>/<region> (unknown-account, unknown-region when not
	// pinned).
	Env string
	Template
}

// ReadAssembly reads every template of the cloud assembly in dir (a
// pipeline's stage assemblies included), sorted by file: the templates its
// manifest.json lists, not whatever else an earlier synth left in dir.
func ReadAssembly(dir string) ([]Stack, error) {
	out, err := readManifest(dir)
	if err != nil {
		return nil, fmt.Errorf("read the synthesized templates in %s: %w", dir, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out, nil
}

// manifest is the part of a cloud assembly's manifest.json read here.
type manifest struct {
	Artifacts map[string]struct {
		Type        string `json:"type"`
		Environment string `json:"environment"`
		Properties  struct {
			TemplateFile  string `json:"templateFile"`
			DirectoryName string `json:"directoryName"`
		} `json:"properties"`
	} `json:"artifacts"`
}

func readManifest(dir string) ([]Stack, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s/manifest.json: %w", dir, err)
	}
	var out []Stack
	for _, a := range m.Artifacts {
		switch a.Type {
		case "aws:cloudformation:stack":
			path := filepath.Join(dir, a.Properties.TemplateFile)
			raw, err := os.ReadFile(path)
			if err != nil {
				return nil, err
			}
			s := Stack{File: filepath.Base(path), Bytes: len(raw), Env: a.Environment}
			if err := json.Unmarshal(raw, &s.Template); err != nil {
				return nil, fmt.Errorf("template %s: %w", path, err)
			}
			out = append(out, s)
		case "cdk:cloud-assembly":
			nested, err := readManifest(filepath.Join(dir, a.Properties.DirectoryName))
			if err != nil {
				return nil, err
			}
			out = append(out, nested...)
		}
	}
	return out, nil
}

// The ways out the app offers, by what grows.
const (
	FewerSites = "configure fewer sites in this app (split them between apps with different stackPrefix values)"
	// OtherAccounts is the way out of an account-wide quota.
	OtherAccounts = "split the sites between cells in other accounts or regions (context key \"cells\", docs/cells.md)"
)

// Uses are every quota use of the templates: per stack its resources,
// outputs, parameters and size, per topic its filtered subscriptions, per
// pipeline its stages and per stage its actions; per account its stacks,
// roles, customer managed policies, EventBridge rules and SSM parameters.
// Sizes come from the written templates, so the exports CDK adds for
// cross-stack references at synth are counted too.
func Uses(stacks []Stack) []Use {
	var uses []Use
	// Counted per account and region (stacks, rules, parameters) and per
	// account (roles, managed policies): an app of cells spans several.
	type counts struct{ stacks, roles, policies, rules, params int }
	byEnv, byAccount := map[string]*counts{}, map[string]*counts{}
	byTopic := map[string]int{}
	exports := exported(stacks)
	for _, s := range stacks {
		where := "template " + s.File
		account, _, _ := strings.Cut(strings.TrimPrefix(s.Env, "aws://"), "/")
		if byEnv[s.Env] == nil {
			byEnv[s.Env] = &counts{}
		}
		if byAccount[account] == nil {
			byAccount[account] = &counts{}
		}
		env, acct := byEnv[s.Env], byAccount[account]
		env.stacks++
		uses = append(uses,
			Use{Quota: StackResources, Where: where, Value: len(s.Resources), WayOut: FewerSites},
			Use{Quota: StackOutputs, Where: where, Value: len(s.Outputs), WayOut: FewerSites},
			Use{Quota: StackParameters, Where: where, Value: len(s.Parameters), WayOut: FewerSites},
			Use{Quota: TemplateBytes, Where: where, Value: s.Bytes, WayOut: FewerSites},
		)
		for _, id := range slices.Sorted(maps.Keys(s.Resources)) {
			r := s.Resources[id]
			switch r.Type {
			case "AWS::IAM::Role":
				acct.roles++
			case "AWS::IAM::ManagedPolicy":
				acct.policies++
				uses = append(uses, Use{Quota: ManagedPolicyChars, Where: fmt.Sprintf("managed policy %s of %s", id, where), Value: PolicyChars(r.Properties["PolicyDocument"]), WayOut: FewerSites})
			case "AWS::Events::Rule":
				env.rules++
			case "AWS::SSM::Parameter":
				env.params++
			case "AWS::SNS::Subscription":
				if policy := r.Properties["FilterPolicy"]; policy != nil {
					byTopic[topicOf(s, r.Properties["TopicArn"], exports)]++
					uses = append(uses, Use{Quota: FilterCombinations, Where: fmt.Sprintf("subscription %s of %s", id, where), Value: Combinations(policy), WayOut: FewerSites})
				}
			case "AWS::CodePipeline::Pipeline":
				stages, _ := r.Properties["Stages"].([]any)
				uses = append(uses, Use{Quota: PipelineStages, Where: fmt.Sprintf("pipeline %s of %s", id, where), Value: len(stages), WayOut: "raise pipeline.waveSize (fewer, larger waves)"})
				for _, st := range stages {
					m, _ := st.(map[string]any)
					actions, _ := m["Actions"].([]any)
					uses = append(uses, Use{Quota: PipelineActions, Where: fmt.Sprintf("stage %v of %s", m["Name"], where), Value: len(actions), WayOut: "lower pipeline.waveSize"})
				}
			}
		}
	}
	topics := make([]string, 0, len(byTopic))
	for t := range byTopic {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	for _, t := range topics {
		uses = append(uses, Use{Quota: FilterPolicies, Where: "topic " + t, Value: byTopic[t], WayOut: "raise entryTopics"})
	}
	// With one environment the uses are the app's ("this app would
	// reach"); with several, each names its account (and region).
	name := func(m map[string]*counts, k, what string) string {
		if len(m) == 1 {
			return ""
		}
		return what + " " + strings.TrimPrefix(k, "aws://")
	}
	for _, k := range slices.Sorted(maps.Keys(byEnv)) {
		c, where := byEnv[k], name(byEnv, k, "account/region")
		uses = append(uses,
			Use{Quota: Stacks, Where: where, Value: c.stacks, WayOut: OtherAccounts},
			Use{Quota: Rules, Where: where, Value: c.rules, WayOut: FewerSites},
			Use{Quota: Parameters, Where: where, Value: c.params, WayOut: FewerSites})
	}
	for _, k := range slices.Sorted(maps.Keys(byAccount)) {
		c, where := byAccount[k], name(byAccount, k, "account")
		uses = append(uses,
			Use{Quota: Roles, Where: where, Value: c.roles, WayOut: RolesWayOut},
			Use{Quota: ManagedPolicies, Where: where, Value: c.policies, WayOut: FewerSites})
	}
	return uses
}

// ArnChars is what a reference in a policy is taken to resolve to: an ARN
// such as arn:aws:sqs:eu-west-1:123456789012:<a generated queue name>.
const ArnChars = 100

// PolicyChars estimates the size IAM counts of a policy document (its JSON
// without whitespace) once deployed: every intrinsic function (a Ref, a
// GetAtt, an import, a join with one) as an ARN of ArnChars characters.
func PolicyChars(doc any) int {
	b, _ := json.Marshal(withArns(doc))
	return len(b)
}

func withArns(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k := range t {
			if k == "Ref" || strings.HasPrefix(k, "Fn::") {
				return strings.Repeat("a", ArnChars)
			}
		}
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = withArns(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = withArns(x)
		}
		return out
	default:
		return v
	}
}

// Combinations is SNS's count of a filter policy's value combinations:
// the product over its keys of the values each lists (an anything-but
// counts each value it names), and for $or the sum over its branches.
func Combinations(policy any) int {
	m, ok := policy.(map[string]any)
	if !ok {
		return 1
	}
	total := 1
	for k, v := range m {
		switch {
		case k == "$or":
			sum := 0
			for _, branch := range asList(v) {
				sum += Combinations(branch)
			}
			total *= max(sum, 1)
		default:
			if list, ok := v.([]any); ok {
				n := 0
				for _, x := range list {
					n += values(x)
				}
				total *= max(n, 1)
			} else {
				total *= Combinations(v) // a nested key
			}
		}
	}
	return total
}

// values is what one entry of a key's list counts: a value, or an
// operator (anything-but of a list counts each value of it).
func values(x any) int {
	op, ok := x.(map[string]any)
	if !ok {
		return 1
	}
	if l, ok := op["anything-but"].([]any); ok {
		return max(len(l), 1)
	}
	return 1
}

func asList(v any) []any { l, _ := v.([]any); return l }

// CheckAssembly reads the templates in dir and checks every quota use,
// against the values raised gives in place of AWS's defaults (an
// account's raised quota).
func CheckAssembly(dir string, raised map[Quota]Raised) error {
	stacks, err := ReadAssembly(dir)
	if err != nil {
		return err
	}
	return CheckStacks(stacks, raised)
}

// CheckStacks checks every quota use of stacks, against the values raised
// gives in place of AWS's defaults.
func CheckStacks(stacks []Stack, raised map[Quota]Raised) error {
	uses := Uses(stacks)
	for i, u := range uses {
		if r, ok := raised[u.Quota]; ok {
			uses[i] = r.apply(u)
		}
	}
	return Check(uses...)
}

// RolesWayOut is what brings the app's IAM roles down.
const RolesWayOut = "fewer sites per account, or give sites your own instance role (instanceRoleArn)"

// CheckRaised checks one use against a raised quota.
func CheckRaised(u Use, r Raised) error { return Check(r.apply(u)) }

// Raised is a quota the user raised and says so with a context key.
type Raised struct {
	// Limit is the raised value.
	Limit int
	// Key is the context key that gives it.
	Key string
}

// apply checks u against the raised limit, and names the key as a way out.
func (r Raised) apply(u Use) Use {
	if r.Limit > 0 {
		u.Quota.Limit = r.Limit
	}
	if u.Quota.Raise != "" {
		u.WayOut += fmt.Sprintf(", or raise %q (%s) in Service Quotas and set context key %q to at least %s", u.Quota.Raise, u.Quota.Service, r.Key, Thousands(u.Value))
		u.Quota.Raise = ""
	}
	return u
}

// exported maps each export's name to the topic it stands for: the
// exporting template and the value's JSON.
func exported(stacks []Stack) map[string]string {
	out := map[string]string{}
	for _, s := range stacks {
		for _, o := range s.Outputs {
			m, _ := o.(map[string]any)
			export, _ := m["Export"].(map[string]any)
			if name, ok := export["Name"].(string); ok {
				v, _ := json.Marshal(m["Value"])
				out[name] = fmt.Sprintf("%s of template %s", v, s.File)
			}
		}
	}
	return out
}

// topicOf names the topic a subscription's TopicArn refers to, the same
// for a Ref in the topic's template and an import of it in another, so
// the filter policies of one topic count together wherever they are.
func topicOf(s Stack, arn any, exports map[string]string) string {
	if m, ok := arn.(map[string]any); ok {
		if name, ok := m["Fn::ImportValue"].(string); ok && exports[name] != "" {
			return exports[name]
		}
	}
	v, _ := json.Marshal(arn)
	return fmt.Sprintf("%s of template %s", v, s.File)
}
