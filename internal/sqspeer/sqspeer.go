// Package sqspeer starts a real SQS peer written by others, fauxqs, on
// 127.0.0.1 for tests and benchmarks, and installs it when it is missing.
package sqspeer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Region the peer and its clients use.
const Region = "us-east-1"

// Peer is a running fauxqs on 127.0.0.1.
type Peer struct {
	t      testing.TB
	node   string
	script string
	port   int
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// unavailable fails under CI, which must run every test, and skips elsewhere.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("cannot start the SQS peer: %s", msg)
	}
	t.Skipf("cannot start the SQS peer: %s", msg)
}

var installOnce sync.Once

// root is the repository root, where package.json pins fauxqs and Node 24.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// install runs `npm ci` when the pinned tools are missing.
func install(t testing.TB) error {
	var err error
	installOnce.Do(func() {
		r := root()
		if _, statErr := os.Stat(filepath.Join(r, "node_modules", "fauxqs", "package.json")); statErr == nil {
			return
		}
		t.Logf("installing the pinned fauxqs and Node with npm ci")
		cmd := exec.Command("npm", "ci", "--omit=peer", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = r
		if out, e := cmd.CombinedOutput(); e != nil {
			err = fmt.Errorf("npm ci: %v\n%s", e, out)
		}
	})
	return err
}

// StartFauxqs starts a peer and stops it when the test ends.
func StartFauxqs(t testing.TB) *Peer {
	t.Helper()
	if err := install(t); err != nil {
		unavailable(t, "%v", err)
	}
	r := root()
	p := &Peer{
		t:      t,
		node:   filepath.Join(r, "node_modules", ".bin", "node"),
		script: filepath.Join(r, "internal", "sqspeer", "fauxqs.mjs"),
	}
	if _, err := os.Stat(p.node); err != nil {
		unavailable(t, "Node 24 is not installed at %s (run make tools): %v", p.node, err)
	}
	port, err := freePort()
	if err != nil {
		unavailable(t, "no free port on 127.0.0.1: %v", err)
	}
	p.port = port
	if err := p.start(); err != nil {
		unavailable(t, "%v", err)
	}
	t.Cleanup(p.Stop)
	return p
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// URL is the peer's endpoint, for AWS_ENDPOINT_URL_SQS or BaseEndpoint.
func (p *Peer) URL() string { return fmt.Sprintf("http://127.0.0.1:%d", p.port) }

func (p *Peer) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var lastErr error
	// The port may still be held briefly after a stop.
	for attempt := 0; attempt < 50; attempt++ {
		cmd := exec.Command(p.node, p.script, fmt.Sprint(p.port))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return fmt.Errorf("fauxqs stdout: %w", err)
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start %s: %w", p.node, err)
		}
		ready := make(chan error, 1)
		go func() {
			sc := bufio.NewScanner(out)
			if sc.Scan() && strings.HasPrefix(sc.Text(), "ready ") {
				ready <- nil
				for sc.Scan() {
				}
				return
			}
			ready <- errors.New("fauxqs exited before it was ready")
		}()
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		select {
		case err = <-ready:
		case <-time.After(20 * time.Second):
			err = errors.New("fauxqs not ready within 20 s")
		}
		if err == nil {
			p.cmd, p.exited = cmd, exited
			return nil
		}
		_ = cmd.Process.Kill()
		<-exited
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	return lastErr
}

// Stop ends the peer (SIGTERM, then SIGKILL).
func (p *Peer) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	p.cmd = nil
}

// Client is an SQS client of the peer through the real aws-sdk-go-v2.
func (p *Peer) Client() *sqs.Client { return Client(p.URL()) }

// Client is an SQS client of the endpoint url through the real aws-sdk-go-v2.
func Client(url string) *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       Region,
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

// Env is the environment a worker process needs to reach the peer.
func (p *Peer) Env() []string { return endpointEnv(p.URL()) }

func endpointEnv(url string) []string {
	return []string{
		"AWS_ENDPOINT_URL_SQS=" + url,
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_REGION=" + Region,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// Queue creates a work queue and, when maxReceives > 0, a dead-letter queue
// it redrives to; it returns their URLs.
func (p *Peer) Queue(ctx context.Context, name string, maxReceives int) (queueURL, dlqURL string, err error) {
	c := p.Client()
	attrs := map[string]string{}
	if maxReceives > 0 {
		d, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq")})
		if err != nil {
			return "", "", fmt.Errorf("create dead-letter queue: %w", err)
		}
		dlqURL = aws.ToString(d.QueueUrl)
		a, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: d.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
		if err != nil {
			return "", "", fmt.Errorf("dead-letter queue arn: %w", err)
		}
		attrs["RedrivePolicy"] = fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"%d"}`, a.Attributes["QueueArn"], maxReceives)
	}
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return "", "", fmt.Errorf("create queue: %w", err)
	}
	return aws.ToString(q.QueueUrl), dlqURL, nil
}
