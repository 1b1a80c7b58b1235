package main

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ecs-anywhere-stretched/stretched/constructs/workerspec/contract"
)

var regionRe = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$`)

// config is the worker's configuration, read from the environment.
type config struct {
	QueueURL          string
	SourceDir         string
	DestinationDir    string
	Region            string
	Concurrency       int
	Receivers         int
	WaitTime          time.Duration
	VisibilityTimeout time.Duration
	RetryDelay        time.Duration
	ShutdownGrace     time.Duration
	DeleteBatchDelay  time.Duration
}

// tuning describes one optional variable: its default and range.
type tuning struct {
	name     string
	def, min int
	max      int
	unit     time.Duration // 0 for a plain count
}

var (
	tConcurrency = tuning{"WORKER_CONCURRENCY", 16, 1, 256, 0}
	tReceivers   = tuning{"WORKER_RECEIVERS", 4, 1, 16, 0}
	tWait        = tuning{"WORKER_WAIT_TIME_SECONDS", 20, 0, 20, time.Second}
	tVisibility  = tuning{"WORKER_VISIBILITY_TIMEOUT_SECONDS", 60, 5, 43200, time.Second}
	tRetry       = tuning{"WORKER_RETRY_DELAY_SECONDS", 10, 0, 43200, time.Second}
	tGrace       = tuning{"WORKER_SHUTDOWN_GRACE_SECONDS", 20, 1, 110, time.Second}
	tBatchDelay  = tuning{"WORKER_DELETE_BATCH_DELAY_MS", 20, 0, 1000, time.Millisecond}
	// tStop is the task's stopTimeout (the task definitions set it): ECS
	// kills the worker that long after SIGTERM. 0 (unset) = not known.
	tStop = tuning{contract.StopTimeout, 0, 2, 120, time.Second}
)

// stopMargin is what the shutdown grace leaves of ECS's stop timeout.
const stopMargin = 2 * time.Second

// loadConfig reads the configuration; the error names every bad variable.
func loadConfig(getenv func(string) string) (config, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	required := func(name, hint string) string {
		v := getenv(name)
		if v == "" {
			bad("%s is not set: %s", name, hint)
		}
		return v
	}
	dir := func(name, example string) string {
		v := required(name, "set it to an absolute folder, such as "+example)
		if v != "" && !filepath.IsAbs(v) {
			bad("%s is %q: must be an absolute folder, such as %s", name, v, example)
		}
		return filepath.Clean(v)
	}
	num := func(t tuning) int {
		v := getenv(t.name)
		if v == "" {
			return t.def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < t.min || n > t.max {
			bad("%s is %q: must be a whole number from %d to %d (default %d)", t.name, v, t.min, t.max, t.def)
			return t.def
		}
		return n
	}
	dur := func(t tuning) time.Duration { return time.Duration(num(t)) * t.unit }

	c := config{
		QueueURL:          required(contract.QueueURL, "set it to the work queue's URL (the regional stack's QueueUrl output)"),
		SourceDir:         dir(contract.SourceFolder, "/data/sourcefolder/"),
		DestinationDir:    dir(contract.DestinationFolder, "/data/destinationfolder/"),
		Region:            strings.TrimSpace(required(contract.Region, "set it to the queue's region, such as eu-west-1")),
		Concurrency:       num(tConcurrency),
		Receivers:         num(tReceivers),
		WaitTime:          dur(tWait),
		VisibilityTimeout: dur(tVisibility),
		RetryDelay:        dur(tRetry),
		ShutdownGrace:     dur(tGrace),
		DeleteBatchDelay:  dur(tBatchDelay),
	}
	if c.QueueURL != "" {
		if u, err := url.Parse(c.QueueURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("SQS_QUEUE_URL is %q: must be a queue URL such as https://sqs.eu-west-1.amazonaws.com/123456789012/queue", c.QueueURL)
		}
	}
	if r := getenv(contract.Region); r != "" && !regionRe.MatchString(r) {
		bad("AWS_REGION is %q: must be a region name such as eu-west-1", r)
	}
	if stop := dur(tStop); stop > 0 && c.ShutdownGrace > stop-stopMargin {
		bad("%s is %d: must be at most %d, %s of %s %d (the task's stopTimeout: ECS kills the worker then, in the middle of its shutdown); lower the grace or raise the stopTimeout",
			tGrace.name, c.ShutdownGrace/time.Second, max((stop-stopMargin)/time.Second, 1), stopMargin, tStop.name, stop/time.Second)
	}
	if getenv(contract.SourceFolder) != "" && getenv(contract.DestinationFolder) != "" && within(c.DestinationDir, c.SourceDir) {
		bad("EFS_DESTINATION_FOLDER %q is EFS_SOURCE_FOLDER %q or inside it: use a folder beside it, such as /data/destinationfolder/", c.DestinationDir, c.SourceDir)
	}
	return c, errors.Join(errs...)
}
