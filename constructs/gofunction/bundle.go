package gofunction

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// BuildFlags make the binary reproducible across machines and checkouts.
var BuildFlags = []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="}

// BinaryPackage is the main package of every handler, relative to the
// repository root.
const BinaryPackage = "./lambda"

// bundle is the built binary of one repository: its folder (holding
// "bootstrap") and the hash CDK names the asset by.
type bundle struct {
	dir, hash string
}

var (
	bundlesMu sync.Mutex
	bundles   = map[string]bundle{}
)

// bundleOf builds the binary of the repository at root once per process,
// and only when no earlier synth built the same sources: the binary lives
// in the user's cache folder under the hash of its sources, so a synth with
// nothing changed builds nothing and hashes no binary.
func bundleOf(root string) (bundle, error) {
	bundlesMu.Lock()
	defer bundlesMu.Unlock()
	if b, ok := bundles[root]; ok {
		return b, nil
	}
	hash, err := sourceHash(root)
	if err != nil {
		return bundle{}, fmt.Errorf("gofunction: hash the Lambda sources: %w", err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "ecs-anywhere-stretched", "lambda", hash)
	if _, err := os.Stat(filepath.Join(dir, "bootstrap")); err != nil {
		if err := build(root, dir); err != nil {
			return bundle{}, err
		}
		prune(filepath.Dir(dir), keepBuilds)
	}
	b := bundle{dir: dir, hash: hash}
	bundles[root] = b
	return b, nil
}

// keepBuilds is how many built binaries the cache folder keeps (22 MB each):
// a few, so switching between branches rarely rebuilds.
const keepBuilds = 4

// prune removes all but the keep most recently built binaries from folder.
// It is best effort: a binary another synth is using stays on disk until
// that synth is done with it (CDK copied it into its cloud assembly).
func prune(folder string, keep int) {
	entries, err := os.ReadDir(folder)
	if err != nil {
		return
	}
	type built struct {
		path string
		at   int64
	}
	var all []built
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if info, err := e.Info(); err == nil {
			all = append(all, built{filepath.Join(folder, e.Name()), info.ModTime().UnixNano()})
		}
	}
	slices.SortFunc(all, func(a, b built) int { return int(b.at - a.at) })
	for _, b := range all[min(keep, len(all)):] {
		_ = os.RemoveAll(b.path)
	}
}

// build compiles the binary into dir, through a folder of its own so that
// two synths building at once never see half a binary.
func build(root, dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("gofunction: make the build cache folder: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".build-")
	if err != nil {
		return fmt.Errorf("gofunction: make a build folder: %w", err)
	}
	defer os.RemoveAll(tmp)
	args := append([]string{"build"}, BuildFlags...)
	args = append(args, "-o", filepath.Join(tmp, "bootstrap"), BinaryPackage)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gofunction: go build %s for linux/arm64 in %s: %w\n%s", BinaryPackage, root, err, out)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("gofunction: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, "bootstrap")); statErr == nil {
			return nil // another synth built the same sources first
		}
		return fmt.Errorf("gofunction: move the built binary into %s: %w", dir, err)
	}
	return nil
}

// sourceHash is the SHA-256 of what the binary is made from, exactly: the
// Go version, the target and build flags, and for every package the
// binary links (`go list -deps` for linux/arm64) its module and version,
// and for the packages of this module their Go and embedded files, by path
// relative to root (so two checkouts of one commit agree, wherever they
// are). A change to the CLI, the worker, tests, test doubles or a module
// only they use leaves the hash, and so every function, untouched.
func sourceHash(root string) (string, error) {
	deps, err := linked(root)
	if err != nil {
		return "", err
	}
	semantics, err := languageLines(root)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s linux/arm64 cgo=0 %s %s\n%s", runtime.Version(), strings.Join(BuildFlags, " "), BinaryPackage, semantics)
	for _, d := range deps {
		fmt.Fprintln(h, d.line)
		for _, f := range d.files {
			b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "%s %d\n", f, len(b))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// languageLines are the lines of root's go.mod that change how the same
// sources compile: the go version (loop variables, for one), toolchain and
// godebug settings. The rest of go.mod (requirements) reaches the hash
// through the linked packages' module versions, and only for the modules
// the binary links.
func languageLines(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("read go.mod: %w", err)
	}
	var out strings.Builder
	inBlock := false
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case inBlock:
			out.WriteString("godebug " + line + "\n")
			inBlock = line != ")"
		case line == "godebug (":
			inBlock = true
		case strings.HasPrefix(line, "go "), strings.HasPrefix(line, "toolchain "), strings.HasPrefix(line, "godebug "):
			out.WriteString(line + "\n")
		}
	}
	return out.String(), nil
}

// linkedPackage is one package the binary links: a line naming it (import
// path, and module@version for another module's) and, for this module's
// packages, its files relative to the root.
type linkedPackage struct {
	line  string
	files []string
}

// listFormat prints, per package: standard or not, import path, module
// path, version and replacement, the package folder, and its Go and
// embedded files, tab-separated.
const listFormat = `{{.Standard}}	{{.ImportPath}}	{{with .Module}}{{.Path}}	{{.Version}}	{{with .Replace}}{{.Path}}@{{.Version}}{{end}}	{{.Main}}{{else}}			false{{end}}	{{.Dir}}	{{join .GoFiles ","}}	{{join .EmbedFiles ","}}`

// linked lists the packages the binary links, sorted by import path.
func linked(root string) ([]linkedPackage, error) {
	cmd := exec.Command("go", "list", "-deps", "-f", listFormat, BinaryPackage)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -deps %s in %s: %w\n%s", BinaryPackage, root, err, stderr.String())
	}
	root, err = filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	var pkgs []linkedPackage
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 9 {
			return nil, fmt.Errorf("go list printed %q: want 9 tab-separated fields", line)
		}
		standard, path, modPath, version, replace, main, dir := f[0], f[1], f[2], f[3], f[4], f[5], f[6]
		if standard == "true" {
			continue // the Go version, hashed above, fixes it
		}
		if main != "true" {
			pkgs = append(pkgs, linkedPackage{line: fmt.Sprintf("%s %s@%s %s", path, modPath, version, replace)})
			continue
		}
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			return nil, err
		}
		p := linkedPackage{line: path}
		for _, list := range []string{f[7], f[8]} {
			for _, name := range strings.Split(list, ",") {
				if name != "" {
					p.files = append(p.files, filepath.ToSlash(filepath.Join(rel, name)))
				}
			}
		}
		pkgs = append(pkgs, p)
	}
	slices.SortFunc(pkgs, func(a, b linkedPackage) int { return strings.Compare(a.line, b.line) })
	return pkgs, nil
}
