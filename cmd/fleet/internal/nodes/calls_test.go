package nodes

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecs-anywhere-stretched/stretched/testkit/sdkcalls"
)

var update = flag.Bool("update", false, "rewrite testdata/calls.txt")

// CallsFile lists every AWS call fleet node makes with a site's
// NodeOperatorPolicy. The permission simulation (test/) cannot import this
// package (it is the command's own), so it reads the list from this file
// and grants each call from the synthesized policy.
const CallsFile = "testdata/calls.txt"

// The calls file is the calls of this package's interfaces: a new call
// fails here until `go test ./cmd/fleet/internal/nodes -update` writes it,
// then in the permission simulation until the policy grants it.
func TestCallsFileIsCurrent(t *testing.T) {
	got := strings.Join(sdkcalls.Of(struct {
		SSM
		ECS
		Managed
		Commands
	}{}), "\n") + "\n"
	if *update {
		if err := os.MkdirAll(filepath.Dir(CallsFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(CallsFile, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(CallsFile)
	if err != nil {
		t.Fatalf("%v: run go test ./cmd/fleet/internal/nodes -update", err)
	}
	if string(want) != got {
		t.Errorf("%s is stale (run go test ./cmd/fleet/internal/nodes -update):\nhave:\n%s\nwant:\n%s", CallsFile, want, got)
	}
}
