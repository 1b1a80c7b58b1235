package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// outcome of processing one file.
type outcome int

const (
	moved       outcome = iota // the file is now in the destination
	alreadyDone                // a redelivery: it was moved before
)

// tempPrefix starts the name of the worker's temporary files (cross-device
// copies in progress) in the destination folder.
const tempPrefix = ".incoming-"

// lockingPrefix names a temporary file between its creation and its lock;
// one a crash left in that instant is cleared once older than lockingStale.
const (
	lockingPrefix = ".locking-"
	lockingStale  = time.Minute
)

// errConflict marks a destination that holds other content under the same
// name: nothing is overwritten, the message goes on to the dead-letter queue.
var errConflict = errors.New("a different processed file of that name exists")

// mover moves files from the source to the destination folder.
type mover struct {
	src, dst string
	// link is os.Link; tests replace it to force the cross-device path.
	link func(oldpath, newpath string) error
	// chunkHook, when set, runs before each chunk of a cross-device copy
	// (tests slow copies down with it).
	chunkHook func()
	// temps are this process's temporary files in the destination, so a
	// shutdown that cannot wait for a copy (stuck in the file system) still
	// removes its temporary file before the process exits.
	tempsMu sync.Mutex
	temps   map[string]bool
}

func newMover(src, dst string) *mover {
	return &mover{src: src, dst: dst, link: os.Link, temps: map[string]bool{}}
}

// track records a temporary file of this process; untrack forgets it.
func (m *mover) track(name string) {
	m.tempsMu.Lock()
	defer m.tempsMu.Unlock()
	m.temps[name] = true
}

func (m *mover) untrack(name string) {
	m.tempsMu.Lock()
	defer m.tempsMu.Unlock()
	delete(m.temps, name)
}

// removeTemps removes every temporary file of this process's copies still
// in progress. The copies fail afterwards (their file is gone, so they can
// never link it into place) and leave their sources and messages as they
// were. It is for an exit that cannot wait for them.
func (m *mover) removeTemps(log *slog.Logger) {
	m.tempsMu.Lock()
	defer m.tempsMu.Unlock()
	for name := range m.temps {
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			log.Warn("could not remove the temporary file of a stopped copy; the next start removes it", "path", name, "error", err)
		}
		delete(m.temps, name)
	}
}

// ensureDirs creates both folders when missing and refuses a destination
// inside the source (also through symbolic links): processed files would
// land among the files to process.
func (m *mover) ensureDirs() error {
	for _, d := range []string{m.src, m.dst} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create folder %s: %w", d, err)
		}
	}
	src, err := filepath.EvalSymlinks(m.src)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", m.src, err)
	}
	dst, err := filepath.EvalSymlinks(m.dst)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", m.dst, err)
	}
	if within(dst, src) {
		return fmt.Errorf("EFS_DESTINATION_FOLDER %s (%s) is the source folder %s (%s) or inside it: use a folder beside it, such as /data/destinationfolder/", m.dst, dst, m.src, src)
	}
	return nil
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && (rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))))
}

// clearStale removes the worker's temporary files that no running worker
// holds: a copy in progress holds an exclusive lock on its temporary file
// (flock; NFS, and so EFS, honours it across machines), so a temporary file
// that can be locked was left by a worker that crashed. Other files are never
// touched.
func (m *mover) clearStale(log *slog.Logger) error {
	entries, err := os.ReadDir(m.dst)
	if err != nil {
		return fmt.Errorf("read folder %s: %w", m.dst, err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		switch {
		case strings.HasPrefix(e.Name(), tempPrefix):
		case strings.HasPrefix(e.Name(), lockingPrefix):
			if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < lockingStale {
				continue // may be another worker's, about to be locked
			}
		default:
			continue
		}
		path := filepath.Join(m.dst, e.Name())
		f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
		if err != nil {
			continue
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			_ = f.Close()
			log.Info("temporary file in use by another worker: left alone", "path", path)
			continue
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			log.Warn("could not remove a stale temporary file", "path", path, "error", err)
		} else {
			log.Info("removed a temporary file a crashed worker left", "path", path)
		}
		_ = f.Close()
	}
	return nil
}

// openSource opens the source once, never following a symbolic link and
// never blocking (a FIFO would), and checks that what it opened is a regular
// file. The worker then works on that descriptor.
func openSource(path string) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, nil, fmt.Errorf("source %s is a symbolic link: refusing to move it", path)
		}
		return nil, nil, err
	}
	info, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("inspect %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		_ = f.Close()
		return nil, nil, fmt.Errorf("source %s is not a regular file (%s): refusing to move it", path, info.Mode().Type())
	}
	return f, info, nil
}

// move moves <src>/<name> to <dst>/<name>_has_been_processed; name must have
// passed checkName. It never replaces a file in the destination: the source
// is linked there (which fails if the name exists) and then removed. It is
// safe to repeat: a destination that already holds this file, or identical
// content, is a redelivery (alreadyDone); different content is errConflict
// and the source stays.
func (m *mover) move(ctx context.Context, name string) (outcome, error) {
	from := filepath.Join(m.src, name)
	to := filepath.Join(m.dst, name+processedSuffix)
	in, info, err := openSource(from)
	if errors.Is(err, fs.ErrNotExist) {
		if _, derr := os.Lstat(to); derr == nil {
			return alreadyDone, nil
		}
		return 0, fmt.Errorf("source file %s does not exist", from)
	}
	if err != nil {
		return 0, err
	}
	defer in.Close()
	err = m.link(from, to)
	switch {
	case errors.Is(err, syscall.EXDEV):
		return m.copyAcross(ctx, in, info, from, to)
	case errors.Is(err, fs.ErrExist):
		return m.existing(in, info, from, to)
	case err != nil:
		return 0, fmt.Errorf("link %s to %s: %w", from, to, err)
	}
	// The name could have been swapped between open and link: the
	// destination must be the file that was opened.
	if got, err := os.Lstat(to); err != nil || !os.SameFile(got, info) {
		_ = os.Remove(to)
		return 0, fmt.Errorf("source %s changed while it was being moved: refusing it", from)
	}
	// Durable with one sync of the destination folder before the message is
	// deleted (see worker.commit).
	return moved, m.removeSource(from, info)
}

// existing decides about a destination name that is already taken.
func (m *mover) existing(in *os.File, info fs.FileInfo, from, to string) (outcome, error) {
	got, err := os.Lstat(to)
	if err != nil {
		return 0, fmt.Errorf("inspect %s: %w", to, err)
	}
	if os.SameFile(got, info) {
		// A crash between link and remove: finish the move.
		return alreadyDone, m.removeSource(from, info)
	}
	same, err := sameContent(in, to, info.Size(), got)
	if err != nil {
		return 0, err
	}
	if !same {
		return 0, fmt.Errorf("%w: %s differs from %s; both are kept, move one of them by hand", errConflict, to, from)
	}
	return alreadyDone, m.removeSource(from, info)
}

// sameContent compares the opened source with the regular file at path.
func sameContent(in *os.File, path string, size int64, info fs.FileInfo) (bool, error) {
	if !info.Mode().IsRegular() || info.Size() != size {
		return false, nil
	}
	other, _, err := openSource(path)
	if err != nil {
		return false, err
	}
	defer other.Close()
	src := io.NewSectionReader(in, 0, size)
	a, b := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		n, errA := io.ReadFull(src, a)
		if n > 0 {
			if k, errB := io.ReadFull(other, b[:n]); errB != nil || !bytes.Equal(a[:n], b[:k]) {
				return false, nil
			}
		}
		if errors.Is(errA, io.EOF) || errors.Is(errA, io.ErrUnexpectedEOF) {
			return true, nil
		}
		if errA != nil {
			return false, fmt.Errorf("read %s: %w", in.Name(), errA)
		}
	}
}

// removeSource removes the source name, if it is still the file moved.
func (m *mover) removeSource(from string, info fs.FileInfo) error {
	now, err := os.Lstat(from)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect %s: %w", from, err)
	}
	if !os.SameFile(now, info) {
		return nil
	}
	if err := os.Remove(from); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s after moving it: %w", from, err)
	}
	return nil
}

// copyAcross moves between file systems: copy the opened source into a
// temporary file in the destination (locked while it is written, see
// clearStale), sync it, link it into place (never replacing), sync the
// folder, then remove the source. ctx ending stops the copy and removes the
// temporary file; a crash leaves the source intact and the temporary file
// for the next start to clear.
func (m *mover) copyAcross(ctx context.Context, in *os.File, info fs.FileInfo, from, to string) (_ outcome, err error) {
	// Created under lockingPrefix and renamed once locked: a starting
	// worker clears only unlocked tempPrefix files, so it never sees one
	// between its creation and its lock.
	tmp, err := os.CreateTemp(m.dst, lockingPrefix+"*")
	if err != nil {
		return 0, fmt.Errorf("create temporary file in %s: %w", m.dst, err)
	}
	name := tmp.Name()
	m.track(name)
	defer func() {
		m.tempsMu.Lock()
		if m.temps[name] {
			_ = os.Remove(name)
			delete(m.temps, name)
		}
		m.tempsMu.Unlock()
		_ = tmp.Close()
	}()
	if err := syscall.Flock(int(tmp.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return 0, fmt.Errorf("lock temporary file %s: %w", name, err)
	}
	locked := filepath.Join(m.dst, tempPrefix+strings.TrimPrefix(filepath.Base(name), lockingPrefix))
	// The rename and the record change together, so removeTemps always
	// removes the name the file has.
	m.tempsMu.Lock()
	if !m.temps[name] {
		m.tempsMu.Unlock()
		return 0, fmt.Errorf("copy of %s stopped by the shutdown", from)
	}
	err = os.Rename(name, locked)
	if err == nil {
		delete(m.temps, name)
		m.temps[locked] = true
		name = locked
	}
	m.tempsMu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("rename locked temporary file %s: %w", name, err)
	}
	if _, err := io.CopyBuffer(tmp, ctxReader{ctx: ctx, r: in, hook: m.chunkHook}, make([]byte, 1<<20)); err != nil {
		return 0, fmt.Errorf("copy %s: %w", from, err)
	}
	if err := tmp.Chmod(info.Mode().Perm()); err != nil {
		return 0, fmt.Errorf("set mode of copy: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return 0, fmt.Errorf("sync copy of %s: %w", from, err)
	}
	if err := os.Link(name, to); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("copy of %s stopped by the shutdown (its temporary file was removed)", from)
		}
		if errors.Is(err, fs.ErrExist) {
			return m.existing(in, info, from, to)
		}
		return 0, fmt.Errorf("put copy in place as %s: %w", to, err)
	}
	if err := syncDir(m.dst); err != nil {
		return 0, err
	}
	return moved, m.removeSource(from, info)
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx  context.Context
	r    io.Reader
	hook func()
}

func (c ctxReader) Read(p []byte) (int, error) {
	if c.hook != nil {
		c.hook()
	}
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// syncDir makes a link or rename in dir durable.
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
