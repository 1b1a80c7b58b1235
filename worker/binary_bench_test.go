package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ecs-anywhere-stretched/stretched/testkit/sqspeer"
)

// BenchmarkShippedBinary measures what users run: the worker binary built
// with `go build`, no tuning variable set, its JSON logs written to a file,
// on BENCH_MESSAGES messages and files (default 20000), timed from process
// start to the last successful delete, side by side with the plainest
// sequential loop (receive 10, delete them in one batch) on the same fauxqs
// peer in the same run. Both reach the peer through one HTTP proxy that
// counts deletes and adds BENCH_RTT_MS of round trip to every call (default
// 0), as a far site sees. It repeats BENCH_RUNS times (default 3) and
// reports the minimum, median and maximum ratio worker/plain.
//
//	BENCH_RTT_MS=20 go test ./worker -run '^$' -bench ShippedBinary -benchtime 1x
func BenchmarkShippedBinary(b *testing.B) {
	n, runs := envInt("BENCH_MESSAGES", 20000), envInt("BENCH_RUNS", 3)
	rtt := time.Duration(envInt("BENCH_RTT_MS", 0)) * time.Millisecond
	bin := filepath.Join(b.TempDir(), "worker")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	peer := sqspeer.StartFauxqs(b)
	proxy := newCountingProxy(b, peer.URL(), rtt)
	c := sqspeer.Client(proxy.srv.URL)
	var plainRates, workerRates, ratios []float64
	for b.Loop() {
		for r := range runs {
			ctx := context.Background()
			q1, _, err := peer.Queue(ctx, fmt.Sprintf("plain-%d-%d", r, time.Now().UnixNano()), 0)
			if err != nil {
				b.Fatal(err)
			}
			fill(b, peer.Client(), q1, n)
			start := time.Now()
			plainLoop(b, c, q1, n)
			plain := float64(n) / time.Since(start).Seconds()

			q2, _, err := peer.Queue(ctx, fmt.Sprintf("worker-%d-%d", r, time.Now().UnixNano()), 0)
			if err != nil {
				b.Fatal(err)
			}
			top := b.TempDir()
			src, dst := filepath.Join(top, "sourcefolder"), filepath.Join(top, "destinationfolder")
			if err := os.MkdirAll(src, 0o755); err != nil {
				b.Fatal(err)
			}
			for i := range n {
				if err := os.WriteFile(filepath.Join(src, strconv.Itoa(i)), []byte("x"), 0o644); err != nil {
					b.Fatal(err)
				}
			}
			fill(b, peer.Client(), q2, n)
			work := runBinary(b, bin, proxy, q2, src, dst, filepath.Join(top, "worker.log"), n)
			plainRates, workerRates, ratios = append(plainRates, plain), append(workerRates, work), append(ratios, work/plain)
			b.Logf("run %d: plain %.0f msgs/s, worker %.0f msgs/s, %.2fx", r+1, plain, work, work/plain)
		}
	}
	report := func(name string, v []float64) {
		s := slices.Sorted(slices.Values(v))
		b.ReportMetric(s[0], name+"-min")
		b.ReportMetric(s[len(s)/2], name+"-median")
		b.ReportMetric(s[len(s)-1], name+"-max")
	}
	report("plain-msgs/s", plainRates)
	report("worker-msgs/s", workerRates)
	report("worker/plain", ratios)
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n >= 0 {
		return n
	}
	return def
}

// runBinary starts the worker binary with the shipped defaults and returns
// its rate: n messages from process start to the n-th delete.
func runBinary(b *testing.B, bin string, proxy *countingProxy, queue, src, dst, logFile string, n int) float64 {
	out, err := os.Create(logFile)
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"SQS_QUEUE_URL=" + queue, "EFS_SOURCE_FOLDER=" + src, "EFS_DESTINATION_FOLDER=" + dst, "AWS_REGION=" + sqspeer.Region,
		"AWS_ENDPOINT_URL_SQS=" + proxy.srv.URL, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_EC2_METADATA_DISABLED=true"}
	// BENCH_WORKER_ENV (space-separated NAME=value) tries tunings; the
	// figures the README reports leave it empty.
	cmd.Env = append(cmd.Env, strings.Fields(os.Getenv("BENCH_WORKER_ENV"))...)
	cmd.Stdout, cmd.Stderr = out, out
	base := proxy.deleted.Load()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	deadline := start.Add(10 * time.Minute)
	for proxy.deleted.Load()-base < int64(n) {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			b.Fatalf("worker deleted %d of %d in 10 minutes", proxy.deleted.Load()-base, n)
		}
		time.Sleep(time.Millisecond)
	}
	took := time.Since(start)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	return float64(n) / took.Seconds()
}

// countingProxy forwards to the peer after a round-trip delay and counts
// the messages DeleteMessageBatch deleted.
type countingProxy struct {
	srv     *httptest.Server
	deleted atomic.Int64
}

func newCountingProxy(b *testing.B, target string, rtt time.Duration) *countingProxy {
	u, err := url.Parse(target)
	if err != nil {
		b.Fatal(err)
	}
	p := &countingProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256}
	rp.ModifyResponse = func(r *http.Response) error {
		if r.Request.Header.Get("X-Amz-Target") != "AmazonSQS.DeleteMessageBatch" || r.StatusCode != http.StatusOK {
			return nil
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var out struct{ Successful []json.RawMessage }
		if json.Unmarshal(body, &out) == nil {
			p.deleted.Add(int64(len(out.Successful)))
		}
		return nil
	}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rtt > 0 {
			time.Sleep(rtt)
		}
		rp.ServeHTTP(w, r)
	}))
	b.Cleanup(p.srv.Close)
	return p
}
