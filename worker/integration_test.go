package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/ecs-anywhere-stretched/stretched/testkit/sqspeer"
)

// syncBuffer is a log sink the test reads while the worker writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// fixture is a queue on a fresh peer and a /data with both folders.
type fixture struct {
	peer          *sqspeer.Peer
	client        *sqs.Client
	queue, dlq    string
	src, dst, top string
}

// peers are the SQS implementations the scenarios run against: fauxqs is
// fast; moto_server is strict about receipt handles and redrive.
var peers = map[string]func(testing.TB) *sqspeer.Peer{"fauxqs": sqspeer.StartFauxqs, "moto": sqspeer.StartMoto}

func newFixture(t *testing.T, maxReceives int) *fixture {
	t.Helper()
	return newFixtureOn(t, sqspeer.StartFauxqs, maxReceives)
}

func newFixtureOn(t *testing.T, start func(testing.TB) *sqspeer.Peer, maxReceives int) *fixture {
	t.Helper()
	p := start(t)
	q, d, err := p.Queue(context.Background(), "main-queue", maxReceives)
	if err != nil {
		t.Fatal(err)
	}
	top := t.TempDir()
	return &fixture{peer: p, client: p.Client(), queue: q, dlq: d, top: top,
		src: filepath.Join(top, "sourcefolder"), dst: filepath.Join(top, "destinationfolder")}
}

func (f *fixture) config() config {
	return config{
		QueueURL: f.queue, SourceDir: f.src, DestinationDir: f.dst, Region: sqspeer.Region,
		Concurrency: 16, Receivers: 2, WaitTime: time.Second, VisibilityTimeout: 5 * time.Second,
		RetryDelay: 0, ShutdownGrace: 5 * time.Second, DeleteBatchDelay: 20 * time.Millisecond,
	}
}

// start runs the worker in-process until the returned stop is called.
func (f *fixture) start(t *testing.T, cfg config) (logs *syncBuffer, stop func()) {
	t.Helper()
	return f.startWith(t, cfg, f.peer.Client())
}

func (f *fixture) startWith(t *testing.T, cfg config, client sqsAPI) (logs *syncBuffer, stop func()) {
	t.Helper()
	logs = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	w := newWorker(cfg, client, slog.New(slog.NewJSONHandler(logs, nil)))
	go func() { done <- w.run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("worker: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("worker did not stop within 30 s")
			}
		})
	}
	t.Cleanup(stop)
	return logs, stop
}

func (f *fixture) files(t *testing.T, names ...string) {
	t.Helper()
	if err := os.MkdirAll(f.src, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(f.src, n), []byte("content of "+n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fixture) send(t *testing.T, bodies ...string) {
	t.Helper()
	for start := 0; start < len(bodies); start += 10 {
		var entries []types.SendMessageBatchRequestEntry
		for i, b := range bodies[start:min(start+10, len(bodies))] {
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), MessageBody: aws.String(b)})
		}
		out, err := f.client.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(f.queue), Entries: entries})
		if err != nil || len(out.Failed) > 0 {
			t.Fatalf("send: %v %v", err, out)
		}
	}
}

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%03d", i+1)
	}
	return out
}

func list(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// waitFor polls cond for up to limit; the limit is a deadlock guard, not a
// speed assertion.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after %v", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// left receives what is on a queue and makes it visible again at once (a
// ReceiveMessage cannot ask for visibility 0: the SDK omits a zero).
func (f *fixture) left(t *testing.T, queue string) []string {
	t.Helper()
	ctx := context.Background()
	var bodies []string
	out, err := f.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(queue), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range out.Messages {
		bodies = append(bodies, aws.ToString(m.Body))
		if _, err := f.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(queue), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0,
		}); err != nil {
			t.Fatal(err)
		}
	}
	return bodies
}

// assertDrained: every file left the source, and neither the queue nor the
// dead-letter queue holds a message.
func (f *fixture) assertDrained(t *testing.T) {
	t.Helper()
	if left := list(t, f.src); len(left) != 0 {
		t.Errorf("source not empty: %v", left)
	}
	if left := f.left(t, f.queue); len(left) != 0 {
		t.Errorf("messages left on the queue: %v", left)
	}
	if dead := f.left(t, f.dlq); len(dead) != 0 {
		t.Errorf("messages in the dead-letter queue: %v", dead)
	}
}

func TestAcceptanceScenario(t *testing.T) {
	t.Parallel()
	for name, start := range peers {
		t.Run(name, func(t *testing.T) { t.Parallel(); acceptance(t, newFixtureOn(t, start, 5)) })
	}
}

func acceptance(t *testing.T, f *fixture) {
	files := names(5)
	f.files(t, files...)
	logs, stop := f.start(t, f.config())
	f.send(t, files...)
	waitFor(t, time.Minute, "five processed files", func() bool { return len(list(t, f.dst)) == 5 })
	// At least five: a message redelivered before its delete landed is
	// acknowledged again (and logged again); assertDrained checks that
	// nothing is left.
	waitFor(t, time.Minute, "a delete of each file's message", func() bool {
		for _, n := range files {
			if !strings.Contains(logs.String(), `"msg":"message deleted","file":"`+n+`"`) {
				return false
			}
		}
		return true
	})
	stop()
	for _, n := range files {
		if _, err := os.Stat(filepath.Join(f.dst, n+"_has_been_processed")); err != nil {
			t.Errorf("%s not processed: %v", n, err)
		}
		if !strings.Contains(logs.String(), `"file":"`+n+`"`) {
			t.Errorf("log never names file %s", n)
		}
	}
	f.assertDrained(t)
}

func TestHostileBodiesMoveNothingAndReachDeadLetterQueue(t *testing.T) {
	t.Parallel()
	for name, start := range peers {
		t.Run(name, func(t *testing.T) { t.Parallel(); hostileBodies(t, newFixtureOn(t, start, 2)) })
	}
}

func hostileBodies(t *testing.T, f *fixture) {
	f.files(t, "victim")
	outside := filepath.Join(f.top, "outside")
	if err := os.WriteFile(outside, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	hostile := []string{"../outside", "/etc/passwd", "victim/../../outside", "..", ".", " victim", "a\tb", `..\outside`}
	logs, stop := f.start(t, f.config())
	f.send(t, hostile...)
	var dead []string
	waitFor(t, 2*time.Minute, "every hostile message in the dead-letter queue", func() bool {
		dead = append(dead, f.left(t, f.dlq)...)
		return len(dead) >= len(hostile)
	})
	stop()
	if got := list(t, f.dst); len(got) != 0 {
		t.Errorf("hostile bodies moved files: %v", got)
	}
	if got := list(t, f.src); len(got) != 1 {
		t.Errorf("source changed: %v", got)
	}
	if b, err := os.ReadFile(outside); err != nil || string(b) != "keep" {
		t.Errorf("file outside the folder touched: %q %v", b, err)
	}
	if n := strings.Count(logs.String(), "refusing message"); n < len(hostile) {
		t.Errorf("%d refusals logged, want at least %d", n, len(hostile))
	}
}

func TestMissingFileIsRetriedThenDeadLettered(t *testing.T) {
	t.Parallel()
	for name, start := range peers {
		t.Run(name, func(t *testing.T) { t.Parallel(); missingFile(t, newFixtureOn(t, start, 3)) })
	}
}

func missingFile(t *testing.T, f *fixture) {
	logs, stop := f.start(t, f.config())
	f.send(t, "ghost")
	var dead []string
	defer func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	}()
	waitFor(t, time.Minute, "the message in the dead-letter queue", func() bool {
		dead = append(dead, f.left(t, f.dlq)...)
		return len(dead) == 1
	})
	stop()
	if dead[0] != "ghost" {
		t.Errorf("dead-lettered %q", dead[0])
	}
	if n := strings.Count(logs.String(), `"msg":"move failed; the message stays on the queue to be retried"`); n != 3 {
		t.Errorf("move attempted %d times, want 3 (maxReceiveCount)", n)
	}
}

// TestSurvivesNetworkOutage cuts the network between the worker and the queue
// mid-run: the worker backs off, keeps going, and once the link is back every
// file ends up processed exactly once.
func TestSurvivesNetworkOutage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 5)
	files := names(60)
	f.files(t, files...)
	link := sqspeer.NewLink(t, f.peer)
	cfg := f.config()
	cfg.Concurrency = 2
	logs, stop := f.startWith(t, cfg, sqspeer.Client(link.URL()))
	first, second := files[:30], files[30:]
	f.send(t, first...)
	waitFor(t, time.Minute, "some progress", func() bool { return len(list(t, f.dst)) >= 5 })
	link.Cut()
	// Work arrives while the site is cut off: it waits in the queue.
	f.send(t, second...)
	waitFor(t, time.Minute, "the worker to notice the outage", func() bool {
		return strings.Contains(logs.String(), "receive failed; backing off")
	})
	time.Sleep(2 * time.Second)
	if n := len(list(t, f.dst)); n >= len(files) {
		t.Fatalf("%d files processed during the outage; the link was not cut", n)
	}
	link.Restore()
	waitFor(t, 3*time.Minute, "every file processed", func() bool { return len(list(t, f.dst)) == len(files) })
	waitFor(t, time.Minute, "the queue to be empty", func() bool { return len(f.left(t, f.queue)) == 0 })
	stop()
	if !strings.Contains(logs.String(), "queue reachable again") {
		t.Error("the worker never reported the queue back")
	}
	got := list(t, f.dst)
	if len(got) != len(files) {
		t.Fatalf("%d processed files, want %d", len(got), len(files))
	}
	for _, n := range files {
		if c := strings.Count(strings.Join(got, "\n")+"\n", n+"_has_been_processed\n"); c != 1 {
			t.Errorf("%s processed %d times", n, c)
		}
	}
	f.assertDrained(t)
}

// TestSIGTERMLosesNothing runs the real binary, stops it with SIGTERM in the
// middle of a batch, and checks it exits 0 with every file either processed
// or still in the source with its message back on the queue.
func TestSIGTERMLosesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 5)
	bin := filepath.Join(t.TempDir(), "worker")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	files := names(300)
	f.files(t, files...)
	f.send(t, files...)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), f.peer.Env()...)
	cmd.Env = append(cmd.Env, "SQS_QUEUE_URL="+f.queue, "EFS_SOURCE_FOLDER="+f.src, "EFS_DESTINATION_FOLDER="+f.dst,
		"WORKER_WAIT_TIME_SECONDS=1", "WORKER_VISIBILITY_TIMEOUT_SECONDS=5", "WORKER_CONCURRENCY=4")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	moved := make(chan struct{})
	read := make(chan struct{}) // closed once every line is read
	var logs syncBuffer
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stdout)
		once := sync.Once{}
		for sc.Scan() {
			_, _ = logs.Write(append(sc.Bytes(), '\n'))
			if strings.Contains(sc.Text(), `"msg":"file moved"`) {
				once.Do(func() { close(moved) })
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case <-moved:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("worker moved nothing")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	// Wait closes the pipe: only once the last line is read (else the
	// clean-stop line can be lost, as it was under load).
	go func() { <-read; exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("worker exit after SIGTERM: %v (want 0)\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("worker did not exit within ECS's 30 s stop timeout")
	}
	if !strings.Contains(logs.String(), "worker stopped") {
		t.Error("no clean-stop log line")
	}
	processed, waiting := len(list(t, f.dst)), len(list(t, f.src))
	if processed+waiting != len(files) || waiting == 0 {
		t.Fatalf("after SIGTERM: %d processed + %d waiting, want %d with some waiting", processed, waiting, len(files))
	}
	// Every waiting file still has its message: a second worker finishes them.
	_, stop := f.start(t, f.config())
	waitFor(t, 2*time.Minute, "the rest processed", func() bool { return len(list(t, f.dst)) == len(files) })
	stop()
	if left := list(t, f.src); len(left) != 0 {
		t.Errorf("files whose message was lost: %v", left)
	}
}
