// Package sqspeer starts a real SQS peer written by others, fauxqs, on
// 127.0.0.1 for tests and benchmarks, and installs it when it is missing.
package sqspeer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
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

// Peer is a running SQS peer on 127.0.0.1: fauxqs (fast) or moto_server
// (strict: real receipt handles, redrive checks).
type Peer struct {
	name string
	port int
	// command starts the peer on a port the kernel picks (port 0), so no
	// other test can take the port between choosing and binding it; ready
	// reads the port the peer reports once it serves.
	command func() *exec.Cmd
	ready   func(stdout, stderr io.Reader) (port int, err error)
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
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

// StartFauxqs starts fauxqs and stops it when the test ends.
func StartFauxqs(t testing.TB) *Peer {
	t.Helper()
	if err := install(t); err != nil {
		unavailable(t, "%v", err)
	}
	r := root()
	node := filepath.Join(r, "node_modules", ".bin", "node")
	_, self, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(self), "fauxqs.mjs")
	if _, err := os.Stat(node); err != nil {
		unavailable(t, "Node 24 is not installed at %s (run make tools): %v", node, err)
	}
	return launch(t, &Peer{
		name:    "fauxqs",
		command: func() *exec.Cmd { return exec.Command(node, script, "0") },
		ready: func(stdout, stderr io.Reader) (int, error) {
			go func() { _, _ = io.Copy(os.Stderr, stderr) }()
			sc := bufio.NewScanner(stdout)
			if !sc.Scan() {
				return 0, errors.New("fauxqs exited before it was ready")
			}
			port, ok := strings.CutPrefix(sc.Text(), "ready ")
			n, err := strconv.Atoi(port)
			if !ok || err != nil {
				return 0, fmt.Errorf("fauxqs said %q, want \"ready <port>\"", sc.Text())
			}
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return n, nil
		},
	})
}

// StartMoto starts moto_server (it ships with the machine image's Python
// tools) and stops it when the test ends.
func StartMoto(t testing.TB) *Peer {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		unavailable(t, "moto_server is not on PATH (pip install 'moto[server]'): %v", err)
	}
	return launch(t, moto(bin))
}

// StartSharedMoto starts one moto_server for a whole test binary, from
// TestMain, for tests that cannot run in parallel (they set environment
// variables) and would otherwise start one each: each test uses names of
// its own. Stop it after m.Run. Under CI a missing moto_server is an error
// the caller must fail on; elsewhere the caller may skip.
func StartSharedMoto() (*Peer, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, fmt.Errorf("moto_server is not on PATH (pip install 'moto[server]'): %w", err)
	}
	p := moto(bin)
	if err := p.start(); err != nil {
		return nil, err
	}
	return p, nil
}

func moto(bin string) *Peer {
	return &Peer{
		name:    "moto_server",
		command: func() *exec.Cmd { return exec.Command(bin, "-H", "127.0.0.1", "-p", "0") },
		// Werkzeug says where it listens on stderr: " * Running on http://127.0.0.1:PORT".
		ready: func(stdout, stderr io.Reader) (int, error) {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				if m := motoListening.FindStringSubmatch(sc.Text()); m != nil {
					go func() { _, _ = io.Copy(os.Stderr, stderr) }()
					return strconv.Atoi(m[1])
				}
			}
			return 0, errors.New("moto_server exited before it said where it listens")
		},
	}
}

var motoListening = regexp.MustCompile(`Running on http://127\.0\.0\.1:([0-9]+)`)

func launch(t testing.TB, p *Peer) *Peer {
	t.Helper()
	if err := p.start(); err != nil {
		unavailable(t, "%s: %v", p.name, err)
	}
	t.Cleanup(p.Stop)
	return p
}

// URL is the peer's endpoint, for AWS_ENDPOINT_URL_SQS or BaseEndpoint.
func (p *Peer) URL() string { return fmt.Sprintf("http://127.0.0.1:%d", p.port) }

func (p *Peer) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd := p.command()
	// Our own pipes: cmd.Wait (run at once, to notice an early exit) would
	// close exec's pipes under a reader.
	outR, outW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("%s stdout: %w", p.name, err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("%s stderr: %w", p.name, err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	type answer struct {
		port int
		err  error
	}
	ready := make(chan answer, 1)
	go func() { port, err := p.ready(outR, errR); ready <- answer{port, err} }()
	select {
	case a := <-ready:
		if a.err != nil {
			_ = cmd.Process.Kill()
			<-exited
			return a.err
		}
		p.cmd, p.exited, p.port = cmd, exited, a.port
		return nil
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("%s not ready within 30 s", p.name)
	}
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

// Config is an aws-sdk-go-v2 configuration for any service the peer speaks
// (moto_server: CloudFormation, ECS, Secrets Manager, ...), with test
// credentials.
func (p *Peer) Config() aws.Config {
	return aws.Config{
		Region:       Region,
		BaseEndpoint: aws.String(p.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	}
}

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
