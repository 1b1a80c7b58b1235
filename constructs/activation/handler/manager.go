// Package handler is the activation feature's runtime: one function for the
// fleet answers every site's Custom::SsmActivation (resource.go) and every
// site's renewal schedule (renewer.go), and both keep one current SSM
// activation per site through the Manager (manager.go), recorded in the
// site's Secrets Manager secret, so they agree on which activation is
// current. The code never appears in a log line, an error or a response.
//
// The custom resource's physical id never changes after Create, so
// CloudFormation never sends a Delete for an activation that a renewal or an
// update already replaced: every request works on the activation the secret
// names. A renewal replaces the current activation when it expires soon, is
// full or has vanished; the new one is written into the secret before the
// old one is deleted, so nodes always find a valid code, and if any step
// fails the old activation stays current and the run returns an error (the
// function's Errors metric, which the fleet's alarm watches).
package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/ecs-anywhere-stretched/stretched/constructs/activation/contract"
	"github.com/ecs-anywhere-stretched/stretched/internal/awserr"
	"github.com/ecs-anywhere-stretched/stretched/internal/stackowner"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// SSMAPI is what the package calls of SSM; *ssm.Client satisfies it.
type SSMAPI interface {
	CreateActivation(context.Context, *ssm.CreateActivationInput, ...func(*ssm.Options)) (*ssm.CreateActivationOutput, error)
	DeleteActivation(context.Context, *ssm.DeleteActivationInput, ...func(*ssm.Options)) (*ssm.DeleteActivationOutput, error)
	DescribeActivations(context.Context, *ssm.DescribeActivationsInput, ...func(*ssm.Options)) (*ssm.DescribeActivationsOutput, error)
}

// SecretsAPI is what the package calls of Secrets Manager.
type SecretsAPI interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	UpdateSecretVersionStage(context.Context, *secretsmanager.UpdateSecretVersionStageInput, ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
}

// MaxPrevious is how many earlier activation ids the secret remembers.
const MaxPrevious = 50

// Manager creates, replaces and deletes activations and keeps the secret.
type Manager struct {
	SSM     SSMAPI
	Secrets SecretsAPI
	// Stacks reads what the requesting stack holds (Verify).
	Stacks stackowner.API
	Log    *slog.Logger
	Now    func() time.Time
	// Sleep waits d or until ctx ends.
	Sleep func(ctx context.Context, d time.Duration) error
	// Backoff is the first wait while IAM makes a new role assumable by SSM;
	// waits double up to MaxBackoff until ctx's deadline.
	Backoff, MaxBackoff time.Duration
}

// NewManager returns a Manager with the real clock and the shipped backoff.
func NewManager(s SSMAPI, sec SecretsAPI, log *slog.Logger) *Manager {
	return &Manager{SSM: s, Secrets: sec, Log: log, Now: time.Now, Sleep: SleepCtx, Backoff: 2 * time.Second, MaxBackoff: 20 * time.Second}
}

// WithLog is a copy of m that logs to log (one request's logger).
func (m *Manager) WithLog(log *slog.Logger) *Manager {
	c := *m
	c.Log = log
	return &c
}

// SleepCtx waits d or until ctx ends.
func SleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Verify refuses settings that name what stack (a name or an id) does not
// hold, before anything is written or deleted: the secret must be the
// stack's, its activations' stack tag the stack's name, their site and
// cluster tags the stack's site and cluster, and the instance role one the
// stack makes, or no site stack's (a role a site brings, which IAM lets the
// function pass only by its configured ARN).
func (m *Manager) Verify(ctx context.Context, stack string, s contract.Settings) error {
	st, err := stackowner.Read(ctx, m.Stacks, stack)
	if err != nil {
		return fmt.Errorf("refused: cannot tell what the requesting stack holds: %w", err)
	}
	var errs []error
	refuse := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("refused: "+format+"; the fleet's activation function acts only for the stack that asks", args...))
	}
	if s.SecretArn != "" {
		if err := st.Require("activation record (secret)", "AWS::SecretsManager::Secret", s.SecretArn); err != nil {
			errs = append(errs, err)
		}
	}
	if len(s.Tags) > 0 {
		if v := s.Tag(stackscontract.StackTagKey); v != st.Name {
			refuse("tag %s is %q, not the requesting stack %s", stackscontract.StackTagKey, v, st.Name)
		}
		if v := s.Tag(contract.TagSite); v != "" && !strings.HasSuffix(st.Name, "-Anywhere-"+v) {
			refuse("tag %s is %q, not the site of stack %s", contract.TagSite, v, st.Name)
		}
		if v := s.Tag(contract.TagCluster); v != "" {
			if err := st.Require("cluster", "AWS::ECS::Cluster", v); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if s.IamRole != "" && !st.Holds("AWS::IAM::Role", s.IamRole) && strings.Contains(s.IamRole, "-Anywhere-") {
		refuse("instance role %s is not the requesting stack's but named like another site stack's", s.IamRole)
	}
	return errors.Join(errs...)
}

// ErrOldNotDeleted marks a replacement whose new activation is current but
// whose old one could not be deleted (it stops accepting nodes at its expiry).
var ErrOldNotDeleted = errors.New("the previous activation could not be deleted")

// ReadCurrent reads the current activation from the secret. found is false
// when the secret has no value yet or holds no activation (a value written by
// an earlier version of this project: the code alone).
func (m *Manager) ReadCurrent(ctx context.Context, secretArn string) (cur contract.Current, found bool, err error) {
	// AWSCURRENT is the default; named, because write moves it (and
	// moto_server follows a moved label only when it is named).
	out, err := m.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretArn), VersionStage: aws.String("AWSCURRENT")})
	if err != nil {
		var nf *smtypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return contract.Current{}, false, nil
		}
		return contract.Current{}, false, fmt.Errorf("read the current activation from secret %s: %w", secretArn, awserr.Explain(err))
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &cur); err != nil || cur.ActivationID == "" {
		m.Log.Warn("secret holds no activation record: treating it as empty", "secretArn", secretArn)
		return contract.Current{Version: aws.ToString(out.VersionId)}, false, nil
	}
	cur.Version = aws.ToString(out.VersionId)
	return cur, true, nil
}

// ErrRecordChanged marks a write that lost to another writer of the record
// (a deploy's custom resource and the renewer at the same moment): the
// record is the other writer's, and this writer's new activation is deleted
// again.
var ErrRecordChanged = errors.New("the activation record changed while this replacement was made")

// stagedLabel marks a record version written and not yet made current.
const stagedLabel = "STRETCHED-NEXT"

// Replace makes a new activation with s, writes it into the secret and then
// deletes old (when old is not nil). If the new activation cannot be made or
// written, the old one stays current and untouched, the new one is deleted
// again, and the error says so. If only deleting the old one fails, the new
// one is current and the error wraps ErrOldNotDeleted.
func (m *Manager) Replace(ctx context.Context, s contract.Settings, old *contract.Current) (contract.Current, error) {
	created, code, err := m.create(ctx, s)
	if err != nil {
		return contract.Current{}, err
	}
	cur := contract.Current{ActivationID: created.id, ActivationCode: code, ExpirationDate: created.expiry}
	if old != nil {
		cur.Previous = append([]string{old.ActivationID}, old.Previous...)
		if len(cur.Previous) > MaxPrevious {
			cur.Previous = cur.Previous[:MaxPrevious]
		}
	}
	expected := ""
	if old != nil {
		expected = old.Version
	}
	if err := m.write(ctx, s.SecretArn, cur, expected); err != nil {
		if derr := m.Delete(context.WithoutCancel(ctx), cur.ActivationID); derr != nil {
			return contract.Current{}, errors.Join(err, fmt.Errorf("and delete the new activation %s again: %w (delete it by hand)", cur.ActivationID, derr))
		}
		m.Log.Info("new activation deleted after the failed secret write", "activationId", cur.ActivationID)
		return contract.Current{}, err
	}
	m.Log.Info("activation is current", "activation", cur, "secretArn", s.SecretArn)
	if old != nil && old.ActivationID != cur.ActivationID {
		if err := m.Delete(ctx, old.ActivationID); err != nil {
			return cur, fmt.Errorf("%w: %w; it accepts nodes until %s unless deleted by hand", ErrOldNotDeleted, err, old.ExpirationDate.Format(time.RFC3339))
		}
	}
	return cur, nil
}

// write makes cur the secret's current value. With expected (the version
// the old record was read from) it is a compare-and-swap: the value is put
// under stagedLabel, then AWSCURRENT is moved to it from expected, which
// Secrets Manager refuses when expected is no longer current.
func (m *Manager) write(ctx context.Context, secretArn string, cur contract.Current, expected string) error {
	value, err := json.Marshal(cur)
	if err != nil {
		return fmt.Errorf("encode the activation record: %w", err)
	}
	in := &secretsmanager.PutSecretValueInput{SecretId: aws.String(secretArn), SecretString: aws.String(string(value))}
	if expected != "" {
		in.VersionStages = []string{stagedLabel}
	}
	out, err := m.putWithKeyRetry(ctx, in)
	if err != nil {
		return fmt.Errorf("write the activation into secret %s: %w", secretArn, awserr.Explain(err))
	}
	if expected == "" {
		return nil
	}
	if _, err := m.Secrets.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String(secretArn), VersionStage: aws.String("AWSCURRENT"),
		MoveToVersionId: out.VersionId, RemoveFromVersionId: aws.String(expected),
	}); err != nil {
		var invalid *smtypes.InvalidParameterException
		if errors.As(err, &invalid) {
			return fmt.Errorf("make the activation current in secret %s: %w (%v)", secretArn, ErrRecordChanged, err)
		}
		return fmt.Errorf("make the activation current in secret %s: %w", secretArn, awserr.Explain(err))
	}
	return nil
}

// KeyPropagation bounds how long a write refused by KMS is retried: KMS
// documents up to five minutes before a change to a key's policy, grants
// or tags affects authorization. The function's access is in the key's
// policy, naming its role, so this is a backstop for the minutes after
// the key or the role is made.
const KeyPropagation = 6 * time.Minute

// putWithKeyRetry puts the value, retrying with capped exponential
// backoff while Secrets Manager reports that KMS refused the key, for at
// most KeyPropagation and never past ctx's deadline.
func (m *Manager) putWithKeyRetry(ctx context.Context, in *secretsmanager.PutSecretValueInput) (*secretsmanager.PutSecretValueOutput, error) {
	wait := m.Backoff
	start := m.Now()
	for attempt := 1; ; attempt++ {
		out, err := m.Secrets.PutSecretValue(ctx, in)
		if err == nil || !KeyDenied(err) {
			return out, err
		}
		if m.Now().Add(wait).Sub(start) > KeyPropagation {
			return nil, fmt.Errorf("KMS still refuses the secret's key after %d attempts over %s (the key policy must let the fleet's activation function use it through Secrets Manager): %w", attempt, m.Now().Sub(start).Round(time.Second), err)
		}
		if dl, ok := ctx.Deadline(); ok && m.Now().Add(wait).After(dl) {
			return nil, fmt.Errorf("KMS still refuses the secret's key after %d attempts, and the function's time is up: %w", attempt, err)
		}
		m.Log.Warn("KMS refused the secret's key (a new key or role may not be authorized yet), retrying", "attempt", attempt, "wait", wait.String())
		if err := m.Sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("stopped waiting for KMS: %w", err)
		}
		wait = min(2*wait, m.MaxBackoff)
	}
}

// KeyDenied recognises Secrets Manager's answer when KMS refuses the
// secret's key to the caller.
func KeyDenied(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	return (awserr.Denied(err) || api.ErrorCode() == "EncryptionFailure") &&
		strings.Contains(strings.ToLower(api.ErrorMessage()), "kms")
}

type created struct {
	id     string
	expiry time.Time
}

// create makes an activation with s (retrying while IAM propagates a new
// role) and returns it with its code.
func (m *Manager) create(ctx context.Context, s contract.Settings) (created, string, error) {
	expiry := m.Now().UTC().Add(time.Duration(s.ExpiryDays) * 24 * time.Hour).Truncate(time.Second)
	if s.ExpiryDays == contract.MaxExpiryDays {
		// SSM refuses more than 30 days counted from its own clock.
		expiry = expiry.Add(-5 * time.Minute)
	}
	in := &ssm.CreateActivationInput{
		IamRole:           aws.String(s.IamRole),
		RegistrationLimit: aws.Int32(s.RegistrationLimit),
		ExpirationDate:    aws.Time(expiry),
	}
	if s.DefaultInstanceName != "" {
		in.DefaultInstanceName = aws.String(s.DefaultInstanceName)
	}
	if s.Description != "" {
		in.Description = aws.String(s.Description)
	}
	for _, t := range s.Tags {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	out, err := m.createWithPropagationRetry(ctx, in)
	if err != nil {
		return created{}, "", err
	}
	id := aws.ToString(out.ActivationId)
	if aws.ToString(out.ActivationCode) == "" {
		_ = m.Delete(context.WithoutCancel(ctx), id)
		return created{}, "", fmt.Errorf("SSM returned activation %s without a code: deploy or renew again", id)
	}
	m.Log.Info("activation created", "activationId", id, "expirationDate", expiry.Format(time.RFC3339))
	return created{id: id, expiry: expiry}, aws.ToString(out.ActivationCode), nil
}

// createWithPropagationRetry retries while SSM cannot yet assume a role IAM
// has just created, with capped exponential backoff, until ctx's deadline.
func (m *Manager) createWithPropagationRetry(ctx context.Context, in *ssm.CreateActivationInput) (*ssm.CreateActivationOutput, error) {
	wait := m.Backoff
	start := m.Now()
	for attempt := 1; ; attempt++ {
		out, err := m.SSM.CreateActivation(ctx, in)
		if err == nil {
			return out, nil
		}
		// The fleet's function may pass only roles tagged for the fleet:
		// a role created (and tagged) in the same deploy can be refused
		// for a moment, until IAM's tags have propagated.
		tagPropagating := passRoleDenied(err) && m.Now().Sub(start) < TagPropagation && attempt < maxPassRoleAttempts
		if !rolePropagating(err) && !tagPropagating {
			return nil, fmt.Errorf("create the activation for role %s: %w", aws.ToString(in.IamRole), awserr.Explain(err))
		}
		if dl, ok := ctx.Deadline(); ok && m.Now().Add(wait).After(dl) {
			return nil, fmt.Errorf("create the activation: SSM still cannot use role %s after %d attempts (%v); check the role trusts ssm.amazonaws.com, then retry", aws.ToString(in.IamRole), attempt, err)
		}
		m.Log.Warn("role not yet usable by SSM, retrying", "attempt", attempt, "wait", wait.String())
		if err := m.Sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("create the activation: stopped waiting for role %s: %w", aws.ToString(in.IamRole), err)
		}
		wait = min(2*wait, m.MaxBackoff)
	}
}

// TagPropagation is how long a refused iam:PassRole is retried: the time
// IAM may take to show a new role's tags to policy conditions.
const TagPropagation = 2 * time.Minute

// maxPassRoleAttempts bounds the retries of a refused iam:PassRole as well
// (about TagPropagation with the default backoff).
const maxPassRoleAttempts = 7

// passRoleDenied recognises a refused iam:PassRole (the caller may pass
// only roles with the fleet's tag).
func passRoleDenied(err error) bool {
	var api smithy.APIError
	return awserr.Denied(err) && errors.As(err, &api) && strings.Contains(api.ErrorMessage(), "iam:PassRole")
}

// rolePropagating recognises SSM's answer for a role it cannot assume yet.
func rolePropagating(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	msg := strings.ToLower(api.ErrorMessage())
	return (api.ErrorCode() == "ValidationException" || api.ErrorCode() == "InvalidParameters" || api.ErrorCode() == "InvalidRole") &&
		(strings.Contains(msg, "role") || strings.Contains(msg, "trust"))
}

// Gone reports an activation that no longer exists.
func Gone(err error) bool {
	var inv *types.InvalidActivation
	var invID *types.InvalidActivationId
	return errors.As(err, &inv) || errors.As(err, &invID)
}

// Describe returns the activation with id, or nil when it does not exist.
func (m *Manager) Describe(ctx context.Context, id string) (*types.Activation, error) {
	out, err := m.SSM.DescribeActivations(ctx, &ssm.DescribeActivationsInput{
		Filters: []types.DescribeActivationsFilter{{FilterKey: types.DescribeActivationsFilterKeysActivationIds, FilterValues: []string{id}}},
	})
	if err != nil {
		if Gone(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("describe activation %s: %w", id, awserr.Explain(err))
	}
	for _, a := range out.ActivationList {
		if aws.ToString(a.ActivationId) == id {
			return &a, nil
		}
	}
	return nil, nil
}

// Tagged lists the activations for iamRole that carry the tag key=value:
// every activation a site made, whatever its record says (one made by a
// renewal that raced a deploy, or a record that cannot be read).
func (m *Manager) Tagged(ctx context.Context, iamRole, key, value string) ([]string, error) {
	return m.taggedWhere(ctx, iamRole, key, value, func(types.Activation) bool { return true })
}

// ExpiredTagged lists the expired activations for iamRole that carry the
// tag key=value (a site's batches once their time is up).
func (m *Manager) ExpiredTagged(ctx context.Context, iamRole, key, value string) ([]string, error) {
	return m.taggedWhere(ctx, iamRole, key, value, func(a types.Activation) bool { return a.Expired })
}

// taggedWhere lists the activations for iamRole with the tag key=value
// that keep says yes to.
func (m *Manager) taggedWhere(ctx context.Context, iamRole, key, value string, keep func(types.Activation) bool) ([]string, error) {
	var ids []string
	pages := ssm.NewDescribeActivationsPaginator(m.SSM, &ssm.DescribeActivationsInput{
		Filters: []types.DescribeActivationsFilter{{FilterKey: types.DescribeActivationsFilterKeysIamRole, FilterValues: []string{iamRole}}},
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the activations of role %s: %w", iamRole, awserr.Explain(err))
		}
		for _, a := range page.ActivationList {
			if keep(a) && slices.ContainsFunc(a.Tags, func(t types.Tag) bool { return aws.ToString(t.Key) == key && aws.ToString(t.Value) == value }) {
				ids = append(ids, aws.ToString(a.ActivationId))
			}
		}
	}
	return ids, nil
}

// Delete removes the activation; one that is already gone, or an id that is
// not an activation id, is success.
func (m *Manager) Delete(ctx context.Context, id string) error {
	if !LooksLikeActivationID(id) {
		return nil
	}
	if _, err := m.SSM.DeleteActivation(ctx, &ssm.DeleteActivationInput{ActivationId: aws.String(id)}); err != nil {
		if Gone(err) {
			m.Log.Info("activation already gone", "activationId", id)
			return nil
		}
		return fmt.Errorf("delete activation %s: %w", id, awserr.Explain(err))
	}
	m.Log.Info("activation deleted", "activationId", id)
	return nil
}

// LooksLikeActivationID matches SSM's activation ids (a UUID).
func LooksLikeActivationID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i, c := range id {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case !strings.ContainsRune("0123456789abcdefABCDEF", c):
			return false
		}
	}
	return true
}
