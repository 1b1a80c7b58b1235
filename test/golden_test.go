package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// assetHash matches what legitimately varies between machines and Go
// versions: the content hashes of the Lambda bundle and the image asset.
var assetHash = regexp.MustCompile(`[0-9a-f]{64}`)

// assetDestination matches the short hash CDK Pipelines appends to an
// asset's destination (account-region-hash); it changes with the asset.
var assetDestination = regexp.MustCompile(`([0-9]{12}-[a-z]{2}(-[a-z]+)+-[0-9]-)[0-9a-f]{8}`)

// normalized renders a template as stable, indented JSON with asset hashes masked.
func normalized(tmpl map[string]any) (string, error) {
	raw, err := json.MarshalIndent(tmpl, "", "  ")
	if err != nil {
		return "", fmt.Errorf("render template: %w", err)
	}
	masked := assetHash.ReplaceAllString(string(raw), "<asset-hash>")
	return assetDestination.ReplaceAllString(masked, "${1}<hash>") + "\n", nil
}

// TestGolden compares every stack of the default configuration with its
// snapshot in testdata/. `go test ./test -run TestGolden -update` (make golden)
// rewrites the snapshots after a deliberate change; review the diff.
func TestGolden(t *testing.T) {
	requireSynth(t)
	golden := map[string]*synthesized{"Pipe-Pipeline": pipes["Pipe-Pipeline"]}
	for n, st := range defaults {
		golden[n] = st
	}
	names := make([]string, 0, len(golden))
	for n := range golden {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			got, err := normalized(golden[name].template)
			if err != nil {
				t.Fatal(err)
			}
			matchGolden(t, filepath.Join("testdata", name+".template.json"), got, "the synthesized template")
		})
	}
}

// inventory is a small snapshot of a stack: one line per resource, its
// logical id, type and deletion policy, sorted. A changed logical id means
// CloudFormation replaces the resource; a changed policy, what a delete
// keeps.
func inventory(s *synthesized) string {
	res, _ := s.template["Resources"].(map[string]any)
	lines := make([]string, 0, len(res))
	for id, r := range res {
		m, _ := r.(map[string]any)
		line := fmt.Sprintf("%s %v", id, m["Type"])
		if p, ok := m["DeletionPolicy"]; ok {
			line += fmt.Sprintf(" %v", p)
		}
		lines = append(lines, line)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// TestInventory compares every stack of every tested configuration
// (default, variant, pinned, the three pipelines) with its inventory in
// testdata/inventory/; make golden rewrites them. The full templates of the
// default configuration are TestGolden's.
func TestInventory(t *testing.T) {
	requireSynth(t)
	for _, s := range all {
		t.Run(s.name, func(t *testing.T) {
			matchGolden(t, filepath.Join("testdata", "inventory", s.name+".txt"), inventory(s), "the synthesized stack (a changed logical id replaces the resource)")
		})
	}
}

// matchGolden compares got with the golden file at path, or rewrites the
// file with -update.
func matchGolden(t *testing.T, path, got, what string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatalf("write golden: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden %s: %v (run make golden to create it)", path, err)
	}
	if d := lineDiff(string(want), got); d != "" {
		t.Errorf("%s differs from %s (- golden, + now); if the change is intended run make golden:\n%s", path, what, d)
	}
}

// lineDiff is a unified-style diff of two texts by lines, with three lines of
// context, or "" when they are equal.
func lineDiff(a, b string) string {
	if a == b {
		return ""
	}
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	// Longest common subsequence table, from the end.
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
		a, b int
	}
	var lines []line
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			lines = append(lines, line{' ', x[i], i, j})
			i, j = i+1, j+1
		case j < len(y) && (i == len(x) || lcs[i][j+1] >= lcs[i+1][j]):
			lines = append(lines, line{'+', y[j], i, j})
			j++
		default:
			lines = append(lines, line{'-', x[i], i, j})
			i++
		}
	}
	const context = 3
	show := make([]bool, len(lines))
	for k, l := range lines {
		if l.op != ' ' {
			for c := max(0, k-context); c <= min(len(lines)-1, k+context); c++ {
				show[c] = true
			}
		}
	}
	var out strings.Builder
	for k, l := range lines {
		if !show[k] {
			continue
		}
		if k == 0 || !show[k-1] {
			fmt.Fprintf(&out, "@@ golden line %d @@\n", l.a+1)
		}
		fmt.Fprintf(&out, "%c%s\n", l.op, l.text)
	}
	return out.String()
}

func TestLineDiff(t *testing.T) {
	if d := lineDiff("a\nb\n", "a\nb\n"); d != "" {
		t.Errorf("equal texts: want no diff, got %q", d)
	}
	d := lineDiff("1\n2\n3\n4\n5\n6\n7\n8\n", "1\n2\n3\n4\nfive\n6\n7\n8\n")
	for _, want := range []string{"-5\n", "+five\n", " 4\n", " 6\n", "@@ golden line 2 @@"} {
		if !strings.Contains(d, want) {
			t.Errorf("diff %q lacks %q", d, want)
		}
	}
}
