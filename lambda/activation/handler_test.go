package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// The fake code is distinctive so a leak anywhere is found.
const (
	fakeCode   = "SECRET-CODE-a1b2c3d4e5f6g7h8"
	fakeID     = "1a2b3c4d-0000-4000-8000-123456789abc"
	secondID   = "9f8e7d6c-1111-4111-8111-cba987654321"
	secretArn  = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ActivationCode-AbCdEf"
	roleName   = "EcsWorker-Anywhere-onprem-InstanceRole3CCE2F1D-X"
	throttling = `{"__type":"ThrottlingException","message":"Rate exceeded"}`
)

// reply is one scripted answer of a fake AWS service.
type reply struct {
	status int
	body   string
}

// fakeAWS is a local server speaking the awsJson1_1 protocol of SSM and
// Secrets Manager: requests are recorded by X-Amz-Target, answers are
// scripted per target, and unscripted calls get a sensible success.
type fakeAWS struct {
	t        *testing.T
	mu       sync.Mutex
	script   map[string][]reply
	requests map[string][]map[string]any
	srv      *httptest.Server
}

func newFakeAWS(t *testing.T) *fakeAWS {
	f := &fakeAWS{t: t, script: map[string][]reply{}, requests: map[string][]map[string]any{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAWS) on(target string, replies ...reply) {
	f.script[target] = append(f.script[target], replies...)
}

func (f *fakeAWS) calls(target string) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[target]
}

func (f *fakeAWS) serve(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	f.mu.Lock()
	f.requests[target] = append(f.requests[target], body)
	var rep reply
	if q := f.script[target]; len(q) > 0 {
		rep, f.script[target] = q[0], q[1:]
	} else {
		rep = f.defaultReply(target)
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

func (f *fakeAWS) defaultReply(target string) reply {
	switch target {
	case "AmazonSSM.CreateActivation":
		return reply{200, `{"ActivationId":"` + fakeID + `","ActivationCode":"` + fakeCode + `"}`}
	case "AmazonSSM.DeleteActivation":
		return reply{200, `{}`}
	case "AmazonSSM.DescribeActivations":
		return reply{200, `{"ActivationList":[{"ActivationId":"` + fakeID + `","ExpirationDate":1893456000}]}`}
	case "secretsmanager.PutSecretValue":
		return reply{200, `{"ARN":"` + secretArn + `","VersionId":"v1"}`}
	}
	f.t.Errorf("unexpected call %q", target)
	return reply{400, `{"__type":"UnknownOperationException","message":"unknown"}`}
}

// cfnServer is the pre-signed S3 URL CloudFormation waits on.
type cfnServer struct {
	mu        sync.Mutex
	responses []cfn.Response
	raw       []string
	srv       *httptest.Server
}

func newCfnServer(t *testing.T) *cfnServer {
	c := &cfnServer{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	t.Cleanup(c.srv.Close)
	return c
}

// env is one test's handler wired to local servers with the real SDK clients.
type env struct {
	aws    *fakeAWS
	cfn    *cfnServer
	logs   *bytes.Buffer
	h      *handler
	sleeps []time.Duration
}

func newEnv(t *testing.T) *env {
	e := &env{aws: newFakeAWS(t), cfn: newCfnServer(t), logs: &bytes.Buffer{}}
	cfg := aws.Config{
		Region:      "eu-west-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 4
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		},
	}
	endpoint := aws.String(e.aws.srv.URL)
	s := ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = endpoint })
	sec := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = endpoint })
	e.h = newHandler(s, sec, slog.New(slog.NewJSONHandler(e.logs, nil)))
	e.h.now = func() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) }
	e.h.sleep = func(_ context.Context, d time.Duration) error { e.sleeps = append(e.sleeps, d); return nil }
	t.Cleanup(func() { e.assertNoLeak(t) })
	return e
}

func baseProps() map[string]any {
	return map[string]any{
		"ServiceToken":        "arn:aws:lambda:eu-west-1:123456789012:function:handler",
		"IamRole":             roleName,
		"RegistrationLimit":   "10",
		"ExpiryDays":          "7",
		"DefaultInstanceName": "onprem",
		"Description":         "ECS Anywhere nodes of site onprem",
		"Tags":                []any{map[string]any{"Key": "site", "Value": "onprem"}},
		"SecretArn":           secretArn,
		"Serial":              "1",
	}
}

func (e *env) event(kind cfn.RequestType, physical string, props, old map[string]any) cfn.Event {
	return cfn.Event{
		RequestType: kind, RequestID: "b7f5c3a0-req", ResponseURL: e.cfn.srv.URL,
		LogicalResourceID: "ActivationBE1E1650", StackID: "arn:aws:cloudformation:eu-west-1:123456789012:stack/S/1",
		PhysicalResourceID: physical, ResourceType: "Custom::SsmActivation",
		ResourceProperties: props, OldResourceProperties: old,
	}
}

// run sends the event through the real cfn.LambdaWrap and returns the one
// response CloudFormation received.
func (e *env) run(t *testing.T, ev cfn.Event) cfn.Response {
	t.Helper()
	return e.runCtx(t, context.Background(), ev)
}

func (e *env) runCtx(t *testing.T, ctx context.Context, ev cfn.Event) cfn.Response {
	t.Helper()
	before := len(e.cfn.responses)
	if _, err := cfn.LambdaWrap(e.h.handle)(ctx, ev); err != nil {
		t.Fatalf("Lambda returned an error (Lambda would retry the event): %v", err)
	}
	if got := len(e.cfn.responses) - before; got != 1 {
		t.Fatalf("CloudFormation got %d responses, want exactly 1", got)
	}
	return e.cfn.responses[len(e.cfn.responses)-1]
}

// assertNoLeak: the code reached the secret and nowhere else.
func (e *env) assertNoLeak(t *testing.T) {
	if strings.Contains(e.logs.String(), fakeCode) {
		t.Errorf("the activation code appears in the logs:\n%s", e.logs)
	}
	for _, raw := range e.cfn.raw {
		if strings.Contains(raw, fakeCode) {
			t.Errorf("the activation code appears in a CloudFormation response: %s", raw)
		}
	}
}

func wantStatus(t *testing.T, r cfn.Response, status cfn.StatusType, reason ...string) {
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

func TestCreate(t *testing.T) {
	e := newEnv(t)
	r := e.run(t, e.event(cfn.RequestCreate, "", baseProps(), nil))
	wantStatus(t, r, cfn.StatusSuccess)
	if r.PhysicalResourceID != fakeID {
		t.Errorf("physical id %q, want the activation id", r.PhysicalResourceID)
	}
	want := map[string]any{"ActivationId": fakeID, "ExpirationDate": "2026-11-29T12:00:00Z", "SecretArn": secretArn}
	if jsonOf(r.Data) != jsonOf(want) {
		t.Errorf("data %s, want %s", jsonOf(r.Data), jsonOf(want))
	}
	create := e.aws.calls("AmazonSSM.CreateActivation")
	if len(create) != 1 {
		t.Fatalf("CreateActivation called %d times", len(create))
	}
	c := create[0]
	if c["IamRole"] != roleName || c["RegistrationLimit"] != float64(10) || c["DefaultInstanceName"] != "onprem" ||
		jsonOf(c["Tags"]) != `[{"Key":"site","Value":"onprem"}]` {
		t.Errorf("CreateActivation input %s", jsonOf(c))
	}
	put := e.aws.calls("secretsmanager.PutSecretValue")
	if len(put) != 1 || put[0]["SecretId"] != secretArn || put[0]["SecretString"] != fakeCode {
		t.Errorf("the code must be written into the secret exactly: %s", jsonOf(put))
	}
	if !strings.Contains(e.logs.String(), fakeID) {
		t.Errorf("logs should name the activation id:\n%s", e.logs)
	}
}

func TestCreateAtMaximumExpiryStaysInsideSSMLimit(t *testing.T) {
	e := newEnv(t)
	p := baseProps()
	p["ExpiryDays"] = "30"
	wantStatus(t, e.run(t, e.event(cfn.RequestCreate, "", p, nil)), cfn.StatusSuccess)
	sent := e.aws.calls("AmazonSSM.CreateActivation")[0]["ExpirationDate"].(float64)
	limit := e.h.now().Add(30 * 24 * time.Hour)
	if !time.Unix(int64(sent), 0).Before(limit) {
		t.Errorf("expiration %v is not before SSM's 30-day limit %v", time.Unix(int64(sent), 0).UTC(), limit)
	}
}

func TestUpdateChangedMakesNewActivation(t *testing.T) {
	e := newEnv(t)
	e.aws.on("AmazonSSM.CreateActivation", reply{200, `{"ActivationId":"` + secondID + `","ActivationCode":"` + fakeCode + `"}`})
	p := baseProps()
	p["RegistrationLimit"] = "20"
	r := e.run(t, e.event(cfn.RequestUpdate, fakeID, p, baseProps()))
	wantStatus(t, r, cfn.StatusSuccess)
	if r.PhysicalResourceID != secondID {
		t.Errorf("physical id %q, want the new activation %q (CloudFormation then deletes the old)", r.PhysicalResourceID, secondID)
	}
	if n := len(e.aws.calls("AmazonSSM.DeleteActivation")); n != 0 {
		t.Errorf("update must leave deleting the old activation to CloudFormation, deleted %d", n)
	}
	if n := len(e.aws.calls("secretsmanager.PutSecretValue")); n != 1 {
		t.Errorf("new code written %d times, want 1", n)
	}
}

func TestUpdateSerialMakesNewActivation(t *testing.T) {
	e := newEnv(t)
	e.aws.on("AmazonSSM.CreateActivation", reply{200, `{"ActivationId":"` + secondID + `","ActivationCode":"` + fakeCode + `"}`})
	p := baseProps()
	p["Serial"] = "2"
	if r := e.run(t, e.event(cfn.RequestUpdate, fakeID, p, baseProps())); r.PhysicalResourceID != secondID {
		t.Errorf("a new serial must make a new activation, got %q", r.PhysicalResourceID)
	}
}

func TestUpdateUnchangedKeepsActivation(t *testing.T) {
	e := newEnv(t)
	old := baseProps()
	old["ServiceToken"] = "arn:aws:lambda:eu-west-1:123456789012:function:old"
	r := e.run(t, e.event(cfn.RequestUpdate, fakeID, baseProps(), old))
	wantStatus(t, r, cfn.StatusSuccess)
	if r.PhysicalResourceID != fakeID {
		t.Errorf("physical id %q, want unchanged %q", r.PhysicalResourceID, fakeID)
	}
	if jsonOf(r.Data) != jsonOf(map[string]any{"ActivationId": fakeID, "ExpirationDate": "2030-01-01T00:00:00Z", "SecretArn": secretArn}) {
		t.Errorf("data %s must be the existing activation's", jsonOf(r.Data))
	}
	if n := len(e.aws.calls("AmazonSSM.CreateActivation")); n != 0 {
		t.Errorf("no-op update created %d activations", n)
	}
	if n := len(e.aws.calls("secretsmanager.PutSecretValue")); n != 0 {
		t.Errorf("no-op update wrote the secret %d times", n)
	}
}

func TestUpdateUnchangedButGoneMakesNewActivation(t *testing.T) {
	e := newEnv(t)
	e.aws.on("AmazonSSM.DescribeActivations", reply{200, `{"ActivationList":[]}`})
	e.aws.on("AmazonSSM.CreateActivation", reply{200, `{"ActivationId":"` + secondID + `","ActivationCode":"` + fakeCode + `"}`})
	r := e.run(t, e.event(cfn.RequestUpdate, fakeID, baseProps(), baseProps()))
	wantStatus(t, r, cfn.StatusSuccess)
	if r.PhysicalResourceID != secondID {
		t.Errorf("a vanished activation must be replaced, got %q", r.PhysicalResourceID)
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t)
	r := e.run(t, e.event(cfn.RequestDelete, fakeID, baseProps(), nil))
	wantStatus(t, r, cfn.StatusSuccess)
	del := e.aws.calls("AmazonSSM.DeleteActivation")
	if len(del) != 1 || del[0]["ActivationId"] != fakeID {
		t.Errorf("DeleteActivation calls %s", jsonOf(del))
	}
}

func TestDeleteOfMissingSucceeds(t *testing.T) {
	for _, code := range []string{"InvalidActivation", "InvalidActivationId"} {
		t.Run(code, func(t *testing.T) {
			e := newEnv(t)
			e.aws.on("AmazonSSM.DeleteActivation", reply{400, `{"__type":"` + code + `","Message":"The activation is not valid"}`})
			wantStatus(t, e.run(t, e.event(cfn.RequestDelete, fakeID, baseProps(), nil)), cfn.StatusSuccess)
		})
	}
	t.Run("never created", func(t *testing.T) {
		e := newEnv(t)
		wantStatus(t, e.run(t, e.event(cfn.RequestDelete, "create-failed-b7f5c3a0-req", baseProps(), nil)), cfn.StatusSuccess)
		if n := len(e.aws.calls("AmazonSSM.DeleteActivation")); n != 0 {
			t.Errorf("a physical id that is not an activation must not be deleted, %d calls", n)
		}
	})
}

func TestThrottlingThenSuccess(t *testing.T) {
	e := newEnv(t)
	e.aws.on("AmazonSSM.CreateActivation", reply{400, throttling}, reply{400, throttling})
	e.aws.on("secretsmanager.PutSecretValue", reply{400, throttling})
	wantStatus(t, e.run(t, e.event(cfn.RequestCreate, "", baseProps(), nil)), cfn.StatusSuccess)
	if n := len(e.aws.calls("AmazonSSM.CreateActivation")); n != 3 {
		t.Errorf("CreateActivation called %d times, want 2 throttled + 1", n)
	}
}

func TestThrottledTooLongFails(t *testing.T) {
	e := newEnv(t)
	for range 4 {
		e.aws.on("AmazonSSM.DeleteActivation", reply{400, throttling})
	}
	wantStatus(t, e.run(t, e.event(cfn.RequestDelete, fakeID, baseProps(), nil)), cfn.StatusFailed, "throttled", "deploy again later")
}

func TestAccessDeniedFailsAtOnce(t *testing.T) {
	e := newEnv(t)
	e.aws.on("AmazonSSM.CreateActivation", reply{400, `{"__type":"AccessDeniedException","Message":"not authorized to perform: ssm:CreateActivation"}`})
	r := e.run(t, e.event(cfn.RequestCreate, "", baseProps(), nil))
	wantStatus(t, r, cfn.StatusFailed, "access denied", "ssm:CreateActivation", "permissions boundary")
	if n := len(e.aws.calls("AmazonSSM.CreateActivation")); n != 1 {
		t.Errorf("access denied must not be retried, %d calls", n)
	}
	if strings.HasPrefix(r.PhysicalResourceID, "1a2b") || r.PhysicalResourceID == "" {
		t.Errorf("failed create physical id %q must not look like an activation", r.PhysicalResourceID)
	}
}

func TestRolePropagationRetriedThenSuccess(t *testing.T) {
	e := newEnv(t)
	notYet := reply{400, `{"__type":"ValidationException","Message":"Nonexistent role or missing ssm service principal in trust policy: arn:aws:iam::123456789012:role/` + roleName + `"}`}
	e.aws.on("AmazonSSM.CreateActivation", notYet, notYet, notYet)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	wantStatus(t, e.runCtx(t, ctx, e.event(cfn.RequestCreate, "", baseProps(), nil)), cfn.StatusSuccess)
	if got := jsonOf(e.sleeps); got != jsonOf([]time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second}) {
		t.Errorf("backoff waits %s, want 2s, 4s, 8s", got)
	}
}

func TestRolePropagationGivesUpBeforeDeadline(t *testing.T) {
	e := newEnv(t)
	notYet := reply{400, `{"__type":"ValidationException","Message":"Nonexistent role or missing ssm service principal in trust policy"}`}
	for range 20 {
		e.aws.on("AmazonSSM.CreateActivation", notYet)
	}
	real := time.Now()
	e.h.now = time.Now
	ctx, cancel := context.WithDeadline(context.Background(), real.Add(e.h.margin+3*time.Second))
	defer cancel()
	r := e.runCtx(t, ctx, e.event(cfn.RequestCreate, "", baseProps(), nil))
	wantStatus(t, r, cfn.StatusFailed, "still cannot use role", "trusts ssm.amazonaws.com")
}

func TestPanicStillAnswers(t *testing.T) {
	e := newEnv(t)
	e.h.ssm = panicky{}
	r := e.run(t, e.event(cfn.RequestCreate, "", baseProps(), nil))
	wantStatus(t, r, cfn.StatusFailed, "internal error")
}

type panicky struct{ ssmAPI }

func (panicky) CreateActivation(context.Context, *ssm.CreateActivationInput, ...func(*ssm.Options)) (*ssm.CreateActivationOutput, error) {
	panic("boom")
}

func TestSecretWriteFailureRollsBackActivation(t *testing.T) {
	e := newEnv(t)
	e.aws.on("secretsmanager.PutSecretValue", reply{400, `{"__type":"AccessDeniedException","Message":"not authorized to perform: secretsmanager:PutSecretValue"}`})
	r := e.run(t, e.event(cfn.RequestCreate, "", baseProps(), nil))
	wantStatus(t, r, cfn.StatusFailed, "write the activation code into secret", "access denied")
	del := e.aws.calls("AmazonSSM.DeleteActivation")
	if len(del) != 1 || del[0]["ActivationId"] != fakeID {
		t.Errorf("the activation without a stored code must be deleted, calls %s", jsonOf(del))
	}
}

func TestInvalidProperties(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  map[string]any
		want []string
	}{
		{"limit zero", map[string]any{"RegistrationLimit": "0"}, []string{"RegistrationLimit is 0", "from 1 to 1000"}},
		{"limit text", map[string]any{"RegistrationLimit": "ten"}, []string{"RegistrationLimit is ten"}},
		{"expiry", map[string]any{"ExpiryDays": "31"}, []string{"ExpiryDays is 31", "from 1 to 30"}},
		{"no role", map[string]any{"IamRole": nil}, []string{"IamRole is missing"}},
		{"no secret", map[string]any{"SecretArn": "code"}, []string{`SecretArn is "code"`}},
		{"tags", map[string]any{"Tags": "site=onprem"}, []string{"Tags is site=onprem"}},
		{"several", map[string]any{"ExpiryDays": "0", "RegistrationLimit": "5000"}, []string{"ExpiryDays is 0", "RegistrationLimit is 5000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			p := baseProps()
			for k, v := range tc.set {
				p[k] = v
			}
			wantStatus(t, e.run(t, e.event(cfn.RequestCreate, "", p, nil)), cfn.StatusFailed, tc.want...)
			if n := len(e.aws.calls("AmazonSSM.CreateActivation")); n != 0 {
				t.Errorf("invalid properties reached SSM (%d calls)", n)
			}
		})
	}
}

func TestNumbersAcceptedAsJSONNumbers(t *testing.T) {
	p := baseProps()
	p["RegistrationLimit"], p["ExpiryDays"] = float64(3), float64(2)
	got, err := parseProps(p)
	if err != nil || got.RegistrationLimit != 3 || got.ExpiryDays != 2 {
		t.Errorf("parseProps = %+v, %v", got, err)
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
