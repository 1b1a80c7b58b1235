package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// TestCrossCompile builds the worker for both image architectures exactly as
// worker/Dockerfile does (no Docker here) and checks each binary's machine
// type and that it is static.
func TestCrossCompile(t *testing.T) {
	t.Parallel()
	dockerfile, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	const flags = `go build -trimpath -buildvcs=false -ldflags="-s -w -buildid="`
	if !regexp.MustCompile(regexp.QuoteMeta(flags)).Match(dockerfile) {
		t.Fatalf("the Dockerfile no longer builds with %s; keep this test in step", flags)
	}
	for arch, machine := range map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64} {
		t.Run(arch, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "worker")
			cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", out, ".")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("build: %v\n%s", err, b)
			}
			f, err := elf.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Machine != machine {
				t.Errorf("machine %v, want %v", f.Machine, machine)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Error("binary is dynamically linked; the distroless static image needs a static one")
				}
			}
		})
	}
}
