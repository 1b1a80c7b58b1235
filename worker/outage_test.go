package main

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecs-anywhere-stretched/stretched/testkit/sqspeer"
)

// TestBuiltWorkerRidesOutAnOutage is the outage measurement
// (bench/outage.sh; docs/measurements.md): the built worker, with the
// shipped defaults, consumes a queue through a link that is cut for
// WORKER_OUTAGE (for example 10m) while work keeps arriving, then
// restored. It reports how long the worker took to reach the queue again
// and to finish the backlog, how often it retried during the outage, and
// fails if it exited, lost or repeated a file, or took more than a minute
// to resume. Without WORKER_OUTAGE it is skipped: make test runs the
// in-process outage test (TestSurvivesNetworkOutage) instead.
func TestBuiltWorkerRidesOutAnOutage(t *testing.T) {
	outage, err := time.ParseDuration(os.Getenv("WORKER_OUTAGE"))
	if err != nil {
		t.Skip("set WORKER_OUTAGE (for example 10m) to measure an outage: bench/outage.sh")
	}
	f := newFixture(t, 5)
	bin := buildWorker(t)
	link := sqspeer.NewLink(t, f.peer)
	before, during := names(100), make([]string, 100)
	for i := range during {
		during[i] = "late-" + before[i]
	}
	f.files(t, append(before, during...)...)
	cmd := exec.Command(bin)
	// The shipped defaults: only the queue and the folders are set.
	cmd.Env = append(append(os.Environ(), link.Env()...), "SQS_QUEUE_URL="+f.queue, "EFS_SOURCE_FOLDER="+f.src, "EFS_DESTINATION_FOLDER="+f.dst)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	reachable := make(chan time.Time, 1)
	exited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			_, _ = logs.Write(append(sc.Bytes(), '\n'))
			if strings.Contains(sc.Text(), "queue reachable again") {
				select {
				case reachable <- time.Now():
				default:
				}
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM) })

	f.send(t, before...)
	waitFor(t, 2*time.Minute, "the first files processed", func() bool { return len(list(t, f.dst)) == len(before) })
	link.Cut()
	f.send(t, during...) // producers in the region keep sending
	select {
	case err := <-exited:
		t.Fatalf("the worker exited during the outage: %v\n%s", err, logs.String())
	case <-time.After(outage):
	}
	failedReceives := strings.Count(logs.String(), "receive failed; backing off")
	link.Restore()
	restored := time.Now()
	var back time.Time
	select {
	case back = <-reachable:
	case err := <-exited:
		t.Fatalf("the worker exited: %v", err)
	case <-time.After(5 * time.Minute):
		t.Fatalf("the worker did not reach the queue within 5 minutes of the link's return\n%s", logs.String())
	}
	waitFor(t, 5*time.Minute, "the backlog processed", func() bool { return len(list(t, f.dst)) == len(before)+len(during) })
	done := time.Now()
	waitFor(t, time.Minute, "the queue empty", func() bool { return len(f.left(t, f.queue)) == 0 })
	processed := map[string]int{}
	for _, name := range list(t, f.dst) {
		processed[name]++
	}
	for _, n := range append(before, during...) {
		if c := processed[n+"_has_been_processed"]; c != 1 {
			t.Errorf("%s processed %d times", n, c)
		}
	}
	select {
	case err := <-exited:
		t.Fatalf("the worker exited: %v", err)
	default:
	}
	resume := back.Sub(restored)
	t.Logf("outage %s: %d failed receives during it (one every %.0f s), reached the queue %.1f s after the link returned, the %d files sent during the outage processed %.1f s after it; nothing lost or repeated, never exited",
		outage, failedReceives, outage.Seconds()/float64(max(failedReceives, 1)), resume.Seconds(), len(during), done.Sub(restored).Seconds())
	if resume > time.Minute {
		t.Errorf("the worker took %s to resume after the link returned: more than a minute", resume)
	}
}
