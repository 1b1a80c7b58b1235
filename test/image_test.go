package test

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ecs-anywhere-stretched/stretched/constructs/workerspec"
)

// The worker's image asset, as CDK staged it for `cdk deploy`, is the build
// context worker/Dockerfile expects: go.mod, go.sum and the packages the
// Dockerfile copies (worker/context_test.go builds the worker from exactly
// those), without tests, node_modules or cdk.out. The asset's exclusions
// are the .dockerignore BuildKit reads beside the Dockerfile.
func TestTheImageAssetIsTheDockerfilesContext(t *testing.T) {
	requireSynth(t)
	raw, err := os.ReadFile(filepath.Join("..", "worker", "Dockerfile.dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var ignore []string
	for _, l := range strings.Split(string(raw), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			ignore = append(ignore, strings.TrimSuffix(l, "/"))
		}
	}
	if !slices.Equal(ignore, workerspec.AssetContext) {
		t.Errorf("worker/Dockerfile.dockerignore %v, the asset's exclusions %v: keep them one list", ignore, workerspec.AssetContext)
	}
	dirs, _ := filepath.Glob(filepath.Join(assemblyDir, "asset.*", "worker", "Dockerfile"))
	if len(dirs) == 0 {
		t.Fatalf("no staged image asset with worker/Dockerfile in %s", assemblyDir)
	}
	asset := filepath.Dir(filepath.Dir(dirs[0]))
	var files []string
	if err := filepath.WalkDir(asset, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(asset, path)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"go.mod", "go.sum", "worker/Dockerfile", "worker/main.go", "constructs/workerspec/contract/contract.go", "constructs/workerspec/contract/filename.go"} {
		if !slices.Contains(files, want) {
			t.Errorf("the image asset lacks %s", want)
		}
	}
	for _, f := range files {
		top, _, _ := strings.Cut(f, "/")
		if strings.HasSuffix(f, "_test.go") || !slices.Contains([]string{"go.mod", "go.sum", "worker", "constructs"}, top) {
			t.Errorf("the image asset holds %s, which the image build does not copy", f)
		}
	}
}
