package stacks

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ecs-anywhere-stretched/stretched/config"
)

func minutes(n int) *int { return &n }

// The layout: a cell's region goes with the first ring that reaches it,
// sites in waves of one cell each, a bake after each ring with one; a
// cell without sites goes with the last ring.
func TestPlanRings(t *testing.T) {
	cells := []CellPlan{{Name: "eu", Sites: []string{"a", "b", "c"}}, {Name: "us", Sites: []string{"d"}}, {Name: "empty"}}
	rings := []config.Ring{{Name: "canary", Sites: 1, BakeMinutes: minutes(30)}, {Name: "rest", BakeMinutes: minutes(60)}}
	got := PlanRings("P", cells, []string{"a", "d", "b", "c"}, rings, 1)
	var lines []string
	for _, s := range got {
		lines = append(lines, fmt.Sprintf("%s %s %v %v %d", s.Name, s.Kind, s.Cells, s.Sites, s.BakeMinutes))
	}
	want := []string{
		"P-canary-Regions regions [eu] [] 0",
		"P-canary-Sites-1 sites [eu] [a] 0",
		"P-canary-Bake bake [eu] [] 30",
		"P-rest-Regions regions [us empty] [] 0",
		"P-rest-Sites-1 sites [eu] [b] 0",
		"P-rest-Sites-2 sites [eu] [c] 0",
		"P-rest-Sites-3 sites [us] [d] 0",
		"P-rest-Bake bake [eu us empty] [] 60",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("layout:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	// Without rings: regions, then waves, no bake.
	got = PlanRings("P", cells[:2], []string{"a", "b", "c", "d"}, nil, 2)
	var names []string
	for _, s := range got {
		names = append(names, s.Name)
	}
	if strings.Join(names, " ") != "P-Regions P-Sites-1 P-Sites-2 P-Sites-3" {
		t.Errorf("without rings: %v", names)
	}
}

// fakeCLI puts a fake aws and date on PATH: aws answers assume-role with
// test credentials (or fails for a role in roleFails), and describe-alarms
// with the state in states/<alarm> (its next line each call; "None" when
// the file is missing), logging every call with its region and key; date
// +%s advances 30 s a call.
func fakeCLI(t *testing.T, states map[string]string, roleFails string) (dir, log string) {
	dir = t.TempDir()
	log = filepath.Join(dir, "calls.log")
	if err := os.MkdirAll(filepath.Join(dir, "states"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, s := range states {
		if err := os.WriteFile(filepath.Join(dir, "states", name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	aws := fmt.Sprintf(`#!/bin/bash
echo "$AWS_REGION ${AWS_ACCESS_KEY_ID:-pipeline} $*" >> %[1]s
case "$1 $2" in
"sts assume-role")
  [ "$4" = %[3]q ] && { echo "AccessDenied" >&2; exit 254; }
  printf 'ASIAASSUMED\tsecret\ttoken\n';;
"codepipeline list-pipeline-executions")
  [ -f %[2]s/succeeded ] && cat %[2]s/succeeded || echo None;;
"codepipeline rollback-stage")
  [ "$6" = P-canary-Regions ] && [ -f %[2]s/refuse-regions ] && { echo "StageNotRetryable" >&2; exit 254; }; echo '{}';;
"cloudwatch describe-alarms")
  f=%[2]s/states/$4
  [ -f "$f" ] || { echo None; exit 0; }
  head -n1 "$f"; tail -n +2 "$f" > "$f.next"; [ -s "$f.next" ] && mv "$f.next" "$f" || rm -f "$f.next";;
*) echo "fake aws: $*" >&2; exit 2;;
esac
`, log, dir, roleFails)
	date := fmt.Sprintf(`#!/bin/bash
n=$(cat %[1]s/clock 2>/dev/null || echo 0); echo $((n + 30)) > %[1]s/clock; echo $n
`, dir)
	for name, body := range map[string]string{"aws": aws, "date": date} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir, log
}

func runBake(t *testing.T, dir, script string) (string, error) {
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "BAKE_POLL_SECONDS=0")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// The bake's shell, run by bash against a fake aws CLI: it watches every
// cell's alarm (the remote cell's through its assumed role, in its region)
// until the time is up, and stops at the first ALARM, missing alarm or
// role it cannot assume, naming the cell.
func TestBakeWatchesEveryCellUntilTheTimeIsUp(t *testing.T) {
	cells := []ringCell{
		{Cell: config.Cell{Name: "eu", Account: "111111111111", Region: "eu-west-1"}, Prefix: "P-eu"},
		{Cell: config.Cell{Name: "de", Account: "222222222222", Region: "eu-central-1"}, Prefix: "P-de", Remote: true},
	}
	script := bakeCommand(cells, 2, bakeRollback{Pipeline: "P-Pipeline", Stages: []string{"P-canary-Regions", "P-canary-Sites-1"}})

	dir, log := fakeCLI(t, map[string]string{"P-eu-fleet-health": "OK", "P-de-fleet-health": "OK\nINSUFFICIENT_DATA\nOK"}, "")
	out, err := runBake(t, dir, script)
	if err != nil || !strings.Contains(out, "bake of 2 minute(s) done: every alarm quiet") {
		t.Fatalf("a quiet bake: %v\n%s", err, out)
	}
	calls, _ := os.ReadFile(log)
	// 2 minutes at 30 s a date call, two date calls a round: 3 rounds.
	if n := strings.Count(string(calls), "eu-west-1 pipeline cloudwatch describe-alarms --alarm-names P-eu-fleet-health"); n < 2 {
		t.Errorf("cell eu read %d times:\n%s", n, calls)
	}
	if !strings.Contains(string(calls), "eu-central-1 pipeline sts assume-role --role-arn arn:aws:iam::222222222222:role/P-de-pipeline") ||
		!strings.Contains(string(calls), "eu-central-1 ASIAASSUMED cloudwatch describe-alarms --alarm-names P-de-fleet-health") {
		t.Errorf("the remote cell was not read through its role in its region:\n%s", calls)
	}
	if strings.Contains(string(calls), "eu-west-1 ASIAASSUMED") {
		t.Errorf("the remote cell's credentials leaked into the local cell's call:\n%s", calls)
	}

	// An alarm: the ring's stages roll back, last first, to the last
	// execution that succeeded; a stage CodePipeline refuses is named
	// with the command to run.
	dir, log = fakeCLI(t, map[string]string{"P-eu-fleet-health": "OK", "P-de-fleet-health": "OK\nALARM"}, "")
	_ = os.WriteFile(filepath.Join(dir, "succeeded"), []byte("exec-41\n"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "refuse-regions"), nil, 0o644)
	out, err = runBake(t, dir, script)
	if err == nil || !strings.Contains(out, "cell de: P-de-fleet-health is in ALARM: stopping the rollout and rolling the ring back") ||
		!strings.Contains(out, "rolled stage P-canary-Sites-1 back to execution exec-41") ||
		!strings.Contains(out, "could not roll stage P-canary-Regions back: run aws codepipeline rollback-stage --pipeline-name P-Pipeline --stage-name P-canary-Regions --target-pipeline-execution-id exec-41") {
		t.Errorf("an alarm during the bake: %v\n%s", err, out)
	}
	calls, _ = os.ReadFile(log)
	if i, j := strings.Index(string(calls), "--stage-name P-canary-Sites-1"), strings.Index(string(calls), "--stage-name P-canary-Regions"); i < 0 || j < i || strings.Contains(string(calls), "ASIAASSUMED codepipeline") {
		t.Errorf("the rollback: the sites' stage first, then the region's, as the pipeline's own role:\n%s", calls)
	}
	// No execution succeeded yet: nothing to roll back to, said so.
	dir, _ = fakeCLI(t, map[string]string{"P-eu-fleet-health": "ALARM", "P-de-fleet-health": "OK"}, "")
	if out, err := runBake(t, dir, script); err == nil || !strings.Contains(out, "no earlier execution of P-Pipeline succeeded: nothing to roll the ring back to") {
		t.Errorf("an alarm on the first rollout: %v\n%s", err, out)
	}
	dir, _ = fakeCLI(t, map[string]string{"P-de-fleet-health": "OK"}, "")
	if out, err := runBake(t, dir, script); err == nil || !strings.Contains(out, "cell eu: alarm P-eu-fleet-health is missing (state None)") {
		t.Errorf("a missing alarm: %v\n%s", err, out)
	}
	dir, _ = fakeCLI(t, map[string]string{"P-eu-fleet-health": "OK", "P-de-fleet-health": "OK"}, "arn:aws:iam::222222222222:role/P-de-pipeline")
	if out, err := runBake(t, dir, script); err == nil || !strings.Contains(out, "cannot assume arn:aws:iam::222222222222:role/P-de-pipeline") || !strings.Contains(out, "cell de: cannot read its alarm") {
		t.Errorf("a role that cannot be assumed: %v\n%s", err, out)
	}
}
