package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
)

// ssmAPI is what the handler calls of SSM; *ssm.Client satisfies it.
type ssmAPI interface {
	CreateActivation(context.Context, *ssm.CreateActivationInput, ...func(*ssm.Options)) (*ssm.CreateActivationOutput, error)
	DeleteActivation(context.Context, *ssm.DeleteActivationInput, ...func(*ssm.Options)) (*ssm.DeleteActivationOutput, error)
	DescribeActivations(context.Context, *ssm.DescribeActivationsInput, ...func(*ssm.Options)) (*ssm.DescribeActivationsOutput, error)
}

// secretsAPI is what the handler calls of Secrets Manager.
type secretsAPI interface {
	PutSecretValue(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
}

// handler answers CloudFormation for one activation.
type handler struct {
	ssm     ssmAPI
	secrets secretsAPI
	log     *slog.Logger
	now     func() time.Time
	// sleep waits d or until ctx ends.
	sleep func(ctx context.Context, d time.Duration) error
	// margin is the time kept, before the Lambda's deadline, to answer
	// CloudFormation: a stack must never wait an hour for a lost answer.
	margin time.Duration
	// backoff is the first wait while IAM makes a new role assumable by SSM.
	backoff, maxBackoff time.Duration
}

func newHandler(s ssmAPI, sec secretsAPI, log *slog.Logger) *handler {
	return &handler{
		ssm: s, secrets: sec, log: log, now: time.Now, sleep: sleepCtx,
		margin: 15 * time.Second, backoff: 2 * time.Second, maxBackoff: 20 * time.Second,
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// handle is the cfn.CustomResourceFunction. A panic becomes an error, so
// the Lambda still returns normally after LambdaWrap answered FAILED, and
// Lambda does not retry (a retried Create would make an orphan activation).
func (h *handler) handle(ctx context.Context, e cfn.Event) (id string, data map[string]any, err error) {
	log := h.log.With("requestType", string(e.RequestType), "logicalResourceId", e.LogicalResourceID, "physicalResourceId", e.PhysicalResourceID)
	defer func() {
		if r := recover(); r != nil {
			log.Error("handler panicked", "panic", fmt.Sprint(r))
			id, data, err = fallbackID(e), nil, fmt.Errorf("internal error in the activation handler (%v); see its log group", r)
		}
		if err != nil {
			log.Error("request failed", "error", err)
		} else {
			log.Info("request succeeded", "activationId", id)
		}
	}()
	// Keep time to answer CloudFormation before the Lambda is stopped.
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-h.margin))
		defer cancel()
	}
	switch e.RequestType {
	case cfn.RequestCreate:
		p, err := parseProps(e.ResourceProperties)
		if err == nil {
			id, data, err = h.create(ctx, log, p)
		}
		if err != nil {
			// Not an activation id: the Delete CloudFormation sends while
			// rolling back knows there is nothing to delete.
			return "create-failed-" + e.RequestID, nil, err
		}
		return id, data, nil
	case cfn.RequestUpdate:
		p, err := parseProps(e.ResourceProperties)
		if err != nil {
			return e.PhysicalResourceID, nil, err
		}
		if !changed(e.OldResourceProperties, e.ResourceProperties) {
			data, found, err := h.describe(ctx, e.PhysicalResourceID, p.SecretArn)
			if err != nil {
				return e.PhysicalResourceID, nil, err
			}
			if found {
				log.Info("properties unchanged: keeping the activation")
				return e.PhysicalResourceID, data, nil
			}
			log.Warn("activation no longer exists: making a new one")
		}
		return h.create(ctx, log, p)
	case cfn.RequestDelete:
		return e.PhysicalResourceID, nil, h.delete(ctx, log, e.PhysicalResourceID)
	}
	return fallbackID(e), nil, fmt.Errorf("request type %q is not Create, Update or Delete", e.RequestType)
}

func fallbackID(e cfn.Event) string {
	if e.RequestType == cfn.RequestCreate {
		return e.RequestID
	}
	return e.PhysicalResourceID
}

// create makes the activation and stores its code; if storing fails it
// deletes the activation again, so nothing is orphaned.
func (h *handler) create(ctx context.Context, log *slog.Logger, p props) (string, map[string]any, error) {
	expiry := h.now().UTC().Add(time.Duration(p.ExpiryDays) * 24 * time.Hour)
	if p.ExpiryDays == 30 {
		// SSM refuses more than 30 days counted from its own clock.
		expiry = expiry.Add(-5 * time.Minute)
	}
	in := &ssm.CreateActivationInput{
		IamRole:           aws.String(p.IamRole),
		RegistrationLimit: aws.Int32(p.RegistrationLimit),
		ExpirationDate:    aws.Time(expiry),
	}
	if p.DefaultInstanceName != "" {
		in.DefaultInstanceName = aws.String(p.DefaultInstanceName)
	}
	if p.Description != "" {
		in.Description = aws.String(p.Description)
	}
	for _, t := range p.Tags {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	out, err := h.createWithPropagationRetry(ctx, log, in)
	if err != nil {
		return "", nil, err
	}
	id := aws.ToString(out.ActivationId)
	log.Info("activation created", "activationId", id, "expirationDate", expiry.Format(time.RFC3339))
	if _, err := h.secrets.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:     aws.String(p.SecretArn),
		SecretString: out.ActivationCode,
	}); err != nil {
		werr := fmt.Errorf("write the activation code into secret %s: %w", p.SecretArn, explain(err))
		if _, derr := h.ssm.DeleteActivation(context.WithoutCancel(ctx), &ssm.DeleteActivationInput{ActivationId: aws.String(id)}); derr != nil && !gone(derr) {
			return "", nil, errors.Join(werr, fmt.Errorf("and delete activation %s again: %w (delete it by hand)", id, derr))
		}
		log.Info("activation deleted after the failed secret write", "activationId", id)
		return "", nil, werr
	}
	log.Info("activation code stored", "activationId", id, "secretArn", p.SecretArn)
	return id, dataOf(id, expiry, p.SecretArn), nil
}

func dataOf(id string, expiry time.Time, secretArn string) map[string]any {
	return map[string]any{
		"ActivationId":   id,
		"ExpirationDate": expiry.UTC().Format(time.RFC3339),
		"SecretArn":      secretArn,
	}
}

// createWithPropagationRetry retries while SSM cannot yet assume a role IAM
// has just created, with capped exponential backoff, until ctx's deadline.
func (h *handler) createWithPropagationRetry(ctx context.Context, log *slog.Logger, in *ssm.CreateActivationInput) (*ssm.CreateActivationOutput, error) {
	wait := h.backoff
	for attempt := 1; ; attempt++ {
		out, err := h.ssm.CreateActivation(ctx, in)
		if err == nil {
			return out, nil
		}
		if !rolePropagating(err) {
			return nil, fmt.Errorf("create the activation for role %s: %w", aws.ToString(in.IamRole), explain(err))
		}
		if dl, ok := ctx.Deadline(); ok && h.now().Add(wait).After(dl) {
			return nil, fmt.Errorf("create the activation: SSM still cannot use role %s after %d attempts (%v); check the role trusts ssm.amazonaws.com, then retry the deployment", aws.ToString(in.IamRole), attempt, err)
		}
		log.Warn("role not yet usable by SSM, retrying", "attempt", attempt, "wait", wait.String())
		if err := h.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("create the activation: stopped waiting for role %s: %w", aws.ToString(in.IamRole), err)
		}
		wait = min(2*wait, h.maxBackoff)
	}
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

// explain adds what a person can do about common failures.
func explain(err error) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "AccessDeniedException", "AccessDenied", "UnauthorizedOperation":
			return fmt.Errorf("access denied (%s): the handler's role lacks a permission the activation construct grants; check that no permissions boundary or SCP removes it: %w", api.ErrorMessage(), err)
		case "ThrottlingException", "Throttling", "TooManyUpdates":
			return fmt.Errorf("still throttled after retries: deploy again later: %w", err)
		}
	}
	return err
}

// gone reports an activation that no longer exists.
func gone(err error) bool {
	var inv *types.InvalidActivation
	var invID *types.InvalidActivationId
	return errors.As(err, &inv) || errors.As(err, &invID)
}

// describe returns the data of an existing activation; found is false when
// it does not exist (any more).
func (h *handler) describe(ctx context.Context, id, secretArn string) (map[string]any, bool, error) {
	out, err := h.ssm.DescribeActivations(ctx, &ssm.DescribeActivationsInput{
		Filters: []types.DescribeActivationsFilter{{FilterKey: types.DescribeActivationsFilterKeysActivationIds, FilterValues: []string{id}}},
	})
	if err != nil {
		if gone(err) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("describe activation %s: %w", id, explain(err))
	}
	for _, a := range out.ActivationList {
		if aws.ToString(a.ActivationId) == id {
			return dataOf(id, aws.ToTime(a.ExpirationDate), secretArn), true, nil
		}
	}
	return nil, false, nil
}

// delete removes the activation; one that is already gone, or an id that was
// never an activation (after a failed create), is success so the stack can
// always be deleted.
func (h *handler) delete(ctx context.Context, log *slog.Logger, id string) error {
	if !looksLikeActivationID(id) {
		log.Info("physical id is not an activation id: nothing to delete")
		return nil
	}
	if _, err := h.ssm.DeleteActivation(ctx, &ssm.DeleteActivationInput{ActivationId: aws.String(id)}); err != nil {
		if gone(err) {
			log.Info("activation already gone", "activationId", id)
			return nil
		}
		return fmt.Errorf("delete activation %s: %w", id, explain(err))
	}
	log.Info("activation deleted", "activationId", id)
	return nil
}

// looksLikeActivationID matches SSM's activation ids (a UUID).
func looksLikeActivationID(id string) bool {
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
