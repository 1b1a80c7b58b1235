package gofunction

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
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

// HashedFolders hold every package of this module the binary links (the
// import-boundary test holds the binary to them): with go.mod, go.sum, the
// Go version and the build settings, their Go files are the asset hash.
var HashedFolders = []string{"lambda", "internal"}

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

// sourceHash is the SHA-256 of what the binary is made from: the Go
// version, the target and build flags, go.mod, go.sum and every non-test Go
// file under HashedFolders, by path relative to root (so two checkouts of
// one commit agree, wherever they are).
func sourceHash(root string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s linux/arm64 cgo=0 %s %s\n", runtime.Version(), strings.Join(BuildFlags, " "), BinaryPackage)
	files := []string{"go.mod", "go.sum"}
	for _, folder := range HashedFolders {
		err := filepath.WalkDir(filepath.Join(root, folder), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
				rel, err := filepath.Rel(root, path)
				if err != nil {
					return err
				}
				files = append(files, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	slices.Sort(files[2:])
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
