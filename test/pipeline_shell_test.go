package test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The pipeline's buildspec commands, run as CodeBuild runs them (one shell,
// every command must succeed) against stub aws, docker and make on PATH.

const commit = "0123456789abcdef0123456789abcdef01234567"

// shellStubs: aws answers from STUB_* variables; docker and make only log.
var shellStubs = map[string]string{
	"aws": `#!/bin/sh
echo "aws $*" >> "$STUB_LOG"
case "$*" in
"cloudformation describe-stacks --stack-name Pipe-Regional") [ -n "$STUB_STACK" ] || exit 254; echo '{}';;
"cloudformation describe-stacks --stack-name Pipe-Regional --query"*) [ -n "$STUB_STACK" ] || exit 254; echo "$STUB_REPO";;
"ecr describe-images"*)
  if [ -n "$STUB_IMAGE" ]; then echo '{}'; exit 0; fi
  if [ -n "$STUB_IMAGE_ERROR" ]; then echo "$STUB_IMAGE_ERROR" >&2; exit 254; fi
  echo "An error occurred (ImageNotFoundException) when calling the DescribeImages operation: The image with imageId {imageTag:'0123456789ab'} does not exist within the repository" >&2; exit 254;;
"ecr get-login-password") echo password;;
"codepipeline start-pipeline-execution"*) echo '{"pipelineExecutionId": "x"}';;
*) echo "unexpected aws call: $*" >&2; exit 99;;
esac`,
	"docker": `#!/bin/sh
cat >/dev/null 2>&1 <&0 &
echo "docker $*" >> "$STUB_LOG"
case "$*" in *buildx\ build*) [ -z "$STUB_BUILD_FAILS" ] || exit 1;; esac`,
	"make": `#!/bin/sh
echo "make $*" >> "$STUB_LOG"`,
}

// commandsOf returns the build commands of the project whose buildspec has want.
func commandsOf(t *testing.T, want string) []string {
	t.Helper()
	spec, _ := buildSpec(t, pipelineStack(t, "Pipe-Pipeline"), want)
	var doc struct {
		Phases map[string]struct{ Commands []string }
	}
	if err := json.Unmarshal([]byte(spec), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Phases["build"].Commands
}

// runCommands runs the commands in one sh with set -e and the stubs; it
// returns the stubs' log and whether the step succeeded.
func runCommands(t *testing.T, cmds []string, env ...string) (string, bool) {
	t.Helper()
	return runWithStubs(t, shellStubs, cmds, env...)
}

// runWithStubs is runCommands with the given stubs.
func runWithStubs(t *testing.T, stubs map[string]string, cmds []string, env ...string) (string, bool) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range stubs {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	logFile := filepath.Join(dir, "calls.log")
	cmd := exec.Command("sh", "-ec", strings.Join(cmds, "\n"))
	cmd.Env = append([]string{"PATH=" + dir + ":" + os.Getenv("PATH"), "STUB_LOG=" + logFile, "CODEBUILD_RESOLVED_SOURCE_VERSION=" + commit}, env...)
	out, err := cmd.CombinedOutput()
	calls, _ := os.ReadFile(logFile)
	t.Logf("output:\n%s", out)
	return string(calls), err == nil
}

const repoURI = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/pipe-regional-repository-abc"

func TestImageStepCommands(t *testing.T) {
	cmds := commandsOf(t, "docker buildx build")
	t.Run("first run: no repository yet", func(t *testing.T) {
		calls, ok := runCommands(t, cmds)
		if !ok || strings.Contains(calls, "docker") {
			t.Errorf("the first run must skip the image and succeed: ok %v, calls:\n%s", ok, calls)
		}
	})
	t.Run("image of this commit exists", func(t *testing.T) {
		calls, ok := runCommands(t, cmds, "STUB_STACK=1", "STUB_REPO="+repoURI, "STUB_IMAGE=1")
		if !ok || strings.Contains(calls, "docker") {
			t.Errorf("an existing immutable tag must be skipped: ok %v, calls:\n%s", ok, calls)
		}
	})
	t.Run("build and push both platforms", func(t *testing.T) {
		calls, ok := runCommands(t, cmds, "STUB_STACK=1", "STUB_REPO="+repoURI)
		want := []string{"docker login --username AWS --password-stdin 123456789012.dkr.ecr.eu-west-1.amazonaws.com",
			"docker buildx create --name multiarch --driver docker-container --use",
			"docker buildx build --platform linux/amd64,linux/arm64 --provenance=false --sbom=false -f worker/Dockerfile -t " + repoURI + ":0123456789ab --push ."}
		for _, w := range want {
			if !strings.Contains(calls, w) {
				t.Errorf("calls lack %q:\n%s", w, calls)
			}
		}
		if !ok {
			t.Error("the step failed")
		}
	})
	t.Run("a failed build fails the step", func(t *testing.T) {
		if _, ok := runCommands(t, cmds, "STUB_STACK=1", "STUB_REPO="+repoURI, "STUB_BUILD_FAILS=1"); ok {
			t.Error("a failing docker buildx must fail the step")
		}
	})
}

func TestSynthCommands(t *testing.T) {
	cmds := commandsOf(t, "make test")
	calls, ok := runCommands(t, cmds)
	if !ok || !strings.Contains(calls, "make test\n") || !strings.Contains(calls, "make synth CDK_ARGS=\nmake review-report\n") {
		t.Errorf("first run: make test, then make synth without a tag, then the review of what it wrote: ok %v\n%s", ok, calls)
	}
	// A regional stack without its repository output (a first run that
	// failed): the image step will not build, so no tag either.
	calls, ok = runCommands(t, cmds, "STUB_STACK=1", "STUB_REPO=None")
	if !ok || !strings.Contains(calls, "make synth CDK_ARGS=\n") {
		t.Errorf("a stack without a repository: make synth without a tag: ok %v\n%s", ok, calls)
	}
	calls, ok = runCommands(t, cmds, "STUB_STACK=1", "STUB_REPO="+repoURI)
	if !ok || !strings.Contains(calls, "make synth CDK_ARGS=-c imageTag=0123456789ab\n") {
		t.Errorf("later runs: make synth with the commit's tag: ok %v\n%s", ok, calls)
	}
}

func TestSecondRunCommands(t *testing.T) {
	cmds := commandsOf(t, "start-pipeline-execution")
	calls, ok := runCommands(t, cmds, "STUB_STACK=1", "STUB_REPO="+repoURI)
	if !ok || !strings.Contains(calls, "aws codepipeline start-pipeline-execution --name Pipe-Pipeline") {
		t.Errorf("after a first run (no image of this commit) the pipeline starts again: ok %v\n%s", ok, calls)
	}
	calls, ok = runCommands(t, cmds, "STUB_STACK=1", "STUB_REPO="+repoURI, "STUB_IMAGE=1")
	if !ok || strings.Contains(calls, "start-pipeline-execution") {
		t.Errorf("a run that deployed its image must not start another: ok %v\n%s", ok, calls)
	}
}

const accessDenied = "An error occurred (AccessDeniedException) when calling the DescribeImages operation: User: arn:aws:sts::123456789012:assumed-role/x is not authorized to perform: ecr:DescribeImages"

// TestStepsStopWithoutATag: a build without a commit id fails each of the
// three steps before it builds, synthesizes or starts anything.
func TestStepsStopWithoutATag(t *testing.T) {
	for _, step := range []string{"make test", "docker buildx build", "start-pipeline-execution"} {
		calls, ok := runCommands(t, commandsOf(t, step), "STUB_STACK=1", "STUB_REPO="+repoURI, "CODEBUILD_RESOLVED_SOURCE_VERSION=")
		if ok {
			t.Errorf("step with %q: an empty commit id must fail the step", step)
		}
		for _, never := range []string{"make synth", "docker", "start-pipeline-execution"} {
			if strings.Contains(calls, never) {
				t.Errorf("step with %q ran %q without a tag:\n%s", step, never, calls)
			}
		}
	}
}

// TestOnlyNotFoundMeansAbsent: an ECR error other than "image not found"
// fails the image and after-first-run steps; it never starts the pipeline
// again or builds.
func TestOnlyNotFoundMeansAbsent(t *testing.T) {
	for _, step := range []string{"docker buildx build", "start-pipeline-execution"} {
		calls, ok := runCommands(t, commandsOf(t, step), "STUB_STACK=1", "STUB_REPO="+repoURI, "STUB_IMAGE_ERROR="+accessDenied)
		if ok {
			t.Errorf("step with %q: an access denied from ECR must fail the step", step)
		}
		for _, never := range []string{"docker", "start-pipeline-execution"} {
			if strings.Contains(calls, never) {
				t.Errorf("step with %q ran %q on an access denied:\n%s", step, never, calls)
			}
		}
	}
}
