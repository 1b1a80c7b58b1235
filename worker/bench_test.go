package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/ecs-anywhere-stretched/stretched/testkit/sqspeer"
)

// benchMessages is how many messages (and files) each side handles per run.
const benchMessages = 2000

// BenchmarkThroughput is a profiling aid, not the figure users get: it runs
// the worker in-process with tuned settings (concurrency 32, 4 receivers,
// 5 ms delete delay) and its logs discarded, against the plain loop, so
// `go test -cpuprofile` sees the worker's own code. What users run is
// measured by BenchmarkShippedBinary (bench/worker-binary.sh).
//
//	go test ./worker -run '^$' -bench Throughput -benchtime 1x -count 3
func BenchmarkThroughput(b *testing.B) {
	ctx := context.Background()
	p := sqspeer.StartFauxqs(b)
	c := p.Client()
	var plain, work float64
	for i := 0; b.Loop(); i++ {
		q1, _, err := p.Queue(ctx, fmt.Sprintf("plain-%d", i), 0)
		if err != nil {
			b.Fatal(err)
		}
		fill(b, c, q1, benchMessages)
		start := time.Now()
		plainLoop(b, c, q1, benchMessages)
		plain += benchMessages / time.Since(start).Seconds()

		q2, _, err := p.Queue(ctx, fmt.Sprintf("worker-%d", i), 0)
		if err != nil {
			b.Fatal(err)
		}
		top := b.TempDir()
		cfg := config{QueueURL: q2, SourceDir: filepath.Join(top, "src"), DestinationDir: filepath.Join(top, "dst"), Region: sqspeer.Region,
			Concurrency: 32, Receivers: 4, WaitTime: time.Second, VisibilityTimeout: 60 * time.Second, RetryDelay: time.Second,
			ShutdownGrace: 5 * time.Second, DeleteBatchDelay: 5 * time.Millisecond}
		if err := os.MkdirAll(cfg.SourceDir, 0o755); err != nil {
			b.Fatal(err)
		}
		for n := range benchMessages {
			if err := os.WriteFile(filepath.Join(cfg.SourceDir, fmt.Sprint(n)), []byte("x"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		fill(b, c, q2, benchMessages)
		start = time.Now()
		runUntilMoved(b, cfg, c, benchMessages)
		work += benchMessages / time.Since(start).Seconds()
	}
	plain /= float64(b.N)
	work /= float64(b.N)
	b.ReportMetric(plain, "plain-msgs/s")
	b.ReportMetric(work, "worker-msgs/s")
	b.ReportMetric(work/plain, "worker/plain")
}

// fill sends n messages whose bodies are 0..n-1, ten per call, eight calls at once.
func fill(b *testing.B, c *sqs.Client, q string, n int) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for start := 0; start < n; start += 10 {
		wg.Add(1)
		sem <- struct{}{}
		go func(start int) {
			defer wg.Done()
			defer func() { <-sem }()
			var entries []types.SendMessageBatchRequestEntry
			for i := start; i < min(start+10, n); i++ {
				entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), MessageBody: aws.String(fmt.Sprint(i))})
			}
			if _, err := c.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(q), Entries: entries}); err != nil {
				b.Error(err)
			}
		}(start)
	}
	wg.Wait()
}

// plainLoop is the baseline: one receiver, ten at a time, batch delete.
func plainLoop(b *testing.B, c *sqs.Client, q string, n int) {
	ctx := context.Background()
	for done := 0; done < n; {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			b.Fatal(err)
		}
		if len(out.Messages) == 0 {
			continue
		}
		entries := make([]types.DeleteMessageBatchRequestEntry, len(out.Messages))
		for i, m := range out.Messages {
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), ReceiptHandle: m.ReceiptHandle}
		}
		if _, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(q), Entries: entries}); err != nil {
			b.Fatal(err)
		}
		done += len(out.Messages)
	}
}

// countingHandler counts "message deleted" log records to know when the
// worker is done, while formatting every record as JSON like in production.
type countingHandler struct {
	slog.Handler
	deleted chan struct{}
}

func (h countingHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "message deleted" {
		h.deleted <- struct{}{}
	}
	return h.Handler.Handle(ctx, r)
}

func (h countingHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return countingHandler{h.Handler.WithAttrs(a), h.deleted}
}

func runUntilMoved(b *testing.B, cfg config, c *sqs.Client, n int) {
	deleted := make(chan struct{}, n)
	log := slog.New(countingHandler{slog.NewJSONHandler(io.Discard, nil), deleted})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- newWorker(cfg, c, log).run(ctx) }()
	timeout := time.After(5 * time.Minute)
	for range n {
		select {
		case <-deleted:
		case <-timeout:
			b.Fatal("worker did not finish within 5 minutes")
		}
	}
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
