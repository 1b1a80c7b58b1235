package main

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// sqsAPI is what the worker calls of SQS; *sqs.Client satisfies it.
type sqsAPI interface {
	ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(context.Context, *sqs.DeleteMessageBatchInput, ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibility(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// worker consumes the queue: several long-polling receivers feed a bounded
// number of concurrent file moves, and one deleter acknowledges in batches.
type worker struct {
	cfg   config
	sqs   sqsAPI
	mover *mover
	log   *slog.Logger
	// slots bounds the messages received and not yet moved: a receiver asks
	// SQS only for as many messages as there are free slots. There are
	// Concurrency of them plus ten per receiver, so every receiver can have a
	// full receive in flight while Concurrency files are being moved.
	slots chan struct{}
	// moving bounds the moves at once (Concurrency).
	moving    chan struct{}
	acquiring sync.Mutex
	acks      chan types.Message
	inflight  sync.WaitGroup
	// call bounds every SQS call but ReceiveMessage's long poll.
	callTimeout time.Duration
	// bound is the context every SQS call but the receives runs under:
	// Background until shutdown, then one that ends with the grace period,
	// so the whole shutdown ends in time.
	boundMu sync.Mutex
	bound   context.Context
	// failedReceives counts the receives that failed since the last that
	// succeeded, over every receiver: the queue is back when any receiver
	// reaches it, even one that never saw the outage.
	failedReceives atomic.Int64
	// sweepEvery is how often a running worker clears stale temporary
	// files (sweepInterval; tests shorten it).
	sweepEvery time.Duration
}

func newWorker(cfg config, client sqsAPI, log *slog.Logger) *worker {
	return &worker{
		cfg:         cfg,
		sqs:         client,
		mover:       newMover(cfg.SourceDir, cfg.DestinationDir),
		log:         log,
		slots:       make(chan struct{}, cfg.Concurrency+10*cfg.Receivers),
		moving:      make(chan struct{}, cfg.Concurrency),
		acks:        make(chan types.Message, ackBuffer),
		callTimeout: 10 * time.Second,
		bound:       context.Background(),
		sweepEvery:  sweepInterval,
	}
}

// ackBuffer is how many moved messages may wait for their delete: a move's
// slot is free as soon as the file is moved, so receiving goes on while
// deletes are in flight. It bounds the messages received and not yet
// deleted, far below what a visibility timeout allows.
const ackBuffer = 1024

// Group commit: at most commitGroup messages per sync of the destination
// folder (ten delete calls at once), and at most maxCommits groups being
// synced and deleted at a time, so the next group gathers meanwhile.
const (
	commitGroup = 100
	maxCommits  = 4
)

// boundCtx is the context SQS calls run under (see bound).
func (w *worker) boundCtx() context.Context {
	w.boundMu.Lock()
	defer w.boundMu.Unlock()
	return w.bound
}

// callCtx bounds one SQS call by callTimeout and by the shutdown deadline.
func (w *worker) callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(w.boundCtx(), w.callTimeout)
}

// run works until ctx ends, then stops receiving, lets in-flight messages
// finish for up to the shutdown grace, releases the rest to the queue
// (visibility 0) and flushes the pending deletes.
func (w *worker) run(ctx context.Context) error {
	if err := w.mover.ensureDirs(); err != nil {
		return err
	}
	if err := w.mover.clearStale(w.log); err != nil {
		return err
	}
	w.log.Info("worker started", "queueUrl", w.cfg.QueueURL, "source", w.cfg.SourceDir, "destination", w.cfg.DestinationDir,
		"concurrency", w.cfg.Concurrency, "receivers", w.cfg.Receivers)
	// Work outlives ctx by the grace period.
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	acked := make(chan struct{})
	go func() { w.deleter(); close(acked) }()

	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	swept := make(chan struct{})
	go func() { w.sweep(sweepCtx); close(swept) }()

	var receivers sync.WaitGroup
	for range w.cfg.Receivers {
		receivers.Add(1)
		go func() { defer receivers.Done(); w.receive(ctx, work) }()
	}
	receivers.Wait()
	stopSweep()
	<-swept
	w.log.Info("stopping: no new messages; finishing the ones in flight", "grace", w.cfg.ShutdownGrace.String())
	// Everything from here (finishing, releasing, the last deletes) ends
	// with the grace period: ECS kills the task soon after. The SQS calls
	// end a little earlier, so what follows them fits in the grace too.
	end := time.Now().Add(w.cfg.ShutdownGrace)
	deadline, cancel := context.WithDeadline(context.Background(), end.Add(-callMargin(w.cfg.ShutdownGrace)))
	defer cancel()
	w.boundMu.Lock()
	w.bound = deadline
	w.boundMu.Unlock()
	finished := make(chan struct{})
	go func() { w.inflight.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(w.cfg.ShutdownGrace * 3 / 4):
		// A quarter of the grace is kept to release and acknowledge.
		w.log.Warn("grace period nearly over: stopping unfinished moves and releasing their messages to the queue")
		stopWork()
		select {
		case <-finished:
		case <-deadline.Done():
			// A file-system call that ignores the stop (a hung NFS/EFS
			// read or sync): exit anyway, before ECS kills the task. acks
			// stays open, so a move that ends later cannot panic. The
			// stopped copies' temporary files go now: nothing is left in
			// the destination.
			w.mover.removeTemps(w.log)
			w.log.Error("grace period over with moves stuck in the file system: exiting without them; their messages return after the visibility timeout")
			return nil
		}
	}
	close(w.acks)
	select {
	case <-acked:
	case <-time.After(time.Until(end)):
		// The deletes' SQS calls ended with the deadline; only a folder
		// sync stuck in the file system is still running.
		w.log.Error("grace period over with a folder sync stuck in the file system: exiting; those messages are redelivered and acknowledged then")
		return nil
	}
	if deadline.Err() != nil {
		w.log.Warn("grace period over before every delete: those messages are redelivered and acknowledged then")
	}
	w.log.Info("worker stopped")
	return nil
}

// callMargin is how much earlier than the grace the SQS calls of a
// shutdown end: a tenth of the grace, at most half a second.
func callMargin(grace time.Duration) time.Duration { return min(grace/10, 500*time.Millisecond) }

// sweepInterval is how often a running worker clears the temporary files
// that crashed workers left in the destination (see mover.clearStale): a
// crash's .locking- files are cleared within two intervals, and a start
// clears the rest at once.
const sweepInterval = lockingStale

// sweep clears stale temporary files every sweepEvery until ctx ends.
func (w *worker) sweep(ctx context.Context) {
	every(ctx, w.sweepEvery, func() {
		if err := w.mover.clearStale(w.log); err != nil {
			w.log.Warn("could not clear stale temporary files; retrying later", "error", err)
		}
	})
}

// every runs fn every d until ctx ends.
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// receive long-polls for a full set of free slots (see acquire) and
// starts each; errors back off (capped, jittered) and never end the loop.
func (w *worker) receive(ctx, work context.Context) {
	failures := 0
	for {
		n := w.acquire(ctx)
		if n == 0 {
			return
		}
		out, err := w.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(w.cfg.QueueURL),
			MaxNumberOfMessages:         int32(n),
			WaitTimeSeconds:             int32(w.cfg.WaitTime / time.Second),
			VisibilityTimeout:           int32(w.cfg.VisibilityTimeout / time.Second),
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
		})
		if err != nil {
			w.release(n)
			if ctx.Err() != nil {
				return
			}
			failures++
			w.failedReceives.Add(1)
			wait := backoff(failures)
			w.log.Warn("receive failed; backing off and retrying", "error", err, "failures", failures, "wait", wait.String())
			if !sleep(ctx, wait) {
				return
			}
			continue
		}
		failures = 0
		if failed := w.failedReceives.Swap(0); failed > 0 {
			w.log.Info("queue reachable again", "afterFailures", failed)
		}
		w.release(n - len(out.Messages))
		for _, m := range out.Messages {
			w.inflight.Add(1)
			go w.handle(work, m)
		}
	}
}

// acquire takes slots for one receive: it waits for the first, then up to
// fillWait more for a full ten (or the concurrency if lower), since full
// receives are cheapest, but never leaves free slots idle for long when moves
// are slow. One receiver acquires at a time, so receivers never split the
// free slots between them. It returns 0 when ctx ends.
func (w *worker) acquire(ctx context.Context) int {
	want := min(10, cap(w.slots))
	w.acquiring.Lock()
	defer w.acquiring.Unlock()
	select {
	case w.slots <- struct{}{}:
	case <-ctx.Done():
		return 0
	}
	fill := time.NewTimer(fillWait)
	defer fill.Stop()
	n := 1
	for n < want {
		select {
		case w.slots <- struct{}{}:
			n++
		case <-fill.C:
			return n
		case <-ctx.Done():
			return n
		}
	}
	return n
}

// fillWait is how long a receive waits for more free slots after the first.
const fillWait = 50 * time.Millisecond

func (w *worker) release(n int) {
	for range n {
		<-w.slots
	}
}

// handle processes one message: check the name, move the file while keeping
// the message invisible, then queue the delete. A failure leaves the message
// on the queue, visible again after the retry delay, until SQS moves it to
// the dead-letter queue.
func (w *worker) handle(work context.Context, m types.Message) {
	defer w.inflight.Done()
	// The slot is for the move: it is free again before any SQS call.
	var freed bool
	free := func() {
		if !freed {
			freed = true
			w.release(1)
		}
	}
	defer free()
	name := aws.ToString(m.Body)
	nameErr := checkName(name)
	log := w.log.With("file", shown(name, nameErr == nil), "bodyBytes", len(name), "messageId", aws.ToString(m.MessageId), "receiveCount", receiveCount(m))
	log.Info("message received")
	if nameErr != nil {
		free()
		log.Error("refusing message: the body is not a plain file name; it stays on the queue for the dead-letter queue", "error", nameErr)
		w.setVisibility(m, w.cfg.RetryDelay, log)
		return
	}
	if work.Err() != nil {
		free()
		w.setVisibility(m, 0, log)
		return
	}
	hb, cancelHB := context.WithCancel(work)
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); w.heartbeat(hb, m, log) }()
	// stopHB waits for an extension already on its way: landing after a
	// release below, it would hide the message for a whole timeout again.
	stopHB := func() { cancelHB(); <-hbDone }
	var result outcome
	var err error
	select {
	case w.moving <- struct{}{}:
		result, err = w.mover.move(work, name)
		<-w.moving
	case <-work.Done():
		err = work.Err()
	}
	stopHB()
	free()
	if err != nil && work.Err() != nil {
		log.Warn("move stopped by the shutdown; the message is released to the queue", "error", err)
		w.setVisibility(m, 0, log)
		return
	}
	if err != nil {
		msg := "move failed; the message stays on the queue to be retried"
		if errors.Is(err, errConflict) {
			msg = "conflict: a different processed file of that name exists; nothing is overwritten, the message goes on to the dead-letter queue"
		}
		log.Error(msg, "error", err, "retryIn", w.cfg.RetryDelay.String())
		w.setVisibility(m, w.cfg.RetryDelay, log)
		return
	}
	if result == alreadyDone {
		log.Info("already processed (redelivery): acknowledging", "to", w.mover.dst)
	} else {
		log.Info("file moved", "from", w.mover.src, "to", w.mover.dst)
	}
	w.acks <- m
}

func receiveCount(m types.Message) int {
	n, _ := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	return n
}

// heartbeat extends the message's visibility every half timeout while it is
// being worked on.
func (w *worker) heartbeat(ctx context.Context, m types.Message, log *slog.Logger) {
	every(ctx, w.cfg.VisibilityTimeout/2, func() {
		w.setVisibility(m, w.cfg.VisibilityTimeout, log)
		log.Info("still working: visibility extended", "by", w.cfg.VisibilityTimeout.String())
	})
}

func (w *worker) setVisibility(m types.Message, d time.Duration, log *slog.Logger) {
	ctx, cancel := w.callCtx()
	defer cancel()
	if _, err := w.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(w.cfg.QueueURL), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: int32(d / time.Second),
	}); err != nil {
		log.Warn("could not change the message's visibility; it returns after its timeout", "error", err)
	}
}

// deleter acknowledges processed messages. It gathers what finishes within
// DeleteBatchDelay (at most commitGroup), makes those moves durable with one
// sync of the destination folder (group commit), then deletes them in
// batches of ten, concurrently; up to maxCommits groups are committed at
// once while the next one gathers. It ends when acks is closed and every
// commit is done.
func (w *worker) deleter() {
	var commits sync.WaitGroup
	running := make(chan struct{}, maxCommits)
	flush := func(group []types.Message) {
		if len(group) == 0 {
			return
		}
		running <- struct{}{}
		commits.Add(1)
		go func() {
			defer commits.Done()
			defer func() { <-running }()
			w.commit(group)
		}()
	}
	var pending []types.Message
	var timer <-chan time.Time
	for {
		select {
		case m, ok := <-w.acks:
			if !ok {
				flush(pending)
				commits.Wait()
				return
			}
			pending = append(pending, m)
			if len(pending) >= commitGroup || w.cfg.DeleteBatchDelay == 0 {
				flush(pending)
				pending, timer = nil, nil
			} else if timer == nil {
				timer = time.After(w.cfg.DeleteBatchDelay)
			}
		case <-timer:
			flush(pending)
			pending, timer = nil, nil
		}
	}
}

// commit syncs the destination folder once, so every rename of these
// messages is durable, then deletes them ten per call. If the sync fails
// nothing is deleted: the messages come back and are acknowledged then.
func (w *worker) commit(msgs []types.Message) {
	if len(msgs) == 0 {
		return
	}
	// The source folder is synced at the same time, so a crash after the
	// deletes cannot bring a moved file's source name back. The moves are
	// durable without it: its failure is only logged.
	srcSynced := make(chan error, 1)
	go func() { srcSynced <- syncDir(w.mover.src) }()
	err := syncDir(w.mover.dst)
	if srcErr := <-srcSynced; srcErr != nil {
		w.log.Warn("could not sync the source folder; the moved files are safe, a crash may leave their source names behind", "error", srcErr)
	}
	if err != nil {
		w.log.Warn("could not sync the destination folder; not deleting, the messages will be redelivered", "error", err, "messages", len(msgs))
		return
	}
	var wg sync.WaitGroup
	for start := 0; start < len(msgs); start += 10 {
		batch := msgs[start:min(start+10, len(msgs))]
		wg.Add(1)
		go func() { defer wg.Done(); w.deleteBatch(batch) }()
	}
	wg.Wait()
}

// deleteBatch deletes up to ten messages, retrying the call a few times
// while SQS is unreachable; a message whose delete fails comes back and is
// recognised as already processed.
func (w *worker) deleteBatch(batch []types.Message) {
	entries := make([]types.DeleteMessageBatchRequestEntry, len(batch))
	for i, m := range batch {
		entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
	}
	var out *sqs.DeleteMessageBatchOutput
	var err error
	for attempt := 1; attempt <= 5; attempt++ {
		ctx, cancel := w.callCtx()
		out, err = w.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(w.cfg.QueueURL), Entries: entries})
		cancel()
		if err == nil {
			break
		}
		if !sleep(w.boundCtx(), backoff(attempt)) {
			break
		}
	}
	if err != nil {
		w.log.Warn("delete failed; these messages will be redelivered and acknowledged then", "error", err, "messages", len(batch))
		return
	}
	// Only moved messages are deleted: their bodies passed checkName.
	for _, f := range out.Failed {
		i, _ := strconv.Atoi(aws.ToString(f.Id))
		w.log.Warn("delete refused; the message will be redelivered and acknowledged then",
			"file", shown(aws.ToString(batch[i].Body), true), "code", aws.ToString(f.Code), "reason", aws.ToString(f.Message))
	}
	for _, s := range out.Successful {
		i, _ := strconv.Atoi(aws.ToString(s.Id))
		w.log.Info("message deleted", "file", shown(aws.ToString(batch[i].Body), true), "messageId", aws.ToString(batch[i].MessageId))
	}
}

// backoff is capped exponential with equal jitter: between half of and all
// of 200 ms·2^n, at most 20 s (never below half, so retries stay spread out
// and never hammer a queue that is just coming back).
func backoff(failures int) time.Duration {
	ceiling := min(200*time.Millisecond<<min(failures, 10), 20*time.Second)
	return ceiling/2 + rand.N(ceiling/2+1)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
