package review

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite createonly.json from cfn-lint's resource schemas")

// createOnlyScript prints, for each type on standard input (one a line),
// the top-level properties its provider schema marks createOnly, from the
// schemas cfn-lint ships (no network).
const createOnlyScript = `
import json, sys
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER as m
out = {}
for t in sys.stdin.read().split():
    s = m.get_resource_schema("us-east-1", t).schema
    out[t] = sorted({p.split("/")[2] for p in s.get("createOnlyProperties", [])})
print(json.dumps(out, indent=1, sort_keys=True))
`

// TestCreateOnlyTableIsCurrent: createonly.json holds every resource type
// the tested configurations' templates use (test/testdata/inventory), as
// cfn-lint's schemas give them; -update rewrites it.
func TestCreateOnlyTableIsCurrent(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "test", "testdata", "inventory", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("inventories: %v %v", files, err)
	}
	types := map[string]bool{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			if fields := strings.Fields(line); len(fields) > 1 && strings.HasPrefix(fields[1], "AWS::") {
				types[fields[1]] = true
			}
		}
	}
	var list []string
	for typ := range types {
		list = append(list, typ)
	}
	sort.Strings(list)
	cmd := exec.Command("python3", "-c", createOnlyScript)
	cmd.Stdin = strings.NewReader(strings.Join(list, "\n"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if os.Getenv("CI") != "true" {
			t.Skipf("cfn-lint's schemas not readable here (%v): %s", err, stderr.String())
		}
		t.Fatalf("cfn-lint's schemas: %v\n%s", err, stderr.String())
	}
	if *update {
		if err := os.WriteFile("createonly.json", out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	var want, got map[string][]string
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(createOnlyJSON, &got); err != nil {
		t.Fatal(err)
	}
	for typ, props := range want {
		if g, ok := got[typ]; !ok || strings.Join(g, ",") != strings.Join(props, ",") {
			t.Errorf("%s: createonly.json has %v, cfn-lint %v: go test ./internal/review -run TestCreateOnly -update", typ, g, props)
		}
	}
}
