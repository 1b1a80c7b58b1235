package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// outcome of processing one file.
type outcome int

const (
	moved       outcome = iota // the file is now in the destination
	alreadyDone                // a redelivery: it was moved before
)

// mover moves files from the source to the destination folder.
type mover struct {
	src, dst string
	// rename is os.Rename; tests replace it to force the cross-device path.
	rename func(oldpath, newpath string) error
}

func newMover(src, dst string) *mover { return &mover{src: src, dst: dst, rename: os.Rename} }

// ensureDirs creates both folders when missing.
func (m *mover) ensureDirs() error {
	for _, d := range []string{m.src, m.dst} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create folder %s: %w", d, err)
		}
	}
	return nil
}

// move moves <src>/<name> to <dst>/<name>_has_been_processed. name must have
// passed checkName. It is safe to repeat: when the source is gone and the
// destination exists, the earlier move is reported as alreadyDone.
func (m *mover) move(name string) (outcome, error) {
	from := filepath.Join(m.src, name)
	to := filepath.Join(m.dst, name+processedSuffix)
	info, err := os.Lstat(from)
	if errors.Is(err, fs.ErrNotExist) {
		if _, derr := os.Lstat(to); derr == nil {
			return alreadyDone, nil
		}
		return 0, fmt.Errorf("source file %s does not exist", from)
	}
	if err != nil {
		return 0, fmt.Errorf("inspect %s: %w", from, err)
	}
	if !info.Mode().IsRegular() {
		return 0, fmt.Errorf("source %s is not a regular file (%s): refusing to move it", from, info.Mode().Type())
	}
	err = m.rename(from, to)
	if errors.Is(err, syscall.EXDEV) {
		return moved, m.copyAcross(from, to, info.Mode().Perm())
	}
	if err != nil {
		return 0, fmt.Errorf("rename %s to %s: %w", from, to, err)
	}
	// The rename is atomic; it is made durable by one sync of the destination
	// folder before the message is deleted (see worker.commit).
	return moved, nil
}

// copyAcross moves between file systems: copy to a temporary file in the
// destination, sync it, rename it into place, sync the folder, then remove
// the source. A crash leaves the source intact (the message is retried).
func (m *mover) copyAcross(from, to string, perm fs.FileMode) (err error) {
	in, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("open %s: %w", from, err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp(m.dst, ".incoming-*")
	if err != nil {
		return fmt.Errorf("create temporary file in %s: %w", m.dst, err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, in); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("copy %s: %w", from, err)
	}
	if err = tmp.Chmod(perm); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("set mode of copy: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("sync copy of %s: %w", from, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("close copy of %s: %w", from, err)
	}
	if err = os.Rename(tmp.Name(), to); err != nil {
		return fmt.Errorf("put copy in place as %s: %w", to, err)
	}
	if err = syncDir(m.dst); err != nil {
		return err
	}
	if err = os.Remove(from); err != nil {
		return fmt.Errorf("remove %s after copying it: %w", from, err)
	}
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open folder %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}
