package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/ecs-anywhere-stretched/stretched/testkit/errcheck"
	"github.com/ecs-anywhere-stretched/stretched/testkit/sqspeer"
)

func TestClearsOnlyStaleTemporaries(t *testing.T) {
	m := newTestMover(t)
	stale := filepath.Join(m.dst, tempPrefix+"123")
	held := filepath.Join(m.dst, tempPrefix+"456")
	other := filepath.Join(m.dst, ".other")
	done := filepath.Join(m.dst, "a_has_been_processed")
	// Between its creation and its lock a copy's file is named .locking-:
	// cleared only once it cannot be that any more.
	locking := filepath.Join(m.dst, lockingPrefix+"789")
	crashedLocking := filepath.Join(m.dst, lockingPrefix+"012")
	for _, p := range []string{stale, held, other, done, locking, crashedLocking} {
		write(t, p, "x")
	}
	old := time.Now().Add(-2 * lockingStale)
	if err := os.Chtimes(crashedLocking, old, old); err != nil {
		t.Fatal(err)
	}
	// A live worker's copy in progress holds its temporary file locked.
	holdLock(t, held)
	var logs bytes.Buffer
	if err := m.clearStale(slog.New(slog.NewJSONHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{stale, crashedLocking} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s: a temporary file no worker holds must be removed at start", filepath.Base(p))
		}
	}
	for _, p := range []string{held, other, done, locking} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s must be left alone: %v", filepath.Base(p), err)
		}
	}
}

// TestCrashDuringACopyLeavesNothingBehind kills the real binary with SIGKILL
// in the middle of a cross-device copy (source on disk, destination on
// tmpfs), then starts it again: the temporary file is cleared and the file
// is processed.
func TestCrashDuringACopyLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	shm, err := os.MkdirTemp("/dev/shm", "worker-dst-")
	if err != nil {
		t.Skipf("no /dev/shm for a second file system: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(shm) })
	f := newFixture(t, 5)
	f.dst = shm
	var a, b syscall.Statfs_t
	_ = syscall.Statfs(f.top, &a)
	_ = syscall.Statfs(shm, &b)
	if a.Type == b.Type {
		t.Skip("the temporary folder and /dev/shm are one file system type: no cross-device copy")
	}
	if free := b.Bavail * uint64(b.Bsize); free < 1<<30 {
		t.Skipf("/dev/shm has %d MiB free: the crash needs room for a 256 MiB copy in progress (a container's default 64 MiB is too small)", free>>20)
	}
	bin := buildWorker(t)
	f.files(t)
	big := filepath.Join(f.src, "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte("0123456789abcdef"), 16<<20), 0o644); err != nil { // 256 MiB
		t.Fatal(err)
	}
	f.send(t, "big")
	// The kill lands the moment the copy's temporary file is renamed to
	// its locked name (inotify), not when a poll happens to see it: a
	// 256 MiB copy is far from done then, however loaded the machine.
	renamed := watchRenames(t, shm)
	cmd := workerCmd(bin, f)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case name := <-renamed:
		_ = cmd.Process.Kill()
		if !strings.HasPrefix(name, tempPrefix) {
			t.Fatalf("the first rename in the destination made %q, want a %s temporary file", name, tempPrefix)
		}
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("no copy started")
	}
	_ = cmd.Wait()
	if got := list(t, shm); len(got) != 1 || !strings.HasPrefix(got[0], tempPrefix) {
		t.Fatalf("after the crash the destination holds %v, want one temporary file (the fault)", got)
	}
	cfg := f.config()
	cfg.VisibilityTimeout = 5 * time.Second
	logs, stop := f.start(t, cfg)
	waitFor(t, 2*time.Minute, "the file processed after the restart", func() bool {
		got := list(t, shm) // once: the folder changes between two reads
		return len(got) == 1 && got[0] == "big_has_been_processed"
	})
	stop()
	if !strings.Contains(logs.String(), "removed a temporary file a crashed worker left") {
		t.Errorf("the restart did not say it cleared the temporary file:\n%s", logs.String())
	}
}

// watchRenames reports the names renamed into dir (inotify IN_MOVED_TO)
// until the test ends.
func watchRenames(t *testing.T, dir string) <-chan string {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		t.Skipf("inotify: %v", err)
	}
	if _, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_MOVED_TO); err != nil {
		syscall.Close(fd)
		t.Skipf("inotify watch %s: %v", dir, err)
	}
	events := os.NewFile(uintptr(fd), "inotify") // non-blocking: Close ends a Read
	names := make(chan string, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, err := events.Read(buf)
			if err != nil {
				return
			}
			for off := 0; off+syscall.SizeofInotifyEvent <= n; {
				ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := buf[off+syscall.SizeofInotifyEvent : off+syscall.SizeofInotifyEvent+int(ev.Len)]
				off += syscall.SizeofInotifyEvent + int(ev.Len)
				select {
				case names <- string(bytes.TrimRight(name, "\x00")):
				default:
				}
			}
		}
	}()
	t.Cleanup(func() { events.Close(); <-done })
	return names
}

// TestStoppedCopiesNeverLeaveTemporaries stops cross-device copies over and
// over at every stage (before the lock, during the copy, around the link),
// half the time also removing them as an exit that cannot wait does: no
// stop ever leaves a temporary file, and a copy that did finish is whole.
func TestStoppedCopiesNeverLeaveTemporaries(t *testing.T) {
	t.Parallel()
	m := moverOn(t, true)
	content := strings.Repeat("x", 256<<10)
	m.chunkHook = func() { time.Sleep(time.Duration(rand.N(200)) * time.Microsecond) }
	discard := slog.New(slog.DiscardHandler)
	for i := range 300 {
		write(t, filepath.Join(m.src, "f"), content)
		ctx, cancel := context.WithCancel(context.Background())
		abandon := i%2 == 1
		go func() {
			time.Sleep(time.Duration(rand.N(400)) * time.Microsecond)
			cancel()
			if abandon {
				m.removeTemps(discard)
			}
		}()
		result, err := m.move(ctx, "f")
		cancel()
		// An abandoned copy may still be running when the exit removes
		// its file; wait until the move has returned and no record is left.
		waitFor(t, 5*time.Second, "the copy's record to go", func() bool {
			m.tempsMu.Lock()
			defer m.tempsMu.Unlock()
			return len(m.temps) == 0
		})
		for _, name := range list(t, m.dst) {
			if strings.HasPrefix(name, tempPrefix) || strings.HasPrefix(name, lockingPrefix) {
				t.Fatalf("stop %d (abandoned %v, err %v) left %s", i, abandon, err, name)
			}
		}
		done := filepath.Join(m.dst, "f"+processedSuffix)
		if err == nil && result == moved {
			if got, _ := os.ReadFile(done); string(got) != content {
				t.Fatalf("stop %d: a finished copy holds %d bytes, want %d", i, len(got), len(content))
			}
		}
		_ = os.Remove(done)
	}
}

func TestProcessedFileIsNeverOverwritten(t *testing.T) {
	for _, across := range []bool{false, true} {
		t.Run(map[bool]string{false: "same file system", true: "across file systems"}[across], func(t *testing.T) {
			m := moverOn(t, across)
			done := filepath.Join(m.dst, "r_has_been_processed")
			write(t, done, "first")
			write(t, filepath.Join(m.src, "r"), "second")
			_, err := m.move(context.Background(), "r")
			if !errors.Is(err, errConflict) {
				t.Fatalf("a different file of the same name: err %v, want a conflict", err)
			}
			if got, _ := os.ReadFile(done); string(got) != "first" {
				t.Errorf("the processed file was overwritten: %q", got)
			}
			if got, _ := os.ReadFile(filepath.Join(m.src, "r")); string(got) != "second" {
				t.Errorf("the conflicting source must be kept, holds %q", got)
			}
			// The same content again is a redelivery: finish and acknowledge.
			write(t, filepath.Join(m.src, "r"), "first")
			if r, err := m.move(context.Background(), "r"); err != nil || r != alreadyDone {
				t.Errorf("identical content: %v, %v; want alreadyDone", r, err)
			}
			if _, err := os.Stat(filepath.Join(m.src, "r")); !os.IsNotExist(err) {
				t.Error("the identical source must be removed")
			}
			if left := list(t, m.dst); len(left) != 1 {
				t.Errorf("destination holds %v", left)
			}
		})
	}
}

func TestFIFOAndSymlinkNeverOpenedByPath(t *testing.T) {
	m := newTestMover(t)
	if err := syscall.Mkfifo(filepath.Join(m.src, "pipe"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	m.link = func(string, string) error { return &os.LinkError{Op: "link", Err: syscall.EXDEV} }
	done := make(chan error, 1)
	go func() { _, err := m.move(context.Background(), "pipe"); done <- err }()
	select {
	case err := <-done:
		errcheck.Contains(t, err, "not a regular file")
	case <-time.After(5 * time.Second):
		t.Fatal("moving a FIFO hangs in open")
	}
}

// TestSwappedSourceNeverEscapes: another process with write access to the
// source folder swaps a name between a regular file, a symbolic link to a
// file outside the folder and a FIFO, as fast as it can, while the worker
// moves it over and over. The worker never hangs, and the outside file's
// content never reaches the destination.
func TestSwappedSourceNeverEscapes(t *testing.T) {
	for _, across := range []bool{false, true} {
		t.Run(map[bool]string{false: "same file system", true: "across file systems"}[across], func(t *testing.T) {
			m := moverOn(t, across)
			secret := filepath.Join(t.TempDir(), "secret")
			write(t, secret, "OUTSIDE-SECRET")
			path := filepath.Join(m.src, "x")
			var stop atomic.Bool
			swapped := make(chan struct{})
			// The swapper ends before the test's folders are removed.
			defer func() { stop.Store(true); <-swapped }()
			go func() {
				defer close(swapped)
				tmp := path + ".swap"
				for i := 0; !stop.Load(); i++ {
					_ = os.Remove(tmp)
					switch i % 3 {
					case 0:
						_ = os.WriteFile(tmp, []byte("inside"), 0o644)
					case 1:
						_ = os.Symlink(secret, tmp)
					case 2:
						_ = syscall.Mkfifo(tmp, 0o644)
					}
					_ = os.Rename(tmp, path)
				}
			}()
			for i := 0; i < 300; i++ {
				done := make(chan struct{})
				go func() {
					defer close(done)
					_, _ = m.move(context.Background(), "x")
				}()
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					t.Fatal("a move hung on a swapped name")
				}
				out := filepath.Join(m.dst, "x_has_been_processed")
				if info, err := os.Lstat(out); err == nil {
					if !info.Mode().IsRegular() {
						t.Fatalf("the destination is a %v, not a regular file", info.Mode().Type())
					}
					if got, _ := os.ReadFile(out); strings.Contains(string(got), "OUTSIDE") {
						t.Fatal("content from outside the source folder reached the destination")
					}
					_ = os.Remove(out)
				}
			}
		})
	}
}

func TestShutdownStopsACopyInProgress(t *testing.T) {
	t.Parallel()
	for peer, start := range peers {
		t.Run(peer, func(t *testing.T) { t.Parallel(); shutdownStopsACopyInProgress(t, start) })
	}
}

func shutdownStopsACopyInProgress(t *testing.T, peer func(testing.TB) *sqspeer.Peer) {
	f := newFixtureOn(t, peer, 5)
	f.files(t, "slow")
	write(t, filepath.Join(f.src, "slow"), strings.Repeat("x", 120<<20))
	cfg := f.config()
	cfg.VisibilityTimeout = 60 * time.Second
	// The copy (120 chunks, 100 ms each) is stopped after 6 of the 8 s; a
	// chunk ends well within the quarter kept to release the message, even
	// on a loaded 2-core machine (with 4 s, `make test` under load missed
	// the 0.6 s left to release it in some runs, 2026-12-07).
	cfg.ShutdownGrace = 8 * time.Second
	logs := &syncBuffer{}
	w := newWorker(cfg, f.client, slog.New(slog.NewJSONHandler(logs, nil)))
	w.mover.link = func(string, string) error { return &os.LinkError{Op: "link", Err: syscall.EXDEV} }
	w.mover.chunkHook = func() { time.Sleep(100 * time.Millisecond) } // an 8 s copy
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.run(ctx) }()
	f.send(t, "slow")
	waitFor(t, time.Minute, "the copy to start", func() bool { return strings.Contains(strings.Join(list(t, f.dst), ","), tempPrefix) })
	start := time.Now()
	cancel()
	runEnds(t, done, "the worker kept copying after the grace period")
	if took := time.Since(start); took > cfg.ShutdownGrace+8*time.Second {
		t.Errorf("stopping took %v with a %v grace", took, cfg.ShutdownGrace)
	}
	if left := list(t, f.dst); len(left) != 0 {
		t.Errorf("the stopped copy left %v", left)
	}
	if _, err := os.Stat(filepath.Join(f.src, "slow")); err != nil {
		t.Errorf("the source must stay: %v", err)
	}
	if got := f.left(t, f.queue); len(got) != 1 || got[0] != "slow" {
		t.Errorf("the message must be released at once (visibility 0), the queue shows %v", got)
	}
}

// runEnds waits for a worker's run to end without error, well past any
// grace these tests give it; else it fails with why.
func runEnds(t *testing.T, done <-chan error, why string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal(why)
	}
}

// TestShutdownEndsWithAMoveStuckInTheFileSystem: a read that ignores the
// stop (a hung NFS/EFS call) does not keep the worker past its grace.
func TestShutdownEndsWithAMoveStuckInTheFileSystem(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 5)
	f.files(t, "stuck")
	cfg := f.config()
	cfg.ShutdownGrace = 2 * time.Second
	logs := &syncBuffer{}
	w := newWorker(cfg, f.client, slog.New(slog.NewJSONHandler(logs, nil)))
	w.mover.link = func(string, string) error { return &os.LinkError{Op: "link", Err: syscall.EXDEV} }
	stuck, unstick := make(chan struct{}), make(chan struct{})
	var once sync.Once
	w.mover.chunkHook = func() { once.Do(func() { close(stuck) }); <-unstick }
	// The stuck move ends once unstuck: wait for it before the folders and
	// the peer go.
	t.Cleanup(func() {
		close(unstick)
		finished := make(chan struct{})
		go func() { w.inflight.Wait(); close(finished) }()
		select {
		case <-finished:
		case <-time.After(30 * time.Second):
			t.Error("the unstuck move never ended")
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.run(ctx) }()
	f.send(t, "stuck")
	select {
	case <-stuck:
	case <-time.After(time.Minute):
		t.Fatal("the copy never started")
	}
	cancel()
	runEnds(t, done, "the worker waited for a move stuck in the file system, past its grace period")
	if !strings.Contains(logs.String(), "moves stuck in the file system") {
		t.Errorf("the exit must say why: %s", logs)
	}
	// The process exits now: the copy it could not wait for must not
	// leave its temporary file in the user's folder.
	if left := list(t, f.dst); len(left) != 0 {
		t.Errorf("the exit left %v in the destination", left)
	}
}

func TestShutdownIsBoundedWhenTheQueueIsUnreachable(t *testing.T) {
	t.Parallel()
	for peer, start := range peers {
		t.Run(peer, func(t *testing.T) { t.Parallel(); shutdownIsBoundedWhenTheQueueIsUnreachable(t, start) })
	}
}

func shutdownIsBoundedWhenTheQueueIsUnreachable(t *testing.T, peer func(testing.TB) *sqspeer.Peer) {
	f := newFixtureOn(t, peer, 5)
	files := names(20)
	f.files(t, files...)
	link := sqspeer.NewLink(t, f.peer)
	cfg := f.config()
	cfg.ShutdownGrace = 3 * time.Second
	cfg.DeleteBatchDelay = time.Second // the deletes are still pending when the link goes
	logs := &syncBuffer{}
	w := newWorker(cfg, sqspeer.Client(link.URL()), slog.New(slog.NewJSONHandler(logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.run(ctx) }()
	f.send(t, files...)
	waitFor(t, time.Minute, "moves", func() bool { return len(list(t, f.dst)) >= 5 })
	link.Cut()
	start := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the worker did not stop within a minute with the queue unreachable")
	}
	if took := time.Since(start); took > cfg.ShutdownGrace+5*time.Second {
		t.Errorf("stopping took %v with a %v grace: ECS would have killed it", took, cfg.ShutdownGrace)
	}
	// What was not deleted comes back and is acknowledged as a redelivery.
	link.Restore()
	_, stop := f.start(t, f.config())
	waitFor(t, 2*time.Minute, "every file processed", func() bool { return len(list(t, f.dst)) == len(files) })
	waitFor(t, time.Minute, "the queue empty", func() bool { return len(f.left(t, f.queue)) == 0 })
	stop()
}

func TestHostileBodyLogsAreBounded(t *testing.T) {
	t.Parallel()
	for peer, start := range peers {
		t.Run(peer, func(t *testing.T) { t.Parallel(); hostileBodyLogsAreBounded(t, start) })
	}
}

func hostileBodyLogsAreBounded(t *testing.T, peer func(testing.TB) *sqspeer.Peer) {
	f := newFixtureOn(t, peer, 2)
	f.files(t)
	logs, stop := f.start(t, f.config())
	body := strings.Repeat("é/", 256<<10/3) // ~256 KiB, not a file name
	f.send(t, body)
	waitFor(t, time.Minute, "the refusal", func() bool { return strings.Count(logs.String(), "refusing message") >= 2 })
	stop()
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if len(sc.Bytes()) > 2048 {
			t.Fatalf("a log line of %d bytes: %.200s...", len(sc.Bytes()), sc.Text())
		}
	}
	if !strings.Contains(logs.String(), `"bodyBytes":`+strconv.Itoa(len(body))) {
		t.Error("the body's length must be logged")
	}
}

func buildWorker(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "worker")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func workerCmd(bin string, f *fixture) *exec.Cmd {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), f.peer.Env()...)
	cmd.Env = append(cmd.Env, "SQS_QUEUE_URL="+f.queue, "EFS_SOURCE_FOLDER="+f.src, "EFS_DESTINATION_FOLDER="+f.dst,
		"WORKER_WAIT_TIME_SECONDS=1", "WORKER_VISIBILITY_TIMEOUT_SECONDS=5")
	return cmd
}

// moverOn is a test mover whose moves go across file systems when across is
// set (its links fail with EXDEV).
func moverOn(t *testing.T, across bool) *mover {
	m := newTestMover(t)
	if across {
		m.link = func(string, string) error { return &os.LinkError{Op: "link", Err: syscall.EXDEV} }
	}
	return m
}

// TestRunningWorkerSweepsStaleTemporaries: a temporary file a crashed worker
// left after this one started (another worker on the same EFS, killed) is
// cleared while running, not only at the next start; one a live copy holds
// is left alone.
func TestRunningWorkerSweepsStaleTemporaries(t *testing.T) {
	f := newFixture(t, 5)
	f.files(t)
	logs := &syncBuffer{}
	w := newWorker(f.config(), f.client, slog.New(slog.NewJSONHandler(logs, nil)))
	w.sweepEvery = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.run(ctx) }()
	defer func() { cancel(); runEnds(t, done, "the worker did not stop") }()
	waitFor(t, time.Minute, "the worker to start", func() bool { return strings.Contains(logs.String(), "worker started") })
	stale := filepath.Join(f.dst, tempPrefix+"crashed")
	held := filepath.Join(f.dst, tempPrefix+"live")
	write(t, stale, "partial")
	write(t, held, "partial")
	holdLock(t, held)
	waitFor(t, time.Minute, "the stale temporary file swept", func() bool {
		_, err := os.Stat(stale)
		return os.IsNotExist(err)
	})
	if _, err := os.Stat(held); err != nil {
		t.Errorf("a temporary file a live copy holds was removed: %v", err)
	}
}

// TestShutdownEndsWithinTheGraceWithTheQueueFrozen: the real binary, its
// queue behind a link that stops answering (requests hang, nothing is
// refused) with deletes pending, gets SIGTERM: it exits 0 within its grace
// period (the README's promise), and a later worker finishes what it left.
// The bound checked is the grace plus a margin for a loaded machine; the
// time it took is logged (go test -v) and reported in the README.
func TestShutdownEndsWithinTheGraceWithTheQueueFrozen(t *testing.T) {
	t.Parallel()
	const grace = 5 * time.Second
	f := newFixture(t, 5)
	files := names(20)
	f.files(t, files...)
	bin := buildWorker(t)
	link := sqspeer.NewLink(t, f.peer)
	cmd := exec.Command(bin)
	cmd.Env = append(append(os.Environ(), link.Env()...), "SQS_QUEUE_URL="+f.queue, "EFS_SOURCE_FOLDER="+f.src, "EFS_DESTINATION_FOLDER="+f.dst,
		"WORKER_WAIT_TIME_SECONDS=1", "WORKER_VISIBILITY_TIMEOUT_SECONDS=5", "WORKER_CONCURRENCY=2",
		fmt.Sprintf("WORKER_SHUTDOWN_GRACE_SECONDS=%d", grace/time.Second), "WORKER_DELETE_BATCH_DELAY_MS=1000")
	var logs syncBuffer
	cmd.Stdout = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	f.send(t, files...)
	waitFor(t, time.Minute, "moves", func() bool { return len(list(t, f.dst)) >= 5 })
	link.Freeze()
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		took := time.Since(start)
		t.Logf("exit %v %v after SIGTERM with a %v grace and the queue frozen", err, took.Round(10*time.Millisecond), grace)
		if err != nil {
			t.Errorf("exit status %v, want 0\n%s", err, logs.String())
		}
		if took > grace+2*time.Second {
			t.Errorf("stopping took %v with a %v grace: ECS would kill it mid-shutdown", took, grace)
		}
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("the worker did not exit within a minute of SIGTERM with the queue frozen")
	}
	link.Restore()
	_, stop := f.start(t, f.config())
	waitFor(t, 2*time.Minute, "every file processed", func() bool { return len(list(t, f.dst)) == len(files) })
	stop()
}

// holdLock holds an exclusive flock on path until the test ends, as a live
// worker's copy in progress holds its temporary file.
func holdLock(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
}
