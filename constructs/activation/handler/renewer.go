package handler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ecs-anywhere-stretched/stretched/constructs/activation/contract"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// Renewer renews one site's activation.
type Renewer struct {
	M        *Manager
	Settings contract.Settings
	// RenewDays: renew when the activation expires within this many days.
	// 0 turns renewal off.
	RenewDays int
	Log       *slog.Logger
}

// Event is one site's renewal: the input its EventBridge Scheduler
// schedule sends (constructs/activation), the activation's settings (the
// site's Custom::SsmActivation properties) and the renew days.
type Event struct {
	Settings  map[string]any `json:"settings"`
	RenewDays *int           `json:"renewDays"`
}

// FromEvent reads a renewal's settings from its event; the error names
// every bad field.
func FromEvent(e Event) (Renewer, error) {
	var errs []error
	settings, err := contract.ParseSettings(e.Settings)
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", contract.RenewalSettings, err))
	}
	days := -1
	if e.RenewDays != nil {
		days = *e.RenewDays
	}
	if days < 0 || days >= contract.MaxExpiryDays {
		errs = append(errs, fmt.Errorf("%s is %d: must be a whole number of days from 0 to %d", contract.RenewalRenewDays, days, contract.MaxExpiryDays-1))
	}
	if err := errors.Join(errs...); err != nil {
		return Renewer{}, fmt.Errorf("renewal event: %w; redeploy the site's stack (its renewal schedule sends the event)", err)
	}
	return Renewer{Settings: settings, RenewDays: days}, nil
}

// Outcome is what one run did.
type Outcome struct {
	// Renewed is true when a new activation became current.
	Renewed bool
	// Reason says why it renewed, or why not.
	Reason string
	// Current is the activation current after the run.
	Current contract.Current
}

// Run checks the current activation and replaces it when needed.
func (r *Renewer) Run(ctx context.Context) (Outcome, error) {
	if r.RenewDays == 0 {
		r.Log.Info("renewal is off (activationRenewDays is 0)")
		return Outcome{Reason: "renewal is off"}, nil
	}
	m := r.M.WithLog(r.Log)
	// The stack the schedule names must hold the record it renews.
	stack := r.Settings.Tag(stackscontract.StackTagKey)
	if stack == "" {
		return Outcome{}, fmt.Errorf("renewal refused: its settings name no stack (tag %s); the site's schedule always does, redeploy the site", stackscontract.StackTagKey)
	}
	if err := m.Verify(ctx, stack, r.Settings); err != nil {
		return Outcome{}, fmt.Errorf("renewal: %w", err)
	}
	cur, found, err := m.ReadCurrent(ctx, r.Settings.SecretArn)
	if err != nil {
		return Outcome{}, fmt.Errorf("renewal: %w", err)
	}
	if !found {
		return Outcome{}, fmt.Errorf("renewal: secret %s records no activation: the site's activation custom resource writes it; deploy the site's stack", r.Settings.SecretArn)
	}
	r.cleanUp(ctx, m, cur)
	reason, err := r.why(ctx, m, cur)
	if err != nil {
		return Outcome{Current: cur}, fmt.Errorf("renewal: %w", err)
	}
	if reason == "" {
		r.Log.Info("activation is fresh: nothing to do", "activation", cur)
		return Outcome{Reason: "fresh", Current: cur}, nil
	}
	r.Log.Info("renewing the activation", "activation", cur, "reason", reason)
	next, err := m.Replace(ctx, r.Settings, &cur)
	if errors.Is(err, ErrRecordChanged) {
		// A deploy replaced the activation at the same moment: its new
		// one is current, ours was deleted again; the next run checks it.
		r.Log.Info("the activation was replaced by someone else meanwhile: nothing to do", "error", err)
		return Outcome{Reason: "replaced meanwhile", Current: cur}, nil
	}
	if err != nil && !errors.Is(err, ErrOldNotDeleted) {
		return Outcome{Reason: reason, Current: cur}, fmt.Errorf("renewal (%s) failed; activation %s stays current: %w", reason, cur.ActivationID, err)
	}
	out := Outcome{Renewed: true, Reason: reason, Current: next}
	if err != nil {
		return out, fmt.Errorf("renewal (%s): activation %s is current, but: %w", reason, next.ActivationID, err)
	}
	r.Log.Info("activation renewed", "old", cur.ActivationID, "activation", next)
	return out, nil
}

// cleanUp deletes the site's expired activations other than the current
// one (the batches fleet node userdata made, once their time is up: SSM
// keeps an expired activation listed until it is deleted). A failure is
// logged, not the run's: the next run tries again.
func (r *Renewer) cleanUp(ctx context.Context, m *Manager, cur contract.Current) {
	for _, t := range r.Settings.Tags {
		if t.Key != stackscontract.StackTagKey || t.Value == "" {
			continue
		}
		ids, err := m.ExpiredTagged(ctx, r.Settings.IamRole, t.Key, t.Value)
		if err != nil {
			r.Log.Warn("could not list the site's expired activations; the next run tries again", "error", err)
			return
		}
		for _, id := range ids {
			if id == cur.ActivationID {
				continue // the renewal below replaces it
			}
			if err := m.Delete(ctx, id); err != nil {
				r.Log.Warn("could not delete an expired activation of the site; the next run tries again", "activationId", id, "error", err)
				continue
			}
			r.Log.Info("expired activation of the site deleted", "activationId", id)
		}
	}
}

// why returns the reason to renew, or "" when the activation is fresh.
func (r *Renewer) why(ctx context.Context, m *Manager, cur contract.Current) (string, error) {
	a, err := m.Describe(ctx, cur.ActivationID)
	if err != nil {
		return "", err
	}
	if a == nil {
		return "the activation no longer exists", nil
	}
	if a.Expired {
		return "the activation has expired", nil
	}
	limit, used := aws.ToInt32(a.RegistrationLimit), aws.ToInt32(a.RegistrationsCount)
	if limit > 0 && used >= limit {
		return fmt.Sprintf("the activation is full (%d of %d registrations)", used, limit), nil
	}
	expiry := aws.ToTime(a.ExpirationDate)
	if left := expiry.Sub(m.Now()); left < time.Duration(r.RenewDays)*24*time.Hour {
		return fmt.Sprintf("the activation expires within %d days (at %s)", r.RenewDays, expiry.UTC().Format(time.RFC3339)), nil
	}
	return "", nil
}
