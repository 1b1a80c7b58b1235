package gofunction

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	activationcontract "github.com/ecs-anywhere-stretched/stretched/constructs/activation/contract"
	sitenodescontract "github.com/ecs-anywhere-stretched/stretched/constructs/sitenodes/contract"
	"github.com/ecs-anywhere-stretched/stretched/testkit/errcheck"
)

func TestValidate(t *testing.T) {
	defer jsii.Close()
	for _, tc := range []struct {
		name  string
		props Props
		want  []string
	}{
		{"defaults", Props{Handler: activationcontract.Handler, Description: "d"}, nil},
		{"settings", Props{Handler: sitenodescontract.Handler, Description: "d", MemoryMiB: 256}, nil},
		{"no handler", Props{Description: "d"}, []string{`Handler is ""`, "its contract.Handler"}},
		{"unknown handler", Props{Handler: "renewer/x", Description: "d"}, []string{`Handler is "renewer/x"`}},
		{"not a repository", Props{Handler: activationcontract.Handler, Description: "d", RepoRoot: "/nonexistent"}, []string{`RepoRoot "/nonexistent" has no go.mod`}},
		{"no description", Props{Handler: activationcontract.Handler}, []string{"Description is empty"}},
		{"timeout", Props{Handler: activationcontract.Handler, Description: "d", Timeout: awscdk.Duration_Minutes(jsii.Number(16))}, []string{"Timeout is 960 seconds", "from 1 to 900"}},
		{"memory", Props{Handler: activationcontract.Handler, Description: "d", MemoryMiB: 64}, []string{"MemoryMiB is 64"}},
		{"every problem at once", Props{MemoryMiB: 99999}, []string{`Handler is ""`, "Description is empty", "MemoryMiB is 99999"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.props.withDefaults().validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("valid props rejected: %v", err)
				}
				return
			}
			errcheck.Contains(t, err, tc.want...)
		})
	}
}

func TestPruneKeepsTheNewestBuilds(t *testing.T) {
	dir := t.TempDir()
	for i, name := range []string{"a", "b", "c", "d", ".build-1"} {
		p := filepath.Join(dir, name)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(time.Duration(i) * time.Minute)
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
	prune(dir, 2)
	entries, _ := os.ReadDir(dir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if !slices.Equal(left, []string{".build-1", "c", "d"}) {
		t.Errorf("left %v, want the two newest builds and the build in progress", left)
	}
}

func TestSourceHashIsWhatTheBinaryLinks(t *testing.T) {
	root := t.TempDir()
	write := func(path, text string) {
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module x\n\ngo 1.22\n")
	write("go.sum", "")
	write("lambda/main.go", "package main\n\nimport _ \"x/internal/a\"\n\nfunc main() {}\n")
	write("internal/a/a.go", "package a\n")
	write("internal/status/status.go", "package status\n")
	write("cmd/fleet/main.go", "package main\n\nfunc main() {}\n")
	h1, err := sourceHash(root)
	if err != nil {
		t.Fatal(err)
	}
	write("internal/a/a_test.go", "package a\n")
	write("README.md", "words")
	write("worker/w.go", "package main\n")
	write("internal/status/status.go", "package status\n\nconst Changed = true\n")
	write("testkit/fake.go", "package testkit\n")
	write("cmd/fleet/main.go", "package main\n\nfunc main() { println() }\n")
	if h2, _ := sourceHash(root); h2 != h1 {
		t.Error("tests, docs, the CLI and packages the binary does not link must not change the hash")
	}
	write("internal/a/a.go", "package a\n\nconst X = 1\n")
	h3, _ := sourceHash(root)
	if h3 == h1 {
		t.Error("a changed file of a linked package must change the hash")
	}
	write("internal/a/b.go", "package a\n")
	h4, _ := sourceHash(root)
	if h4 == h3 {
		t.Error("a new file in a linked package must change the hash")
	}
	// The go version in go.mod changes how the same sources compile (loop
	// variables); a requirement only the CLI uses does not reach the binary.
	write("go.mod", "module x\n\ngo 1.21\n")
	h4b, _ := sourceHash(root)
	if h4b == h4 {
		t.Error("the go directive of go.mod must change the hash")
	}
	write("go.mod", "module x\n\ngo 1.21\n\n// a comment the build ignores\n")
	if h, _ := sourceHash(root); h != h4b {
		t.Error("a go.mod line that changes no compilation must not change the hash")
	}
	write("go.mod", "module x\n\ngo 1.21\n\ngodebug (\n\tpanicnil=1\n)\n")
	if h, _ := sourceHash(root); h == h4b {
		t.Error("a godebug setting of go.mod must change the hash")
	}
	// Another checkout of the same sources elsewhere hashes the same.
	other := t.TempDir()
	if err := os.CopyFS(other, os.DirFS(root)); err != nil {
		t.Fatal(err)
	}
	h5, _ := sourceHash(root)
	if h6, _ := sourceHash(other); h6 != h5 {
		t.Error("the hash must not depend on where the checkout is")
	}
	write("lambda/main.go", "package main\n\nimport _ \"x/internal/a\n")
	if _, err := sourceHash(root); err == nil || !strings.Contains(err.Error(), "go list -deps") {
		t.Errorf("a package that does not parse: got %v, want go list's error", err)
	}
}

// The real binary: what its hash covers is the handlers and what they use,
// never the CLI, the worker or a test double.
func TestSourceHashLeavesOutTheCLIAndTests(t *testing.T) {
	pkgs, err := linked("../..")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, p := range pkgs {
		files = append(files, p.files...)
	}
	if !slices.Contains(files, "lambda/main.go") {
		t.Errorf("hashed files %v lack lambda/main.go", files)
	}
	for _, f := range files {
		for _, out := range []string{"cmd/", "worker/", "testkit/", "internal/send/", "stacks/", "constructs/"} {
			// A feature's handler and contract sit beside its construct.
			dir := filepath.Base(filepath.Dir(f))
			feature := strings.HasPrefix(f, "constructs/") || strings.HasPrefix(f, "stacks/")
			if feature && (dir == "handler" || dir == "contract") && !strings.HasSuffix(f, "_test.go") {
				continue
			}
			if strings.HasPrefix(f, out) || strings.HasSuffix(f, "_test.go") {
				t.Errorf("the asset hash covers %s, which the Lambda binary does not run", f)
			}
		}
	}
	if !slices.Contains(files, "constructs/activation/handler/start.go") {
		t.Errorf("hashed files %v lack the activation handler", files)
	}
}
