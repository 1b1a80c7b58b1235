// Package layout holds the import boundaries of the repository, checked with
// `go list -deps` on the packages as built (tests excluded). The rule in one
// line: a feature's handler and contract (constructs/<feature>/handler,
// constructs/<feature>/contract, stacks/contract), and everything that runs
// outside CDK (the Lambda binary, the worker, the commands), link no CDK;
// constructs link no handler. Also:
//
//   - constructs, stacks and config import no handler, worker or command
//     code: they share names and limits with it through the features'
//     contracts;
//   - no shipped package links a test double (testkit).
//
// The Lambda asset hash is of exactly what the binary links (go list -deps,
// constructs/gofunction), so it needs no rule here.
package layout_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/ecs-anywhere-stretched/stretched"

// deps maps each package of pattern to every package it links (.Deps of go
// list: transitive, tests excluded).
func deps(t *testing.T, pattern string) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, pattern).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pattern, err)
	}
	got := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		got[fields[0]] = fields[1:]
	}
	if len(got) == 0 {
		t.Fatalf("go list %s found nothing", pattern)
	}
	return got
}

// forbid fails for every package of pattern that keep selects and that
// links a package bad matches.
func forbid(t *testing.T, pattern string, keep func(pkg string) bool, why string, bad func(dep string) bool) {
	t.Helper()
	checked := 0
	for pkg, list := range deps(t, pattern) {
		if strings.HasPrefix(pkg, module+"/testkit/") || !keep(pkg) {
			continue // the doubles themselves
		}
		checked++
		for _, dep := range list {
			if bad(dep) {
				t.Errorf("%s links %s: %s", pkg, dep, why)
			}
		}
	}
	if checked == 0 {
		t.Errorf("%s: no package checked", pattern)
	}
}

// under matches the import paths that start with one of the prefixes.
func under(prefixes ...string) func(string) bool {
	return func(dep string) bool {
		return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(dep, p) })
	}
}

var cdk = under("github.com/aws/aws-cdk-go/", "github.com/aws/jsii-runtime-go", "github.com/aws/constructs-go/", "github.com/cdklabs/")

// handler matches a feature's handler package.
func handler(dep string) bool {
	return strings.HasPrefix(dep, module+"/") && strings.HasSuffix(dep, "/handler")
}

// featureRuntime is a feature's handler or contract.
func featureRuntime(pkg string) bool {
	return strings.HasSuffix(pkg, "/handler") || strings.HasSuffix(pkg, "/contract")
}

func all(string) bool { return true }

func TestHandlersContractsAndRuntimeCodeLinkNoCDK(t *testing.T) {
	for _, pattern := range []string{"lambda/...", "worker", "cmd/..."} {
		forbid(t, "../../"+pattern, all, "code that runs in a Lambda, a container or a terminal needs no CDK", cdk)
	}
	for _, pattern := range []string{"constructs/...", "stacks/..."} {
		forbid(t, "../../"+pattern, featureRuntime, "a feature's handler and contract link no CDK", cdk)
	}
}

func TestConstructsImportNoRuntimeCode(t *testing.T) {
	notRuntime := func(pkg string) bool { return !featureRuntime(pkg) }
	for _, pattern := range []string{"constructs/...", "stacks/...", "config"} {
		forbid(t, "../../"+pattern, notRuntime, "share names and limits through the features' contracts, not handler, worker or command code",
			under(module+"/lambda", module+"/worker", module+"/cmd/"))
		forbid(t, "../../"+pattern, notRuntime, "a construct writes its handler's contract, it does not run the handler", handler)
	}
}

func TestNothingShippedLinksATestDouble(t *testing.T) {
	forbid(t, "../../...", all, "test doubles and peers are for tests", under(module+"/testkit/"))
}

// Every package under constructs/ is a feature (constructs/<feature>, its
// construct) or that feature's handler or contract, and a handler or
// contract sits beside its feature's construct.
func TestConstructsAreFeatureFolders(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{.Name}}", "../../constructs/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	features := map[string]bool{}
	var parts [][2]string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, name, _ := strings.Cut(line, " ")
		rel := strings.Split(strings.TrimPrefix(path, module+"/constructs/"), "/")
		switch {
		case len(rel) == 1:
			features[rel[0]] = true
		case len(rel) == 2 && (rel[1] == "handler" || rel[1] == "contract") && name == rel[1]:
			parts = append(parts, [2]string{rel[0], path})
		default:
			t.Errorf("%s (package %s) is neither a feature nor its handler or contract: constructs/<feature>/{handler,contract}", path, name)
		}
	}
	for _, p := range parts {
		if !features[p[0]] {
			t.Errorf("%s has no construct beside it (constructs/%s)", p[1], p[0])
		}
	}
	if len(features) < 15 || len(parts) < 10 {
		t.Errorf("found %d features and %d handlers or contracts", len(features), len(parts))
	}
}
