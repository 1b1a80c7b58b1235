package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// copyLine is a COPY of the Dockerfile's build stage from the build context.
var copyLine = regexp.MustCompile(`(?m)^COPY (\S+)/ (\S+)/$`)

// The image's build context holds what the worker links: every package of
// this module that `go list -deps` names is copied by the Dockerfile, and the
// worker builds from only what the Dockerfile copies (go.mod, go.sum and its
// COPY lines, test files left out as the .dockerignore does). Since the
// worker read the file-name rule from internal/ the image build had lacked it.
func TestTheImageContextBuildsTheWorker(t *testing.T) {
	t.Parallel()
	dockerfile, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var copied []string
	for _, m := range copyLine.FindAllStringSubmatch(string(dockerfile), -1) {
		if m[1] != m[2] {
			t.Errorf("COPY %s/ %s/: keep each package at its path in the module", m[1], m[2])
		}
		copied = append(copied, m[1])
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range strings.Fields(string(out)) {
		rel, _ := filepath.Rel(root, dir)
		if !slices.Contains(copied, filepath.ToSlash(rel)) {
			t.Errorf("the worker links %s, which worker/Dockerfile does not copy: add COPY %s/ %s/ (and it to worker/Dockerfile.dockerignore and workerspec.AssetContext)", rel, rel, rel)
		}
	}
	ctx := t.TempDir()
	for _, f := range []string{"go.mod", "go.sum"} {
		copyFile(t, filepath.Join(root, f), filepath.Join(ctx, f))
	}
	for _, dir := range copied {
		entries, err := os.ReadDir(filepath.Join(root, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !e.IsDir() && !strings.HasSuffix(e.Name(), "_test.go") {
				copyFile(t, filepath.Join(root, dir, e.Name()), filepath.Join(ctx, dir, e.Name()))
			}
		}
	}
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(t.TempDir(), "worker"), "./worker")
	build.Dir = ctx
	build.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOWORK=off", "GOPROXY=off", "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		t.Errorf("the worker does not build from the image's context (%v):\n%s", err, b)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err == nil {
		err = os.MkdirAll(filepath.Dir(to), 0o755)
	}
	if err == nil {
		err = os.WriteFile(to, b, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
}
