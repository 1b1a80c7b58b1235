package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ecs-anywhere-stretched/stretched/constructs/activation/contract"
	"github.com/ecs-anywhere-stretched/stretched/testkit/fakeaws"
)

const (
	secretArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ActivationCode-AbCdEf"
	roleName  = "EcsWorker-Anywhere-onprem-InstanceRole3CCE2F1D-X"
	stackTag  = "EcsWorker-Anywhere-onprem"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// env is one test's handler wired to local servers with the real SDK clients.
type env struct {
	aws    *fakeaws.Fake
	cfn    *fakeaws.CloudFormation
	logs   *bytes.Buffer
	h      *Handler
	sleeps []time.Duration
}

func newEnv(t *testing.T) *env {
	e := &env{aws: fakeaws.New(t), cfn: fakeaws.NewCloudFormation(t), logs: &bytes.Buffer{}}
	e.aws.Now = func() time.Time { return now }
	cfg := e.aws.Config()
	m := NewManager(ssm.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg), nil)
	m.Stacks = siteStack(e.aws)
	m.Now = func() time.Time { return now }
	m.Sleep = func(_ context.Context, d time.Duration) error { e.sleeps = append(e.sleeps, d); return nil }
	e.h = &Handler{M: m}
	t.Cleanup(func() { e.assertNoLeak(t) })
	return e
}

// siteStack gives the fake the site's stack (its secret, instance role
// and cluster) and returns the CloudFormation client that reads it.
func siteStack(f *fakeaws.Fake) *cloudformation.Client {
	f.StackResources[stackTag] = []fakeaws.StackResource{
		{Type: "AWS::SecretsManager::Secret", PhysicalID: secretArn},
		{Type: "AWS::IAM::Role", PhysicalID: roleName},
		{Type: "AWS::ECS::Cluster", PhysicalID: "ecsAnywhereCluster"},
	}
	f.StackResources["EcsWorker-Anywhere-lab"] = []fakeaws.StackResource{
		{Type: "AWS::SecretsManager::Secret", PhysicalID: otherSecret},
		{Type: "AWS::IAM::Role", PhysicalID: otherRole},
		{Type: "AWS::ECS::Cluster", PhysicalID: "labCluster"},
	}
	return cloudformation.NewFromConfig(f.Config())
}

// Another site's stack, secret and role.
const (
	otherSecret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ActivationCode-LaBlAb"
	otherRole   = "EcsWorker-Anywhere-lab-InstanceRole3CCE2F1D-Y"
	stackID     = "arn:aws:cloudformation:eu-west-1:123456789012:stack/" + stackTag + "/1"
)

func baseProps() map[string]any {
	return map[string]any{
		"ServiceToken":        "arn:aws:lambda:eu-west-1:123456789012:function:handler",
		"IamRole":             roleName,
		"RegistrationLimit":   "10",
		"ExpiryDays":          "7",
		"DefaultInstanceName": "onprem",
		"Description":         "ECS Anywhere nodes of site onprem",
		"Tags":                []any{map[string]any{"Key": "site", "Value": "onprem"}, map[string]any{"Key": "stretched:stack", "Value": stackTag}},
		"SecretArn":           secretArn,
		"Serial":              "1",
	}
}

func event(kind cfn.RequestType, physical string, props, old map[string]any) cfn.Event {
	return cfn.Event{
		RequestType: kind, RequestID: "b7f5c3a0-req",
		LogicalResourceID: "ActivationBE1E1650", StackID: stackID,
		PhysicalResourceID: physical, ResourceType: "Custom::SsmActivation",
		ResourceProperties: props, OldResourceProperties: old,
	}
}

func (e *env) run(t *testing.T, ev cfn.Event) cfn.Response {
	t.Helper()
	return e.runCtx(t, context.Background(), ev)
}

func (e *env) runCtx(t *testing.T, ctx context.Context, ev cfn.Event) cfn.Response {
	t.Helper()
	log := slog.New(slog.NewJSONHandler(e.logs, nil))
	return e.cfn.Run(t, ctx, e.h.Function(log), ev)
}

// current is the activation the secret records.
func (e *env) current(t *testing.T) contract.Current {
	t.Helper()
	e.aws.Mu.Lock()
	raw := e.aws.Secrets[secretArn]
	e.aws.Mu.Unlock()
	var c contract.Current
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		t.Fatalf("secret value %q is not an activation record: %v", raw, err)
	}
	return c
}

// created makes the site's activation as a deploy does and returns it.
func (e *env) created(t *testing.T) contract.Current {
	t.Helper()
	wantStatus(t, e.run(t, event(cfn.RequestCreate, "", baseProps(), nil)), cfn.StatusSuccess)
	return e.current(t)
}

func (e *env) activations() int {
	e.aws.Mu.Lock()
	defer e.aws.Mu.Unlock()
	return len(e.aws.Activations)
}

func (e *env) exists(id string) bool {
	e.aws.Mu.Lock()
	defer e.aws.Mu.Unlock()
	return e.aws.Activations[id] != nil
}

// assertNoLeak: the code reached the secret and nowhere else.
func (e *env) assertNoLeak(t *testing.T) {
	if strings.Contains(e.logs.String(), "SECRET-CODE-") {
		t.Errorf("an activation code appears in the logs:\n%s", e.logs)
	}
	for _, raw := range e.cfn.Raw() {
		if strings.Contains(raw, "SECRET-CODE-") {
			t.Errorf("an activation code appears in a CloudFormation response: %s", raw)
		}
	}
}

var wantStatus = fakeaws.WantStatus

func TestCreateWritesTheCurrentActivationIntoTheSecret(t *testing.T) {
	e := newEnv(t)
	r := e.run(t, event(cfn.RequestCreate, "", baseProps(), nil))
	wantStatus(t, r, cfn.StatusSuccess)
	if r.PhysicalResourceID != PhysicalID(secretArn) {
		t.Errorf("physical id %q, want the stable %q", r.PhysicalResourceID, PhysicalID(secretArn))
	}
	if jsonOf(r.Data) != jsonOf(map[string]any{"SecretArn": secretArn}) {
		t.Errorf("data %s must hold nothing that a renewal makes stale", jsonOf(r.Data))
	}
	cur := e.current(t)
	a := e.aws.Activations[cur.ActivationID]
	if a == nil || cur.ActivationCode != a.Code || !cur.ExpirationDate.Equal(now.Add(7*24*time.Hour)) {
		t.Fatalf("secret %+v does not record the created activation %+v", cur, a)
	}
	if a.IamRole != roleName || a.Limit != 10 || a.DefaultInstanceName != "onprem" || a.Tags["stretched:stack"] != stackTag || a.Tags["site"] != "onprem" {
		t.Errorf("activation made with %+v", a)
	}
	if !strings.Contains(e.logs.String(), cur.ActivationID) {
		t.Errorf("logs should name the activation id:\n%s", e.logs)
	}
}

// TestCreateOnAnUpgradedSiteTakesOverTheRecordedActivation: the upgrade to
// the fleet-wide functions retains a site's old custom resource and creates
// a new one (a custom resource cannot change its ServiceToken); its Create
// finds the old resource's activation in the site's secret, makes its own
// current and deletes the old one, so no activation is left behind.
func TestCreateOnAnUpgradedSiteTakesOverTheRecordedActivation(t *testing.T) {
	e := newEnv(t)
	first := e.created(t)
	ev := event(cfn.RequestCreate, "", baseProps(), nil)
	ev.LogicalResourceID = "ActivationFleet1D0A5C2E"
	wantStatus(t, e.run(t, ev), cfn.StatusSuccess)
	cur := e.current(t)
	if cur.ActivationID == first.ActivationID || !e.exists(cur.ActivationID) {
		t.Fatalf("the secret must record the new resource's activation, got %+v", cur)
	}
	e.replaced(t, first, cur)
}

func TestCreateAtMaximumExpiryStaysInsideSSMLimit(t *testing.T) {
	e := newEnv(t)
	p := baseProps()
	p["ExpiryDays"] = "30"
	wantStatus(t, e.run(t, event(cfn.RequestCreate, "", p, nil)), cfn.StatusSuccess)
	if exp := e.current(t).ExpirationDate; !exp.Before(now.Add(30 * 24 * time.Hour)) {
		t.Errorf("expiration %v is not before SSM's 30-day limit", exp)
	}
}

func TestUpdateChangedReplacesTheCurrentActivation(t *testing.T) {
	e := newEnv(t)
	first := e.created(t)
	p := baseProps()
	p["RegistrationLimit"] = "20"
	r := e.run(t, event(cfn.RequestUpdate, PhysicalID(secretArn), p, baseProps()))
	wantStatus(t, r, cfn.StatusSuccess)
	if r.PhysicalResourceID != PhysicalID(secretArn) {
		t.Errorf("physical id changed to %q: CloudFormation would then delete the current activation", r.PhysicalResourceID)
	}
	cur := e.current(t)
	if cur.ActivationID == first.ActivationID || e.aws.Activations[cur.ActivationID].Limit != 20 {
		t.Errorf("the secret must record a new activation with limit 20, got %+v", cur)
	}
	e.replaced(t, first, cur)
}

// replaced checks that cur took over from first: first deleted, cur the
// one activation left, and first remembered in the record.
func (e *env) replaced(t *testing.T, first, cur contract.Current) {
	t.Helper()
	if e.exists(first.ActivationID) || e.activations() != 1 {
		t.Errorf("the replaced activation %s must be deleted once %s is current; %d remain", first.ActivationID, cur.ActivationID, e.activations())
	}
	if len(cur.Previous) != 1 || cur.Previous[0] != first.ActivationID {
		t.Errorf("the record must remember the activation it replaced (%s): %v", first.ActivationID, cur.Previous)
	}
}

// TestUpdateRacingARenewalReadsAgain: a renewal wrote the record between
// the update's read and its write; the write is refused, the update's new
// activation deleted, and the update redone on the renewal's record.
func TestUpdateRacingARenewalReadsAgain(t *testing.T) {
	e := newEnv(t)
	first := e.created(t)
	m := e.h.M.WithLog(slog.New(slog.NewJSONHandler(e.logs, nil)))
	s, _ := contract.ParseSettings(baseProps())
	var renewal contract.Current
	e.h.M.Secrets = &RacingSecrets{SecretsAPI: e.h.M.Secrets, Other: func() {
		var err error
		if renewal, err = m.Replace(context.Background(), s, &first); err != nil {
			t.Fatal(err)
		}
	}}
	p := baseProps()
	p["RegistrationLimit"] = "20"
	wantStatus(t, e.run(t, event(cfn.RequestUpdate, PhysicalID(secretArn), p, baseProps())), cfn.StatusSuccess)
	cur := e.current(t)
	if e.aws.Activations[cur.ActivationID] == nil || e.aws.Activations[cur.ActivationID].Limit != 20 || e.activations() != 1 {
		t.Errorf("one activation with the new limit must be left, current %s, %d exist", cur.ActivationID, e.activations())
	}
	if len(cur.Previous) == 0 || cur.Previous[0] != renewal.ActivationID {
		t.Errorf("the update must replace the renewal's activation %s, record %+v", renewal.ActivationID, cur.Previous)
	}
	if !strings.Contains(e.logs.String(), "reading it again") {
		t.Errorf("the retry must be logged: %s", e.logs)
	}
}

func TestUpdateSerialMakesNewActivation(t *testing.T) {
	e := newEnv(t)
	first := e.created(t)
	p := baseProps()
	p["Serial"] = "2"
	wantStatus(t, e.run(t, event(cfn.RequestUpdate, PhysicalID(secretArn), p, baseProps())), cfn.StatusSuccess)
	if e.current(t).ActivationID == first.ActivationID {
		t.Error("a new serial must make a new activation")
	}
}

func TestUpdateUnchangedKeepsActivation(t *testing.T) {
	e := newEnv(t)
	first := e.created(t)
	old := baseProps()
	old["ServiceToken"] = "arn:aws:lambda:eu-west-1:123456789012:function:old"
	wantStatus(t, e.run(t, event(cfn.RequestUpdate, PhysicalID(secretArn), baseProps(), old)), cfn.StatusSuccess)
	if e.current(t).ActivationID != first.ActivationID || len(e.aws.Calls(fakeaws.CreateActivation)) != 1 {
		t.Error("a no-op update must keep the activation")
	}
}

func TestUpdateUnchangedButGoneMakesNewActivation(t *testing.T) {
	e := newEnv(t)
	first := e.created(t)
	delete(e.aws.Activations, first.ActivationID) // deleted by hand
	wantStatus(t, e.run(t, event(cfn.RequestUpdate, PhysicalID(secretArn), baseProps(), baseProps())), cfn.StatusSuccess)
	if cur := e.current(t); cur.ActivationID == first.ActivationID || !e.exists(cur.ActivationID) {
		t.Errorf("a vanished activation must be replaced, secret has %s", cur.ActivationID)
	}
}

func TestDeleteAfterARenewalDeletesTheCurrentActivation(t *testing.T) {
	e := newEnv(t)
	first := e.created(t)
	// The renewer replaced it between two deploys.
	m := e.h.M.WithLog(slog.New(slog.NewJSONHandler(e.logs, nil)))
	s, _ := contract.ParseSettings(baseProps())
	renewed, err := m.Replace(context.Background(), s, &first)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, e.run(t, event(cfn.RequestDelete, PhysicalID(secretArn), baseProps(), nil)), cfn.StatusSuccess)
	if e.exists(renewed.ActivationID) || e.activations() != 0 {
		t.Errorf("delete must remove the current activation %s; %d remain", renewed.ActivationID, e.activations())
	}
}

// TestDeleteAlsoDeletesTheSitesUnrecordedActivations: an activation of the
// site that its record does not name (a renewal that raced a deploy wrote
// over it) goes with the site; another site's stays.
func TestDeleteAlsoDeletesTheSitesUnrecordedActivations(t *testing.T) {
	e := newEnv(t)
	e.aws.PageSize = 2
	cur := e.created(t)
	site := map[string]string{"site": "onprem", "stretched:stack": stackTag}
	leaked := e.aws.AddActivation(fakeaws.Activation{IamRole: roleName, Limit: 10, Expiry: now.Add(48 * time.Hour), Tags: site})
	other := e.aws.AddActivation(fakeaws.Activation{IamRole: roleName, Limit: 10, Expiry: now.Add(48 * time.Hour), Tags: map[string]string{"stretched:stack": "EcsWorker-Anywhere-factory"}})
	otherRole := e.aws.AddActivation(fakeaws.Activation{IamRole: "SomeoneElsesRole", Limit: 10, Expiry: now.Add(48 * time.Hour), Tags: site})
	untagged := e.aws.AddActivation(fakeaws.Activation{IamRole: roleName, Limit: 10, Expiry: now.Add(48 * time.Hour)})
	wantStatus(t, e.run(t, event(cfn.RequestDelete, PhysicalID(secretArn), baseProps(), nil)), cfn.StatusSuccess)
	if e.exists(cur.ActivationID) || e.exists(leaked.ID) {
		t.Errorf("the current %s and the unrecorded %s activation must both be deleted", cur.ActivationID, leaked.ID)
	}
	for _, id := range []string{other.ID, otherRole.ID, untagged.ID} {
		if !e.exists(id) {
			t.Errorf("activation %s is not the site's and must stay", id)
		}
	}
	if !strings.Contains(e.logs.String(), "its record does not name") {
		t.Errorf("deleting an unrecorded activation must be logged: %s", e.logs)
	}
}

func TestDeleteOfMissingSucceeds(t *testing.T) {
	t.Run("activation deleted by hand", func(t *testing.T) {
		e := newEnv(t)
		first := e.created(t)
		delete(e.aws.Activations, first.ActivationID)
		wantStatus(t, e.run(t, event(cfn.RequestDelete, PhysicalID(secretArn), baseProps(), nil)), cfn.StatusSuccess)
	})
	t.Run("never created", func(t *testing.T) {
		e := newEnv(t)
		wantStatus(t, e.run(t, event(cfn.RequestDelete, "create-failed-b7f5c3a0-req", baseProps(), nil)), cfn.StatusSuccess)
		if n := len(e.aws.Calls(fakeaws.DeleteActivation)); n != 0 {
			t.Errorf("nothing was created, yet %d deletes", n)
		}
	})
}

// A stack deployed by the first version of this project: the physical id is
// the activation id and the secret holds the bare code.
func TestUpgradeFromPhysicalIDActivation(t *testing.T) {
	e := newEnv(t)
	legacy := e.aws.AddActivation(fakeaws.Activation{Limit: 10, Expiry: now.Add(48 * time.Hour)})
	e.aws.Secrets[secretArn] = legacy.Code
	old := baseProps()
	old["Tags"] = []any{map[string]any{"Key": "site", "Value": "onprem"}}
	r := e.run(t, event(cfn.RequestUpdate, legacy.ID, baseProps(), old))
	wantStatus(t, r, cfn.StatusSuccess)
	if r.PhysicalResourceID != legacy.ID {
		t.Errorf("the physical id must stay %s, got %s", legacy.ID, r.PhysicalResourceID)
	}
	cur := e.current(t)
	if cur.ActivationID == legacy.ID || e.exists(legacy.ID) || !e.exists(cur.ActivationID) {
		t.Errorf("the legacy activation must be replaced and deleted: current %s", cur.ActivationID)
	}
	wantStatus(t, e.run(t, event(cfn.RequestDelete, legacy.ID, baseProps(), nil)), cfn.StatusSuccess)
	if e.activations() != 0 {
		t.Errorf("delete left %d activations", e.activations())
	}
}

func TestThrottlingThenSuccess(t *testing.T) {
	e := newEnv(t)
	e.aws.On(fakeaws.CreateActivation, fakeaws.Throttling, fakeaws.Throttling)
	e.aws.On(fakeaws.PutSecretValue, fakeaws.Throttling)
	e.created(t)
	if n := len(e.aws.Calls(fakeaws.CreateActivation)); n != 3 {
		t.Errorf("CreateActivation called %d times, want 2 throttled + 1", n)
	}
}

func TestThrottledTooLongFails(t *testing.T) {
	e := newEnv(t)
	e.created(t)
	e.aws.On(fakeaws.GetSecretValue, fakeaws.Throttling, fakeaws.Throttling, fakeaws.Throttling, fakeaws.Throttling)
	wantStatus(t, e.run(t, event(cfn.RequestDelete, PhysicalID(secretArn), baseProps(), nil)), cfn.StatusFailed, "throttled", "try again later")
}

func TestAccessDeniedFailsAtOnce(t *testing.T) {
	e := newEnv(t)
	e.aws.On(fakeaws.CreateActivation, fakeaws.Reply{Status: 400, Body: `{"__type":"AccessDeniedException","Message":"not authorized to perform: ssm:CreateActivation"}`})
	r := e.run(t, event(cfn.RequestCreate, "", baseProps(), nil))
	wantStatus(t, r, cfn.StatusFailed, "access denied", "ssm:CreateActivation", "permissions boundary")
	if n := len(e.aws.Calls(fakeaws.CreateActivation)); n != 1 {
		t.Errorf("access denied must not be retried, %d calls", n)
	}
	if !strings.HasPrefix(r.PhysicalResourceID, "create-failed-") {
		t.Errorf("failed create physical id %q must say so", r.PhysicalResourceID)
	}
}

// A role made and tagged in the same deploy: the fleet's function may pass
// only tagged roles, and IAM may refuse iam:PassRole until the tag has
// propagated; the refusal is retried for a while, then the create succeeds.
// Any other AccessDenied still fails at once (above).
func TestPassRoleRefusedWhileTagsPropagateThenSuccess(t *testing.T) {
	e := newEnv(t)
	denied := fakeaws.Reply{Status: 400, Body: `{"__type":"AccessDeniedException","Message":"User: arn:aws:sts::123456789012:assumed-role/fleet/x is not authorized to perform: iam:PassRole on resource: arn:aws:iam::123456789012:role/` + roleName + `"}`}
	e.aws.On(fakeaws.CreateActivation, denied, denied)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	wantStatus(t, e.runCtx(t, ctx, event(cfn.RequestCreate, "", baseProps(), nil)), cfn.StatusSuccess)
	if n := len(e.aws.Calls(fakeaws.CreateActivation)); n != 3 {
		t.Errorf("%d CreateActivation calls, want 2 refused and 1 made", n)
	}
}

// A refusal that lasts (the role lacks the fleet's tag) fails with what
// to check, after a bounded number of attempts.
func TestPassRoleRefusedForGoodFails(t *testing.T) {
	e := newEnv(t)
	denied := fakeaws.Reply{Status: 400, Body: `{"__type":"AccessDeniedException","Message":"not authorized to perform: iam:PassRole on resource: arn:aws:iam::123456789012:role/` + roleName + `"}`}
	for range 20 {
		e.aws.On(fakeaws.CreateActivation, denied)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	wantStatus(t, e.runCtx(t, ctx, event(cfn.RequestCreate, "", baseProps(), nil)), cfn.StatusFailed, "iam:PassRole")
	if n := len(e.aws.Calls(fakeaws.CreateActivation)); n != 7 {
		t.Errorf("%d CreateActivation calls, want 7 (the bound)", n)
	}
}

func TestRolePropagationRetriedThenSuccess(t *testing.T) {
	e := newEnv(t)
	notYet := fakeaws.Reply{Status: 400, Body: `{"__type":"ValidationException","Message":"Nonexistent role or missing ssm service principal in trust policy: arn:aws:iam::123456789012:role/` + roleName + `"}`}
	e.aws.On(fakeaws.CreateActivation, notYet, notYet, notYet)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	wantStatus(t, e.runCtx(t, ctx, event(cfn.RequestCreate, "", baseProps(), nil)), cfn.StatusSuccess)
	if got := jsonOf(e.sleeps); got != jsonOf([]time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second}) {
		t.Errorf("backoff waits %s, want 2s, 4s, 8s", got)
	}
}

func TestRolePropagationGivesUpBeforeDeadline(t *testing.T) {
	e := newEnv(t)
	notYet := fakeaws.Reply{Status: 400, Body: `{"__type":"ValidationException","Message":"Nonexistent role or missing ssm service principal in trust policy"}`}
	for range 20 {
		e.aws.On(fakeaws.CreateActivation, notYet)
	}
	e.h.M.Now = time.Now
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(15*time.Second+3*time.Second))
	defer cancel()
	r := e.runCtx(t, ctx, event(cfn.RequestCreate, "", baseProps(), nil))
	wantStatus(t, r, cfn.StatusFailed, "still cannot use role", "trusts ssm.amazonaws.com")
}

func TestPanicStillAnswers(t *testing.T) {
	e := newEnv(t)
	e.h.M.SSM = panicky{}
	wantStatus(t, e.run(t, event(cfn.RequestCreate, "", baseProps(), nil)), cfn.StatusFailed, "internal error")
}

type panicky struct{ SSMAPI }

func (panicky) CreateActivation(context.Context, *ssm.CreateActivationInput, ...func(*ssm.Options)) (*ssm.CreateActivationOutput, error) {
	panic("boom")
}

func TestSecretWriteFailureKeepsTheOldActivation(t *testing.T) {
	e := newEnv(t)
	first := e.created(t)
	e.aws.On(fakeaws.PutSecretValue, fakeaws.Reply{Status: 400, Body: `{"__type":"AccessDeniedException","Message":"not authorized to perform: secretsmanager:PutSecretValue"}`})
	p := baseProps()
	p["Serial"] = "2"
	r := e.run(t, event(cfn.RequestUpdate, PhysicalID(secretArn), p, baseProps()))
	wantStatus(t, r, cfn.StatusFailed, "write the activation into secret", "access denied")
	if e.current(t).ActivationID != first.ActivationID || !e.exists(first.ActivationID) || e.activations() != 1 {
		t.Errorf("the old activation must stay current and the unwritten new one be deleted; %d activations", e.activations())
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
			wantStatus(t, e.run(t, event(cfn.RequestCreate, "", p, nil)), cfn.StatusFailed, tc.want...)
			if n := len(e.aws.Calls(fakeaws.CreateActivation)); n != 0 {
				t.Errorf("invalid properties reached SSM (%d calls)", n)
			}
		})
	}
}

func TestNumbersAcceptedAsJSONNumbers(t *testing.T) {
	p := baseProps()
	p["RegistrationLimit"], p["ExpiryDays"] = float64(3), float64(2)
	got, err := contract.ParseSettings(p)
	if err != nil || got.RegistrationLimit != 3 || got.ExpiryDays != 2 {
		t.Errorf("ParseSettings = %+v, %v", got, err)
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// kmsDenied is Secrets Manager's answer while KMS does not yet authorize
// the caller for the secret's key.
var kmsDenied = fakeaws.Reply{Status: 400, Body: `{"__type":"AccessDeniedException","Message":"Access to KMS is not allowed"}`}

// The first deploy of a site right after its key or the function's role
// was made: KMS refuses the key for a few minutes; the write is retried
// with backoff and the activation becomes current.
func TestCreateWaitsForTheKeyToAuthorize(t *testing.T) {
	e := newEnv(t)
	e.aws.On(fakeaws.PutSecretValue, kmsDenied, kmsDenied, kmsDenied)
	cur := e.created(t)
	if cur.ActivationID == "" || len(e.aws.Calls(fakeaws.PutSecretValue)) != 4 {
		t.Fatalf("want the record written on the fourth try, got %+v after %d tries", cur, len(e.aws.Calls(fakeaws.PutSecretValue)))
	}
	if len(e.sleeps) != 3 || e.sleeps[1] != 2*e.sleeps[0] {
		t.Errorf("want three growing waits, got %v", e.sleeps)
	}
}

// A key KMS keeps refusing fails the deploy after KeyPropagation, saying
// what to check, and leaves no activation behind.
func TestCreateStopsWaitingForTheKey(t *testing.T) {
	e := newEnv(t)
	elapsed := time.Duration(0)
	e.h.M.Now = func() time.Time { return now.Add(elapsed) }
	e.h.M.Sleep = func(_ context.Context, d time.Duration) error {
		elapsed += d
		e.sleeps = append(e.sleeps, d)
		return nil
	}
	replies := make([]fakeaws.Reply, 100)
	for i := range replies {
		replies[i] = kmsDenied
	}
	e.aws.On(fakeaws.PutSecretValue, replies...)
	resp := e.run(t, event(cfn.RequestCreate, "", baseProps(), nil))
	wantStatus(t, resp, cfn.StatusFailed)
	if !strings.Contains(resp.Reason, "KMS still refuses the secret's key") || !strings.Contains(resp.Reason, "key policy") {
		t.Errorf("reason %q must say KMS refused the key and what to check", resp.Reason)
	}
	if elapsed > KeyPropagation+time.Minute || elapsed < KeyPropagation-time.Minute {
		t.Errorf("waited %v, want about %v", elapsed, KeyPropagation)
	}
	if n := e.activations(); n != 0 {
		t.Errorf("%d activations left behind by a failed create", n)
	}
}

// Anything else Secrets Manager refuses is not retried.
func TestOtherAccessDeniedIsNotRetried(t *testing.T) {
	e := newEnv(t)
	e.aws.On(fakeaws.PutSecretValue, fakeaws.Reply{Status: 400, Body: `{"__type":"AccessDeniedException","Message":"not authorized to perform secretsmanager:PutSecretValue"}`})
	wantStatus(t, e.run(t, event(cfn.RequestCreate, "", baseProps(), nil)), cfn.StatusFailed)
	if len(e.sleeps) != 0 {
		t.Errorf("a denial that is not KMS's was retried: %v", e.sleeps)
	}
}

// A request that names what the requesting stack does not hold (a custom
// resource of another stack, or one edited by hand) is answered FAILED
// with the reason, and changes nothing: no activation made, no record
// written, nothing deleted.
func TestForgedRequestsAreRefused(t *testing.T) {
	with := func(change func(map[string]any)) map[string]any {
		p := baseProps()
		change(p)
		return p
	}
	for _, tc := range []struct {
		name  string
		props map[string]any
		want  string
	}{
		{"another site's secret", with(func(p map[string]any) { p["SecretArn"] = otherSecret }), "holds no activation record (secret) " + otherSecret},
		{"another stack's tag", with(func(p map[string]any) {
			p["Tags"] = []any{map[string]any{"Key": "stretched:stack", "Value": "EcsWorker-Anywhere-lab"}}
		}), `tag stretched:stack is "EcsWorker-Anywhere-lab", not the requesting stack ` + stackTag},
		{"another site's name", with(func(p map[string]any) {
			p["Tags"] = []any{map[string]any{"Key": "site", "Value": "lab"}, map[string]any{"Key": "stretched:stack", "Value": stackTag}}
		}), `tag site is "lab"`},
		{"another site's cluster", with(func(p map[string]any) {
			p["Tags"] = []any{map[string]any{"Key": "cluster", "Value": "labCluster"}, map[string]any{"Key": "stretched:stack", "Value": stackTag}}
		}), "holds no cluster labCluster"},
		{"another site's instance role", with(func(p map[string]any) { p["IamRole"] = otherRole }), "instance role " + otherRole},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.aws.Secrets[otherSecret] = "lab's record"
			for _, kind := range []cfn.RequestType{cfn.RequestCreate, cfn.RequestUpdate, cfn.RequestDelete} {
				physical := ""
				if kind != cfn.RequestCreate {
					physical = PhysicalID(secretArn)
				}
				resp := e.run(t, event(kind, physical, tc.props, baseProps()))
				wantStatus(t, resp, cfn.StatusFailed)
				if !strings.Contains(resp.Reason, "refused") || !strings.Contains(resp.Reason, tc.want) {
					t.Errorf("%s: reason %q must say it was refused and why (%q)", kind, resp.Reason, tc.want)
				}
			}
			if n := e.activations(); n != 0 || len(e.aws.Calls(fakeaws.PutSecretValue)) != 0 || e.aws.Secrets[otherSecret] != "lab's record" {
				t.Errorf("a refused request changed something: %d activations, %d secret writes", n, len(e.aws.Calls(fakeaws.PutSecretValue)))
			}
		})
	}
}

// A stack the function may not read (not one of the app's site stacks:
// ListStackResources is denied, or it does not exist) gets nothing.
func TestRequestFromAStackItCannotReadIsRefused(t *testing.T) {
	e := newEnv(t)
	ev := event(cfn.RequestCreate, "", baseProps(), nil)
	ev.StackID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/Someone-Else/1"
	resp := e.run(t, ev)
	wantStatus(t, resp, cfn.StatusFailed)
	if !strings.Contains(resp.Reason, "cannot tell what the requesting stack holds") || e.activations() != 0 {
		t.Errorf("reason %q, %d activations", resp.Reason, e.activations())
	}
}

// A Delete whose physical id names another role's activation (the first
// version's ids were activation ids) leaves it: DeleteActivation has no
// resource-level permission, so the handler is what keeps it to the site.
func TestDeleteLeavesAnotherRolesActivation(t *testing.T) {
	e := newEnv(t)
	theirs := e.aws.AddActivation(fakeaws.Activation{IamRole: otherRole, Limit: 10, Expiry: now.Add(48 * time.Hour)})
	wantStatus(t, e.run(t, event(cfn.RequestDelete, theirs.ID, baseProps(), nil)), cfn.StatusSuccess)
	if !e.exists(theirs.ID) {
		t.Error("the site's Delete deleted another role's activation its physical id named")
	}
}
