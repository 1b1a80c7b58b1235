// Package layout holds the import boundaries of the repository, checked with
// `go list -deps` on the packages as built (tests excluded):
//
//   - what runs outside CDK (the Lambda binary, the worker, cmd/fleet) links
//     no CDK, jsii or constructs module: a CDK upgrade never touches them and
//     they stay small;
//   - constructs and stacks import no handler, worker or command code: they
//     share names and limits with it through internal/names, internal/limits
//     and the other small internal packages;
//   - no shipped package links a test double (testkit).
//
// The Lambda asset hash is of exactly what the binary links (go list -deps,
// constructs/gofunction), so it needs no rule here.
package layout_test

import (
	"os/exec"
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

// forbid fails for every package of pattern that links a package whose
// import path starts with one of the prefixes.
func forbid(t *testing.T, pattern string, why string, prefixes ...string) {
	t.Helper()
	for pkg, list := range deps(t, pattern) {
		if strings.HasPrefix(pkg, module+"/testkit/") {
			continue // the doubles themselves
		}
		for _, dep := range list {
			for _, p := range prefixes {
				if strings.HasPrefix(dep, p) {
					t.Errorf("%s links %s: %s", pkg, dep, why)
				}
			}
		}
	}
}

var cdk = []string{"github.com/aws/aws-cdk-go/", "github.com/aws/jsii-runtime-go", "github.com/aws/constructs-go/", "github.com/cdklabs/"}

func TestRuntimeCodeLinksNoCDK(t *testing.T) {
	for _, pattern := range []string{"lambda/...", "worker", "cmd/..."} {
		forbid(t, "../../"+pattern, "code that runs in a Lambda, a container or a terminal needs no CDK", cdk...)
	}
}

func TestConstructsImportNoRuntimeCode(t *testing.T) {
	for _, pattern := range []string{"constructs/...", "stacks", "config"} {
		forbid(t, "../../"+pattern, "share names and limits through internal/, not handler, worker or command code",
			module+"/lambda", module+"/worker", module+"/cmd/")
	}
}

func TestNothingShippedLinksATestDouble(t *testing.T) {
	forbid(t, "../../...", "test doubles and peers are for tests", module+"/testkit/")
}
