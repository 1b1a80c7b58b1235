package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAppRejectsBadConfig runs the app the way the cdk CLI does (context in
// CDK_CONTEXT_JSON) and checks a bad configuration stops it with every
// problem named, before anything is synthesized.
func TestAppRejectsBadConfig(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command("go", "run", ".")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(),
		`CDK_CONTEXT_JSON={"maxReceiveCount":0,"logRetentionDays":"10","sites":[{"name":"Bad Name"}]}`,
		"CDK_OUTDIR="+out)
	stderr, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("app accepted a bad configuration:\n%s", stderr)
	}
	for _, want := range []string{
		`context key "maxReceiveCount" is 0: must be a whole number from 1 to 1000`,
		`context key "logRetentionDays" is 10: must be one of`,
		`context key "sites[0]" has name "Bad Name"`,
	} {
		if !strings.Contains(string(stderr), want) {
			t.Errorf("output lacks %q:\n%s", want, stderr)
		}
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("a rejected configuration must not synthesize anything, found %d entries", len(entries))
	}
}

// TestCdkSynth runs `cdk synth` with the project's pinned CLI and Node, as
// `make synth` does, and checks every stack's template appears.
func TestCdkSynth(t *testing.T) {
	t.Parallel() // runs processes over the synthesized templates, which nothing changes
	bin, err := filepath.Abs(filepath.Join("..", "node_modules", ".bin"))
	if err != nil {
		t.Fatal(err)
	}
	cdk := tool(t, filepath.Join(bin, "cdk"), "make tools installs the pinned aws-cdk CLI")
	out := t.TempDir()
	cmd := exec.Command(cdk, "synth", "--quiet", "--output", out)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"CDK_DISABLE_CLI_TELEMETRY=true", "AWS_EC2_METADATA_DISABLED=true")
	stdout, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cdk synth failed: %v\n%s", err, stdout)
	}
	if strings.Contains(string(stdout), "end-of-life") || strings.Contains(string(stdout), "no longer supported") {
		t.Errorf("cdk synth printed a Node end-of-life banner:\n%s", stdout)
	}
	for _, name := range []string{"EcsWorker-Regional", "EcsWorker-Anywhere-onprem"} {
		if _, err := os.Stat(filepath.Join(out, name+".template.json")); err != nil {
			t.Errorf("cdk synth wrote no template for %s: %v", name, err)
		}
	}
}

// TestCdkSynthPipeline runs `cdk synth` with a pipeline configuration: the
// pipeline stack's template and, in the stage's assembly, the templates of
// exactly the stacks `make deploy` deploys.
func TestCdkSynthPipeline(t *testing.T) {
	t.Parallel() // runs processes over the synthesized templates, which nothing changes
	bin, err := filepath.Abs(filepath.Join("..", "node_modules", ".bin"))
	if err != nil {
		t.Fatal(err)
	}
	cdk := tool(t, filepath.Join(bin, "cdk"), "make tools installs the pinned aws-cdk CLI")
	out := t.TempDir()
	cmd := exec.Command(cdk, "synth", "--quiet", "--output", out, "-c", "account=123456789012", "-c", "region=eu-west-1",
		"-c", `pipeline={"codeCommitRepository":"stretched"}`)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"CDK_DISABLE_CLI_TELEMETRY=true", "AWS_EC2_METADATA_DISABLED=true")
	stdout, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cdk synth with a pipeline failed: %v\n%s", err, stdout)
	}
	for _, f := range []string{"EcsWorker-Pipeline.template.json", "assembly-EcsWorker/EcsWorkerEcsWorkerRegional*.template.json",
		"assembly-EcsWorker/EcsWorkerEcsWorkerAnywhereonprem*.template.json"} {
		if m, _ := filepath.Glob(filepath.Join(out, f)); len(m) != 1 {
			t.Errorf("cdk synth wrote no %s; cdk.out holds %v", f, templatesIn(out))
		}
	}
	if m, _ := filepath.Glob(filepath.Join(out, "EcsWorker-Regional.template.json")); len(m) != 0 {
		t.Error("in pipeline mode the stacks are deployed by the pipeline's stage, not directly")
	}
}

func templatesIn(dir string) []string {
	var out []string
	_ = filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error {
		if rel, err := filepath.Rel(dir, p); err == nil && strings.HasSuffix(p, ".template.json") {
			out = append(out, rel)
		}
		return nil
	})
	return out
}
