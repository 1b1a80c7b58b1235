package fakeaws

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
)

// CloudFormation is the pre-signed S3 URL a custom resource answers.
type CloudFormation struct {
	URL       string
	mu        sync.Mutex
	responses []cfn.Response
	raw       []string
}

// NewCloudFormation starts the response endpoint for the test.
func NewCloudFormation(t *testing.T) *CloudFormation {
	c := &CloudFormation{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut {
			t.Errorf("CloudFormation response sent with %s, want PUT", r.Method)
		}
		raw, _ := io.ReadAll(r.Body)
		var resp cfn.Response
		if err := json.Unmarshal(raw, &resp); err != nil {
			t.Errorf("response document is not JSON: %v", err)
		}
		c.mu.Lock()
		c.responses = append(c.responses, resp)
		c.raw = append(c.raw, string(raw))
		c.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

// Raw returns every response document received.
func (c *CloudFormation) Raw() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.raw...)
}

// Run sends ev through the real cfn.LambdaWrap, as Lambda would, and returns
// the one response CloudFormation received.
func (c *CloudFormation) Run(t *testing.T, ctx context.Context, fn cfn.CustomResourceFunction, ev cfn.Event) cfn.Response {
	t.Helper()
	ev.ResponseURL = c.URL
	c.mu.Lock()
	before := len(c.responses)
	c.mu.Unlock()
	if _, err := cfn.LambdaWrap(fn)(ctx, ev); err != nil {
		t.Fatalf("Lambda returned an error (Lambda would retry the event): %v", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if got := len(c.responses) - before; got != 1 {
		t.Fatalf("CloudFormation got %d responses, want exactly 1", got)
	}
	return c.responses[len(c.responses)-1]
}

// WantStatus fails t unless r has status and its reason contains every
// fragment.
func WantStatus(t *testing.T, r cfn.Response, status cfn.StatusType, reason ...string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %s (reason %q), want %s", r.Status, r.Reason, status)
	}
	for _, w := range reason {
		if !strings.Contains(r.Reason, w) {
			t.Errorf("reason %q lacks %q", r.Reason, w)
		}
	}
}
