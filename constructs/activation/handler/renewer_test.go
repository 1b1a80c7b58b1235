package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ecs-anywhere-stretched/stretched/constructs/activation/contract"
	"github.com/ecs-anywhere-stretched/stretched/testkit/errcheck"
	"github.com/ecs-anywhere-stretched/stretched/testkit/fakeaws"
)

type renewEnv struct {
	aws  *fakeaws.Fake
	logs *bytes.Buffer
	r    *Renewer
	old  *fakeaws.Activation
}

// newRenewEnv is a site whose current activation expires in `left` and has
// `used` of its 10 registrations taken.
func newRenewEnv(t *testing.T, left time.Duration, used int) *renewEnv {
	e := &renewEnv{aws: fakeaws.New(t), logs: &bytes.Buffer{}}
	e.aws.Now = func() time.Time { return now }
	cfg := e.aws.Config()
	log := slog.New(slog.NewJSONHandler(e.logs, nil))
	m := NewManager(ssm.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg), log)
	m.Stacks = siteStack(e.aws)
	m.Now = func() time.Time { return now }
	settings, err := contract.ParseSettings(map[string]any{
		"IamRole": "role", "RegistrationLimit": "10", "ExpiryDays": "7", "SecretArn": secretArn,
		"Tags": []any{map[string]any{"Key": "stretched:stack", "Value": "EcsWorker-Anywhere-onprem"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.r = &Renewer{M: m, Settings: settings, RenewDays: 2, Log: log}
	e.old = e.aws.AddActivation(fakeaws.Activation{IamRole: "role", Limit: 10, Registrations: used, Expiry: now.Add(left)})
	rec, _ := json.Marshal(contract.Current{ActivationID: e.old.ID, ActivationCode: e.old.Code, ExpirationDate: e.old.Expiry})
	e.aws.Secrets[secretArn] = string(rec)
	t.Cleanup(func() {
		if strings.Contains(e.logs.String(), "SECRET-CODE-") {
			t.Errorf("an activation code appears in the logs:\n%s", e.logs)
		}
	})
	return e
}

func (e *renewEnv) current(t *testing.T) contract.Current {
	t.Helper()
	var c contract.Current
	if err := json.Unmarshal([]byte(e.aws.Secrets[secretArn]), &c); err != nil {
		t.Fatalf("secret is not an activation record: %v", err)
	}
	return c
}

// renewed checks that a new activation with the site's settings is current,
// its code is in the secret and the old one is gone.
func (e *renewEnv) renewed(t *testing.T, out Outcome, err error, reason string) {
	t.Helper()
	if err != nil {
		t.Fatalf("renewal failed: %v", err)
	}
	cur := e.current(t)
	a := e.aws.Activations[cur.ActivationID]
	if !out.Renewed || !strings.Contains(out.Reason, reason) || cur.ActivationID == e.old.ID || a == nil || a.Code != cur.ActivationCode {
		t.Fatalf("outcome %+v, secret %s: want a new current activation because %s", out, cur.ActivationID, reason)
	}
	if a.Limit != 10 || a.Tags["stretched:stack"] != "EcsWorker-Anywhere-onprem" || !cur.ExpirationDate.Equal(now.Add(7*24*time.Hour)) {
		t.Errorf("new activation %+v lacks the site's settings", a)
	}
	if e.aws.Activations[e.old.ID] != nil || len(e.aws.Activations) != 1 {
		t.Errorf("the old activation must be deleted after the new one is written; %d remain", len(e.aws.Activations))
	}
	if len(cur.Previous) != 1 || cur.Previous[0] != e.old.ID {
		t.Errorf("the record must remember %s, has %v", e.old.ID, cur.Previous)
	}
}

// kept checks that the old activation is still current and untouched.
func (e *renewEnv) kept(t *testing.T) {
	t.Helper()
	if cur := e.current(t); cur.ActivationID != e.old.ID || cur.ActivationCode != e.old.Code || e.aws.Activations[e.old.ID] == nil {
		t.Errorf("the old activation must stay current, secret names %s", cur.ActivationID)
	}
}

func TestRenewWhenNearExpiry(t *testing.T) {
	e := newRenewEnv(t, 36*time.Hour, 2)
	out, err := e.r.Run(context.Background())
	e.renewed(t, out, err, "expires within 2 days")
}

func TestRenewWhenFull(t *testing.T) {
	e := newRenewEnv(t, 6*24*time.Hour, 10)
	out, err := e.r.Run(context.Background())
	e.renewed(t, out, err, "full (10 of 10")
}

func TestRenewWhenExpired(t *testing.T) {
	e := newRenewEnv(t, -time.Hour, 0)
	out, err := e.r.Run(context.Background())
	e.renewed(t, out, err, "expired")
}

func TestRenewWhenDeletedByHand(t *testing.T) {
	e := newRenewEnv(t, 5*24*time.Hour, 0)
	delete(e.aws.Activations, e.old.ID)
	out, err := e.r.Run(context.Background())
	if err != nil || !out.Renewed || !strings.Contains(out.Reason, "no longer exists") || e.current(t).ActivationID == e.old.ID {
		t.Fatalf("a vanished activation must be replaced: %+v, %v", out, err)
	}
}

func TestNoRenewalWhenFresh(t *testing.T) {
	e := newRenewEnv(t, 3*24*time.Hour, 9)
	out, err := e.r.Run(context.Background())
	if err != nil || out.Renewed || out.Reason != "fresh" {
		t.Fatalf("fresh activation: %+v, %v", out, err)
	}
	e.kept(t)
	if n := len(e.aws.Calls(fakeaws.CreateActivation)) + len(e.aws.Calls(fakeaws.PutSecretValue)); n != 0 {
		t.Errorf("a fresh activation made %d create/write calls", n)
	}
}

// Each run deletes the site's expired activations (batches made by fleet
// node userdata whose time is up), and no other: a batch still valid,
// another site's, and the current one stay.
func TestExpiredBatchesAreDeleted(t *testing.T) {
	e := newRenewEnv(t, 3*24*time.Hour, 0)
	site := map[string]string{"stretched:stack": "EcsWorker-Anywhere-onprem"}
	expired := e.aws.AddActivation(fakeaws.Activation{IamRole: "role", Limit: 5, Expiry: now.Add(-time.Hour), Tags: site})
	valid := e.aws.AddActivation(fakeaws.Activation{IamRole: "role", Limit: 5, Expiry: now.Add(time.Hour), Tags: site})
	others := e.aws.AddActivation(fakeaws.Activation{IamRole: "role", Limit: 5, Expiry: now.Add(-time.Hour), Tags: map[string]string{"stretched:stack": "Other-Anywhere-x"}})
	if _, err := e.r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.aws.Activations[expired.ID] != nil || e.aws.Activations[valid.ID] == nil || e.aws.Activations[others.ID] == nil || e.aws.Activations[e.old.ID] == nil {
		t.Errorf("after a run: expired batch kept %v, valid batch kept %v, another site's kept %v, current kept %v",
			e.aws.Activations[expired.ID] != nil, e.aws.Activations[valid.ID] != nil, e.aws.Activations[others.ID] != nil, e.aws.Activations[e.old.ID] != nil)
	}
}

func TestRenewalOff(t *testing.T) {
	e := newRenewEnv(t, time.Hour, 10)
	e.r.RenewDays = 0
	if out, err := e.r.Run(context.Background()); err != nil || out.Renewed {
		t.Fatalf("renewal off: %+v, %v", out, err)
	}
	e.kept(t)
}

func TestRenewalFailureKeepsTheOldActivation(t *testing.T) {
	denied := fakeaws.Reply{Status: 400, Body: `{"__type":"AccessDeniedException","Message":"not authorized"}`}
	for _, tc := range []struct {
		name, target, want string
	}{
		{"create refused", fakeaws.CreateActivation, "create the activation"},
		{"secret write refused", fakeaws.PutSecretValue, "write the activation into secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newRenewEnv(t, time.Hour, 0)
			e.aws.On(tc.target, denied)
			_, err := e.r.Run(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), e.old.ID+" stays current") {
				t.Fatalf("error %v must say what failed and that %s stays current", err, e.old.ID)
			}
			e.kept(t)
			if len(e.aws.Activations) != 1 {
				t.Errorf("a new activation that is not current must be deleted again; %d exist", len(e.aws.Activations))
			}
		})
	}
}

func TestOldNotDeletedIsReported(t *testing.T) {
	e := newRenewEnv(t, time.Hour, 0)
	e.aws.On(fakeaws.DeleteActivation, fakeaws.Throttling, fakeaws.Throttling, fakeaws.Throttling, fakeaws.Throttling)
	out, err := e.r.Run(context.Background())
	if !errors.Is(err, ErrOldNotDeleted) || !out.Renewed || e.current(t).ActivationID == e.old.ID {
		t.Fatalf("the new activation is current but the error must report the old one: %+v, %v", out, err)
	}
}

func TestRenewalThrottlingThenSuccess(t *testing.T) {
	e := newRenewEnv(t, time.Hour, 0)
	e.aws.On(fakeaws.DescribeActivations, fakeaws.Throttling)
	e.aws.On(fakeaws.CreateActivation, fakeaws.Throttling, fakeaws.Throttling)
	out, err := e.r.Run(context.Background())
	e.renewed(t, out, err, "expires within")
}

func TestNoRecordIsAnError(t *testing.T) {
	e := newRenewEnv(t, time.Hour, 0)
	delete(e.aws.Secrets, secretArn)
	if _, err := e.r.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "records no activation") {
		t.Fatalf("error %v", err)
	}
}

func TestFromEvent(t *testing.T) {
	var e Event
	if err := json.Unmarshal([]byte(`{"settings":{"IamRole":"Role","RegistrationLimit":"10","ExpiryDays":"7","SecretArn":"arn:aws:secretsmanager:eu-west-1:123456789012:secret:code","Serial":"1","Tags":[{"Key":"stretched:stack","Value":"S"}]},"renewDays":2}`), &e); err != nil {
		t.Fatal(err)
	}
	r, err := FromEvent(e)
	if err != nil || r.RenewDays != 2 || r.Settings.IamRole != "Role" || r.Settings.ExpiryDays != 7 {
		t.Fatalf("FromEvent = %+v, %v", r, err)
	}
	days := -1
	_, err = FromEvent(Event{RenewDays: &days})
	errcheck.Contains(t, err, "settings: ", `renewDays is -1: must be a whole number of days from 0 to 29`, "redeploy the site's stack")
	_, err = FromEvent(Event{Settings: e.Settings})
	errcheck.Contains(t, err, "renewDays is -1")
}

// TestADeployAtTheSameMomentWins: the renewer read the record, a deploy then
// replaced the activation; the renewer's write is refused (compare-and-swap
// on the secret's version), its new activation deleted again, and the
// deploy's record stays, without an error (no alarm for a benign race).
func TestADeployAtTheSameMomentWins(t *testing.T) {
	e := newRenewEnv(t, time.Hour, 0)
	client := secretsmanager.NewFromConfig(e.aws.Config())
	var deployed *fakeaws.Activation
	e.r.M.Secrets = &RacingSecrets{SecretsAPI: client, Other: func() {
		deployed = e.aws.AddActivation(fakeaws.Activation{IamRole: "role", Limit: 10, Expiry: now.Add(7 * 24 * time.Hour)})
		rec, _ := json.Marshal(contract.Current{ActivationID: deployed.ID, ActivationCode: deployed.Code, ExpirationDate: deployed.Expiry})
		if _, err := client.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(secretArn), SecretString: aws.String(string(rec))}); err != nil {
			t.Fatal(err)
		}
	}}
	out, err := e.r.Run(context.Background())
	if err != nil || out.Renewed {
		t.Fatalf("a lost race is not a failure: %+v, %v", out, err)
	}
	if cur := e.current(t); cur.ActivationID != deployed.ID {
		t.Errorf("the deploy's record must stay, the secret names %s", cur.ActivationID)
	}
	if len(e.aws.Activations) != 2 || e.aws.Activations[deployed.ID] == nil || e.aws.Activations[e.old.ID] == nil {
		t.Errorf("the renewer's own new activation must be deleted again; %d exist", len(e.aws.Activations))
	}
}

// A renewal whose settings name a stack that does not hold the record is
// refused and changes nothing.
func TestRenewalOfAnotherStacksRecordIsRefused(t *testing.T) {
	e := newRenewEnv(t, time.Hour, 0)
	e.r.Settings.Tags = []contract.Tag{{Key: "stretched:stack", Value: "EcsWorker-Anywhere-lab"}}
	_, err := e.r.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), "holds no activation record") {
		t.Fatalf("error %v must refuse the renewal, naming the record the stack does not hold", err)
	}
	e.kept(t)
	if len(e.aws.Activations) != 1 {
		t.Errorf("%d activations after a refused renewal", len(e.aws.Activations))
	}
}
