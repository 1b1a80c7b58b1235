package test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ecs-anywhere-stretched/stretched/config"
	"github.com/ecs-anywhere-stretched/stretched/internal/review"
	"github.com/ecs-anywhere-stretched/stretched/stacks"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// cellOfStack is the cell of one of the cells' stacks, by its name.
func cellOfStack(t *testing.T, name string) config.Cell {
	t.Helper()
	for _, c := range cellsApp {
		if strings.HasPrefix(name, c.Config.StackPrefix+"-") {
			return c.Cell
		}
	}
	t.Fatalf("stack %s belongs to no cell", name)
	return config.Cell{}
}

// Every stack of a cell is in the cell's account and region, named with
// the cell's prefix, and each cell has exactly its own sites.
func TestEveryStackIsInItsCellsEnvironment(t *testing.T) {
	requireSynth(t)
	for name, s := range cells {
		c := cellOfStack(t, name)
		if s.account != c.Account || s.region != c.Region {
			t.Errorf("stack %s is in %s/%s, want its cell %s's %s/%s", name, s.account, s.region, c.Name, c.Account, c.Region)
		}
	}
	want := map[string][]string{"eu": {"lyon", "paris"}, "us": {"ohio"}, "de": {"berlin"}}
	for _, c := range cellsApp {
		var got []string
		for _, a := range c.Sites {
			got = append(got, *a.Stack.StackName())
			if _, ok := cells[*a.Stack.StackName()]; !ok {
				t.Errorf("site stack %s was not synthesized", *a.Stack.StackName())
			}
		}
		var names []string
		for _, s := range want[c.Cell.Name] {
			names = append(names, fmt.Sprintf("Cells-%s-Anywhere-%s", c.Cell.Name, s))
		}
		if !slices.Equal(got, names) || *c.Regional.Stack.StackName() != "Cells-"+c.Cell.Name+"-Regional" {
			t.Errorf("cell %s: regional %s, sites %v; want Cells-%s-Regional and %v", c.Cell.Name, *c.Regional.Stack.StackName(), got, c.Cell.Name, names)
		}
	}
}

var (
	arnRe    = regexp.MustCompile(`arn:aws[a-z-]*:[a-z0-9-]+:([a-z0-9-]*):([0-9]{12}|aws)?:`)
	ecrRe    = regexp.MustCompile(`([0-9]{12})\.dkr\.ecr\.([a-z0-9-]+)\.`)
	regionRe = regexp.MustCompile(`\b[a-z]{2}-(central|west|east|north|south|northeast|southeast)-[0-9]\b`)
)

// residencyProblems walks every value of a template (resources, outputs,
// conditions, parameters: every string, every intrinsic) and returns each
// place that names another cell's account or region, or imports what no
// stack of the same cell exports.
func residencyProblems(v any, path string, cell config.Cell, exports map[string]bool, others []config.Cell) []string {
	var out []string
	switch t := v.(type) {
	case map[string]any:
		if imp, ok := t["Fn::ImportValue"]; ok {
			name, _ := imp.(string)
			if !exports[name] {
				out = append(out, fmt.Sprintf("%s imports %v, which no stack of cell %s exports", path, imp, cell.Name))
			}
		}
		for k, x := range t {
			out = append(out, residencyProblems(x, path+"."+k, cell, exports, others)...)
		}
	case []any:
		for i, x := range t {
			out = append(out, residencyProblems(x, fmt.Sprintf("%s[%d]", path, i), cell, exports, others)...)
		}
	case string:
		for _, m := range arnRe.FindAllStringSubmatch(t, -1) {
			if (m[1] != "" && m[1] != cell.Region) || (m[2] != "" && m[2] != "aws" && m[2] != cell.Account) {
				out = append(out, fmt.Sprintf("%s names an ARN of another place: %q", path, t))
			}
		}
		for _, m := range ecrRe.FindAllStringSubmatch(t, -1) {
			if m[1] != cell.Account || m[2] != cell.Region {
				out = append(out, fmt.Sprintf("%s names another registry: %q", path, t))
			}
		}
		for _, m := range regionRe.FindAllString(t, -1) {
			if m != cell.Region {
				out = append(out, fmt.Sprintf("%s names region %s: %q", path, m, t))
			}
		}
		for _, o := range others {
			if strings.Contains(t, o.Account) && o.Account != cell.Account {
				out = append(out, fmt.Sprintf("%s names cell %s's account: %q", path, o.Name, t))
			}
		}
	}
	return out
}

// No resource of a cell refers to another region or account: every
// reference of every template is walked (ImportValue only of the same
// cell's exports, no ARN, registry or region name of another place), and
// the assets each stack deploys are published into its own cell's
// account and region.
func TestNoReferenceCrossesACell(t *testing.T) {
	requireSynth(t)
	exports := map[string]map[string]bool{}
	for name, s := range cells {
		c := cellOfStack(t, name)
		if exports[c.Name] == nil {
			exports[c.Name] = map[string]bool{}
		}
		outs, _ := s.template["Outputs"].(map[string]any)
		for _, o := range outs {
			if e, ok := o.(map[string]any)["Export"].(map[string]any); ok {
				if n, ok := e["Name"].(string); ok {
					exports[c.Name][n] = true
				}
			}
		}
	}
	var allCells []config.Cell
	for _, c := range cellsApp {
		allCells = append(allCells, c.Cell)
	}
	imports := 0
	for name, s := range cells {
		c := cellOfStack(t, name)
		raw, _ := json.Marshal(s.template)
		imports += strings.Count(string(raw), "Fn::ImportValue")
		for _, p := range residencyProblems(s.template, name, c, exports[c.Name], allCells) {
			t.Error(p)
		}
		// The assets: published into the cell's own account and region.
		assets, err := os.ReadFile(strings.TrimSuffix(s.file, ".template.json") + ".assets.json")
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := json.Unmarshal(assets, &doc); err != nil {
			t.Fatal(err)
		}
		for _, p := range residencyProblems(doc, name+".assets", c, exports[c.Name], allCells) {
			t.Error(p)
		}
	}
	if imports == 0 {
		t.Fatal("no Fn::ImportValue in the cells' templates: the walk checked nothing of the cross-stack references")
	}
	// The walk finds what it looks for: a reference planted into cell us's
	// regional template from cell de is named.
	planted := map[string]any{"Resources": map[string]any{"X": map[string]any{"Properties": map[string]any{
		"Key":   "arn:aws:kms:eu-central-1:222222222222:key/x",
		"Topic": map[string]any{"Fn::ImportValue": "Cells-de-Regional:ExportsOutputRefEntry"},
		"Image": "222222222222.dkr.ecr.eu-central-1.amazonaws.com/x:1",
	}}}}
	if got := residencyProblems(planted, "planted", allCells[1], exports["us"], allCells); len(got) < 4 {
		t.Errorf("the walk missed planted cross-cell references: %v", got)
	}
}

// The fleet map written at synth says where every site is.
func TestTheFleetMapFindsEverySite(t *testing.T) {
	requireSynth(t)
	cfg, err := config.Load(func(k string) any { return cellsContext[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := stacks.WriteFleetMap(dir, cfg); err != nil {
		t.Fatal(err)
	}
	m, err := stackscontract.ReadFleetMap(filepath.Join(dir, stackscontract.FleetMapFile))
	if err != nil {
		t.Fatal(err)
	}
	for site, want := range map[string][3]string{"lyon": {"eu", "111111111111", "eu-west-1"}, "ohio": {"us", "111111111111", "us-east-1"}, "berlin": {"de", "222222222222", "eu-central-1"}} {
		c, s, err := m.Locate(site)
		if err != nil {
			t.Fatal(err)
		}
		if c.Name != want[0] || c.Account != want[1] || c.Region != want[2] || s.Stack != "Cells-"+want[0]+"-Anywhere-"+site ||
			c.Directory != "/Cells-"+want[0]+"/sites" || c.RegionalStack != "Cells-"+want[0]+"-Regional" || s.EntryTopic != 0 {
			t.Errorf("site %s in the map: cell %+v, site %+v", site, c, s)
		}
		if _, ok := cells[s.Stack]; !ok {
			t.Errorf("the map names stack %s, which was not synthesized", s.Stack)
		}
	}
	if _, _, err := m.Locate("mars"); err == nil || !strings.Contains(err.Error(), "the sites are berlin, lyon, ohio, paris") {
		t.Errorf("an unknown site: %v", err)
	}
}

// cellsOf is a configuration of cells with n sites each, expecting nodes
// machines a site.
func cellsOf(t *testing.T, cellsJSON string, perCell map[string]int, nodes int) config.Config {
	t.Helper()
	var sites []map[string]any
	for _, cell := range slices.Sorted(maps.Keys(perCell)) {
		for i := range perCell[cell] {
			sites = append(sites, map[string]any{"name": fmt.Sprintf("%s-%d", cell, i), "cell": cell, "expectedNodes": nodes})
		}
	}
	raw, _ := json.Marshal(sites)
	ctx := map[string]any{"cells": cellsJSON, "sites": string(raw), "entryTopics": 10}
	cfg, err := config.Load(func(k string) any { return ctx[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Quotas are per cell: Systems Manager's standard tier counts the
// expected machines of one account and region (not the advanced tier's),
// IAM roles count per account (cells in one account share them), stacks
// per account and region. Each names the cell and the way out.
func TestQuotasArePerCell(t *testing.T) {
	two := `[{"name":"eu","account":"111111111111","region":"eu-west-1"},{"name":"us","account":"111111111111","region":"us-east-1","nodeTier":"advanced"}]`
	// 400 sites × 2 machines in eu: 800, within; 600 × 2 = 1,200 crosses.
	if err := stacks.PlannedNodes(cellsOf(t, two, map[string]int{"eu": 400, "us": 600}, 2)); err != nil {
		t.Errorf("800 nodes in eu and the advanced tier in us: %v", err)
	}
	err := stacks.PlannedNodes(cellsOf(t, two, map[string]int{"eu": 600, "us": 1}, 2))
	want := "quota: Systems Manager registered hybrid nodes per account and region (standard tier) is 1,000, and the expectedNodes of cell eu's 600 sites (account 111111111111, region eu-west-1) would reach 1,200: move sites to another cell (another account or region), or set the cell's \"nodeTier\" to \"advanced\""
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("1,200 nodes in eu: %v\nwant %s", err, want)
	}
	// Without cells: the app's own account and region.
	one, cfgErr := config.Load(func(k string) any {
		return map[string]any{"sites": `[{"name":"a","expectedNodes":600},{"name":"b","expectedNodes":600}]`}[k]
	}, nil)
	if cfgErr != nil {
		t.Fatal(cfgErr)
	}
	if err := stacks.PlannedNodes(one); err == nil || !strings.Contains(err.Error(), `the sites' expectedNodes (2 sites) would reach 1,200: move sites to a cell in another account or region (context key "cells"), or set "nodeTier" to "advanced"`) {
		t.Errorf("1,200 nodes without cells: %v", err)
	}
	// Roles: 2 × 9 regional roles and 330 sites × 3 in one account cross
	// 1,000, though each cell alone would not.
	err = stacks.PlannedRoles(cellsOf(t, two, map[string]int{"eu": 165, "us": 165}, 1))
	if err == nil || !strings.Contains(err.Error(), "quota: IAM roles per account is 1,000, and account 111111111111 would reach 1,008") {
		t.Errorf("two cells' roles in one account: %v", err)
	}
	apart := `[{"name":"eu","account":"111111111111","region":"eu-west-1"},{"name":"us","account":"222222222222","region":"us-east-1"}]`
	if err := stacks.PlannedRoles(cellsOf(t, apart, map[string]int{"eu": 165, "us": 165}, 1)); err != nil {
		t.Errorf("the same sites in two accounts: %v", err)
	}
	// Stacks: per account and region.
	saved := quotaStacksLimit(10)
	defer quotaStacksLimit(saved)
	err = stacks.PlannedStacks(cellsOf(t, apart, map[string]int{"eu": 10, "us": 3}, 1))
	if err == nil || !strings.Contains(err.Error(), "and cell eu (account 111111111111, region eu-west-1) would reach 11: split the sites between cells") || strings.Contains(err.Error(), "cell us") {
		t.Errorf("stacks per cell: %v", err)
	}
}

// The review of the cells says per account and region which stacks and
// data stores are there, and each stack's data stores say where.
func TestReviewSaysWhereEachCellsDataStays(t *testing.T) {
	requireSynth(t)
	a, err := review.Load(assemblyDir)
	if err != nil {
		t.Fatal(err)
	}
	a.Keep(func(name string) bool { return cells[name] != nil })
	levels, err := review.NewLevels(iamDataDir)
	if err != nil {
		t.Fatal(err)
	}
	got := review.Report(a, review.Options{Title: "cells", Levels: levels})
	i := strings.Index(got, "## Where data stays")
	if i < 0 {
		t.Fatalf("no \"Where data stays\" in the cells' review:\n%.2000s", got)
	}
	table := got[i : i+strings.Index(got[i+3:], "\n## ")+3]
	for _, c := range cellsApp {
		var row string
		for _, line := range strings.Split(table, "\n") {
			if strings.HasPrefix(line, "| "+c.Cell.Account+" | "+c.Cell.Region+" |") {
				row = line
			}
		}
		if row == "" || !strings.Contains(row, "Cells-"+c.Cell.Name+"-Regional") || !strings.Contains(row, "queue") {
			t.Errorf("cell %s's row (account %s, region %s) is %q in:\n%s", c.Cell.Name, c.Cell.Account, c.Cell.Region, row, table)
		}
		for _, other := range cellsApp {
			if other.Cell.Name != c.Cell.Name && strings.Contains(row, "Cells-"+other.Cell.Name+"-") {
				t.Errorf("cell %s's row names cell %s's stacks: %s", c.Cell.Name, other.Cell.Name, row)
			}
		}
	}
	if !strings.Contains(got, "In account 222222222222, region eu-central-1: every store below keeps its data there.") {
		t.Error("cell de's stacks do not say where their data stores are")
	}
}

// The app itself stops at a cell's hybrid-node quota, before building
// anything, with the line that names the cell and the way out.
func TestAppStopsAtACellsNodeQuota(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	cmd := exec.Command("go", "run", ".")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), `CDK_CONTEXT_JSON={"cells":[{"name":"eu","account":"111111111111","region":"eu-west-1"},{"name":"de","account":"222222222222","region":"eu-central-1","nodeTier":"advanced"}],`+
		`"sites":[{"name":"a","cell":"eu","expectedNodes":600},{"name":"b","cell":"eu","expectedNodes":401},{"name":"c","cell":"de","expectedNodes":1000},{"name":"d","cell":"de","expectedNodes":1000}]}`, "CDK_OUTDIR="+out)
	stderr, err := cmd.CombinedOutput()
	want := `quota: Systems Manager registered hybrid nodes per account and region (standard tier) is 1,000, and the expectedNodes of cell eu's 2 sites (account 111111111111, region eu-west-1) would reach 1,001: move sites to another cell (another account or region), or set the cell's "nodeTier" to "advanced" once its account and region use Systems Manager's advanced tier (paid)`
	if first, _, _ := strings.Cut(string(stderr), "\n"); err == nil || first != want {
		t.Errorf("stderr:\n%s\nwant the one line\n%s", stderr, want)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("a configuration over a quota must not synthesize anything, found %d entries", len(entries))
	}
}
