package test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"

	"github.com/ecs-anywhere-stretched/stretched/internal/review"
)

// TestCdkNag fails on any unsuppressed AwsSolutions error or warning, and
// checks every suppression carries a reason.
func TestCdkNag(t *testing.T) {
	requireSynth(t)
	for _, s := range all {
		for _, m := range s.messages {
			if m.Level != cxapi.SynthesisMessageLevel_ERROR && m.Level != cxapi.SynthesisMessageLevel_WARNING {
				continue
			}
			data := fmt.Sprint(derefAny(m.Entry.Data))
			t.Errorf("%s %s at %s: %s", s.name, m.Level, *m.Id, data)
		}
		for id, r := range resourcesAll(s) {
			md, _ := r["Metadata"].(map[string]any)
			nag, _ := md["cdk_nag"].(map[string]any)
			rules, _ := nag["rules_to_suppress"].([]any)
			for _, rule := range rules {
				rm, _ := rule.(map[string]any)
				if reason, _ := rm["reason"].(string); len(reason) < 20 {
					t.Errorf("%s: suppression of %v on %s has no real reason: %q", s.name, rm["id"], id, reason)
				}
			}
		}
	}
}

func derefAny(v any) any {
	if p, ok := v.(*any); ok && p != nil {
		return *p
	}
	if p, ok := v.(*string); ok && p != nil {
		return *p
	}
	return v
}

func resourcesAll(s *synthesized) map[string]map[string]any {
	out := map[string]map[string]any{}
	res, _ := s.template["Resources"].(map[string]any)
	for id, r := range res {
		out[id], _ = r.(map[string]any)
	}
	return out
}

// tool finds a checker, failing under CI (which must have it) and skipping on
// a developer machine that lacks it.
func tool(t *testing.T, path, why string) string {
	t.Helper()
	if p, err := exec.LookPath(path); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found: %s", path, why)
	}
	t.Skipf("%s not found: %s", path, why)
	return ""
}

// TestCfnLint runs cfn-lint over every synthesized template. W3005 (a
// DependsOn next to a GetAtt that implies it) is ignored: CDK writes that pair
// for every Lambda function and its role.
func TestCfnLint(t *testing.T) {
	t.Parallel() // runs processes over the synthesized templates, which nothing changes
	requireSynth(t)
	lint := tool(t, "cfn-lint", "it ships with the machine image (pip install cfn-lint)")
	var files, pipelineFiles []string
	for _, s := range all {
		if strings.HasSuffix(s.name, "-Pipeline") {
			pipelineFiles = append(pipelineFiles, s.file)
		} else {
			files = append(files, s.file)
		}
	}
	// The stacks and the pipeline run side by side (cfn-lint is one
	// process per call). E3703 (prefer Fn::Sub to an empty-delimiter
	// Fn::Join) flags the role ARNs CDK Pipelines writes into its
	// CloudFormation actions' free-form Configuration; nothing else is
	// ignored for the pipeline.
	runs := []struct {
		what   string
		ignore []string
		files  []string
	}{{"", []string{"W3005"}, files}, {" in the pipeline", []string{"W3005", "E3703"}, pipelineFiles}}
	outs := make([][]byte, len(runs))
	errs := make([]error, len(runs))
	var wg sync.WaitGroup
	for i, r := range runs {
		wg.Go(func() {
			args := append([]string{"--format", "parseable", "--ignore-checks"}, r.ignore...)
			outs[i], errs[i] = exec.Command(lint, append(append(args, "--"), r.files...)...).CombinedOutput()
		})
	}
	wg.Wait()
	for i, r := range runs {
		if errs[i] != nil {
			t.Errorf("cfn-lint found problems%s (%v):\n%s", r.what, errs[i], outs[i])
		}
	}
}

// guardFinding is one resource failing one rule.
type guardFinding struct{ rule, resource string }

var guardResourcePath = regexp.MustCompile(`^/Resources/([^/]+)`)

// guardFindings reads cfn-guard's structured JSON report (one entry per data
// file): every rule a template does not comply with, with every resource
// whose properties it traversed to. A failure it cannot read (no rule name,
// no resource) is returned as an error, never skipped.
func guardFindings(report []byte) (map[string][]guardFinding, error) {
	var files []struct {
		Name         string           `json:"name"`
		NotCompliant []map[string]any `json:"not_compliant"`
	}
	if err := json.Unmarshal(report, &files); err != nil {
		return nil, fmt.Errorf("read cfn-guard's report: %w", err)
	}
	found := map[string][]guardFinding{}
	var errs []error
	for _, file := range files {
		for _, failure := range file.NotCompliant {
			rule, _ := failure["Rule"].(map[string]any)
			name, _ := rule["name"].(string)
			var resources []string
			walkPaths(failure, func(path string) {
				if m := guardResourcePath.FindStringSubmatch(path); m != nil && !slices.Contains(resources, m[1]) {
					resources = append(resources, m[1])
				}
			})
			if name == "" || len(resources) == 0 {
				b, _ := json.Marshal(failure)
				errs = append(errs, fmt.Errorf("%s: a failure without a rule name or resource: %.500s", file.Name, b))
				continue
			}
			for _, r := range resources {
				found[file.Name] = append(found[file.Name], guardFinding{rule: name, resource: r})
			}
		}
	}
	return found, errors.Join(errs...)
}

// walkPaths calls fn with every "path" string in v.
func walkPaths(v any, fn func(string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if p, ok := x.(string); ok && k == "path" {
				fn(p)
			} else {
				walkPaths(x, fn)
			}
		}
	case []any:
		for _, x := range v {
			walkPaths(x, fn)
		}
	}
}

// excepted: the finding is one of the app's cfn-guard exceptions
// (internal/review, listed in the review and docs/security.md).
func excepted(f guardFinding) bool { return review.GuardExcepted(f.rule, f.resource) }

// guardType is a resource type a rule file names.
var guardType = regexp.MustCompile(`AWS::[A-Za-z0-9]+::[A-Za-z0-9]+`)

// guardRules are the rule files under dir that can apply to the
// synthesized templates: every file that names a resource type the
// templates have, or names none (a rule for any type). The others only
// skip, at a cost: all 237 files over the templates took 18 s, these
// about 6 s, with the same findings.
func guardRules(dir string) ([]string, error) {
	types := map[string]bool{}
	for _, s := range all {
		for _, r := range s.template["Resources"].(map[string]any) {
			if typ, ok := r.(map[string]any)["Type"].(string); ok {
				types[typ] = true
			}
		}
	}
	var rules []string
	var total int
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".guard") {
			return err
		}
		total++
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		named := guardType.FindAllString(string(raw), -1)
		if len(named) == 0 || slices.ContainsFunc(named, func(t string) bool { return types[t] }) {
			rules = append(rules, path)
		}
		return nil
	})
	if err == nil && (len(rules) == 0 || total < 200) {
		err = fmt.Errorf("cfn-guard rules under %s: %d of %d files apply to the templates' %d types", dir, len(rules), total, len(types))
	}
	return rules, err
}

// TestCfnGuard runs cfn-guard with the Control Tower proactive rules over
// every synthesized template, in one run (the rules are read once).
func TestCfnGuard(t *testing.T) {
	t.Parallel() // runs processes over the synthesized templates, which nothing changes
	requireSynth(t)
	pkg := filepath.Join("..", "node_modules", "@cdklabs", "cdk-validator-cfnguard")
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	guard := tool(t, filepath.Join(pkg, "bin", "ubuntu", arch, "cfn-guard"), "make tools installs @cdklabs/cdk-validator-cfnguard")
	args := []string{"validate", "--structured", "--output-format", "json", "--show-summary", "none"}
	rules, err := guardRules(filepath.Join(pkg, "rules", "control-tower", "cfn-guard"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		args = append(args, "--rules", r)
	}
	stackOf := map[string]string{}
	for _, s := range all {
		args = append(args, "--data", s.file)
		stackOf[s.file] = s.name
	}
	cmd := exec.Command(guard, args...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run cfn-guard: %v", err)
	}
	found, readErr := guardFindings(out.Bytes())
	if readErr != nil {
		t.Fatalf("%v\n%s", readErr, stderr.String())
	}
	for file, findings := range found {
		if stackOf[file] == "" {
			t.Errorf("cfn-guard reported on %s, which is no template of this test", file)
		}
		for _, f := range findings {
			if !excepted(f) {
				t.Errorf("%s: cfn-guard rule %s fails on %s", stackOf[file], f.rule, f.resource)
			}
		}
	}
	if err != nil && len(found) == 0 {
		t.Errorf("cfn-guard exited %v without a failing rule we could read:\n%s", err, stderr.String())
	}
	if err == nil && len(found) > 0 {
		t.Errorf("cfn-guard passed but we read findings %v", found)
	}
}

func TestGuardFindingsParser(t *testing.T) {
	report := `[{"name":"x.json","status":"FAIL","not_compliant":[{"Rule":{"name":"sqs_dlq_check","checks":[{"Rule":{"name":"check","checks":[
		{"Clause":{"Unary":{"check":{"UnResolved":{"value":{"traversed_to":{"path":"/Resources/WorkQueueDeadLetterQueueF71CA21F/Properties","value":{}}}}}}}}]}}]}}],
		"not_applicable":[],"compliant":[]}]`
	got, err := guardFindings([]byte(report))
	if err != nil || len(got["x.json"]) != 1 || got["x.json"][0] != (guardFinding{"sqs_dlq_check", "WorkQueueDeadLetterQueueF71CA21F"}) {
		t.Fatalf("parsed %v, %v", got, err)
	}
	if !excepted(got["x.json"][0]) || excepted(guardFinding{"sqs_dlq_check", "WorkQueueQueue"}) {
		t.Error("exceptions must match by rule and resource")
	}
	if _, err := guardFindings([]byte(`[{"name":"x.json","not_compliant":[{"Disjunctions":{}}]}]`)); err == nil {
		t.Error("a failure the parser cannot read must be an error")
	}
}
