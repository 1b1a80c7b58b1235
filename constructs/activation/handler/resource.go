package handler

import (
	"context"
	"errors"
	"log/slog"
	"slices"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ecs-anywhere-stretched/stretched/constructs/activation/contract"
	"github.com/ecs-anywhere-stretched/stretched/internal/cr"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// Handler answers CloudFormation for one site's activation.
type Handler struct {
	M *Manager
}

// Function is the cfn.CustomResourceFunction for cfn.LambdaWrap.
func (h *Handler) Function(log *slog.Logger) cfn.CustomResourceFunction {
	return cr.Wrap(contract.Handler, log, h.handle)
}

// PhysicalID is the resource's id: stable for the life of the site, so
// CloudFormation never deletes what it thinks is an old activation.
func PhysicalID(secretArn string) string { return "activation-of:" + secretArn }

func (h *Handler) handle(ctx context.Context, log *slog.Logger, e cfn.Event) (string, map[string]any, error) {
	m := h.M.WithLog(log)
	switch e.RequestType {
	case cfn.RequestCreate:
		s, err := contract.ParseSettings(e.ResourceProperties)
		if err == nil {
			err = m.Verify(ctx, e.StackID, s)
		}
		if err == nil {
			_, err = m.Replace(ctx, s, recorded(ctx, m, s.SecretArn))
			if errors.Is(err, ErrOldNotDeleted) {
				log.Warn("new activation is current, the one it took over is left to expire", "error", err)
				err = nil
			}
		}
		if err != nil {
			// Not this resource's id: the Delete CloudFormation sends while
			// rolling back knows there is nothing to delete.
			return cr.FallbackID(e), nil, err
		}
		return PhysicalID(s.SecretArn), data(s.SecretArn), nil
	case cfn.RequestUpdate:
		s, err := contract.ParseSettings(e.ResourceProperties)
		if err == nil {
			err = m.Verify(ctx, e.StackID, s)
		}
		if err != nil {
			return e.PhysicalResourceID, nil, err
		}
		// A renewal that writes the record at the same moment wins; this
		// update then works on what it wrote.
		for attempt := 1; ; attempt++ {
			id, data, err := h.update(ctx, log, m, e, s)
			if !errors.Is(err, ErrRecordChanged) || attempt == 3 {
				return id, data, err
			}
			log.Info("the activation record changed meanwhile (a renewal): reading it again", "error", err)
		}
	default: // cfn.RequestDelete
		secretArn, _ := e.ResourceProperties[contract.PropSecretArn].(string)
		s, err := contract.ParseSettings(e.ResourceProperties)
		if err != nil {
			s = contract.Settings{SecretArn: secretArn}
		}
		if err := m.Verify(ctx, e.StackID, s); err != nil {
			return e.PhysicalResourceID, nil, err
		}
		// ssm:DeleteActivation has no resource-level permission: what
		// keeps the function to the site's own activations is this. It
		// deletes those the site's record names (the secret is the
		// stack's: Verify), those for the site's instance role carrying
		// the site's stack tag (one the record does not name: a renewal
		// that raced a deploy, a record that cannot be read), and the
		// first version's (its physical id) only when it is for the
		// site's instance role.
		cur, found, err := current(ctx, m, secretArn, "")
		if err != nil {
			return e.PhysicalResourceID, nil, err
		}
		var ids []string
		if found {
			ids = append([]string{cur.ActivationID}, cur.Previous...)
		} else if LooksLikeActivationID(e.PhysicalResourceID) {
			a, err := m.Describe(ctx, e.PhysicalResourceID)
			if err != nil {
				return e.PhysicalResourceID, nil, err
			}
			if a != nil && s.IamRole != "" && aws.ToString(a.IamRole) == s.IamRole {
				ids = append(ids, e.PhysicalResourceID)
			} else if a != nil {
				log.Warn("refused: the resource's id names an activation of another role: left alone", "activationId", e.PhysicalResourceID, "iamRole", aws.ToString(a.IamRole))
			}
		}
		tagged, err := siteActivations(ctx, m, e.ResourceProperties)
		if err != nil {
			return e.PhysicalResourceID, nil, err
		}
		for _, id := range tagged {
			if !slices.Contains(ids, id) {
				log.Info("deleting an activation of the site its record does not name", "activationId", id)
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			log.Info("no activation recorded or tagged: nothing to delete")
			return e.PhysicalResourceID, nil, nil
		}
		var errs []error
		for _, id := range ids {
			if err := m.Delete(ctx, id); err != nil {
				errs = append(errs, err)
			}
		}
		return e.PhysicalResourceID, nil, errors.Join(errs...)
	}
}

// siteActivations are the activations for the site's instance role that
// carry its stack tag, from the resource's own properties; none when they
// do not name both (a stack made before the tag).
func siteActivations(ctx context.Context, m *Manager, props map[string]any) ([]string, error) {
	s, err := contract.ParseSettings(props)
	if err != nil {
		m.Log.Warn("properties unreadable: only the recorded activations are deleted", "error", err)
		return nil, nil
	}
	for _, t := range s.Tags {
		if t.Key == stackscontract.StackTagKey && t.Value != "" {
			return m.Tagged(ctx, s.IamRole, t.Key, t.Value)
		}
	}
	return nil, nil
}

// current is the activation the secret names. A stack made by an earlier
// version of this project used the activation id as the physical id and kept
// only the code in the secret: then the physical id is the current one.
func current(ctx context.Context, m *Manager, secretArn, physicalID string) (contract.Current, bool, error) {
	if secretArn != "" {
		cur, found, err := m.ReadCurrent(ctx, secretArn)
		if err != nil || found {
			return cur, found, err
		}
	}
	if LooksLikeActivationID(physicalID) {
		return contract.Current{ActivationID: physicalID}, true, nil
	}
	return contract.Current{}, false, nil
}

// recorded is the activation a site's secret records when its custom
// resource is created: none on a new site; on a site upgraded from the
// version whose own function answered it, the activation the old (retained)
// resource made, which the new one takes over and deletes once its own is
// current. A record that cannot be read is left to expire (at most the
// site's expiry days), not a reason to fail the deploy.
func recorded(ctx context.Context, m *Manager, secretArn string) *contract.Current {
	cur, found, err := m.ReadCurrent(ctx, secretArn)
	if err != nil {
		m.Log.Warn("the secret's record cannot be read: the activation it names, if any, is left to expire", "error", err)
		return nil
	}
	if !found {
		return nil
	}
	m.Log.Info("taking over the activation the secret records", "activationId", cur.ActivationID)
	return &cur
}

func data(secretArn string) map[string]any {
	return map[string]any{contract.AttrSecretArn: secretArn}
}

// update answers one Update with the record as it is now.
func (h *Handler) update(ctx context.Context, log *slog.Logger, m *Manager, e cfn.Event, s contract.Settings) (string, map[string]any, error) {
	cur, found, err := current(ctx, m, s.SecretArn, e.PhysicalResourceID)
	if err != nil {
		return e.PhysicalResourceID, nil, err
	}
	if !contract.Changed(e.OldResourceProperties, e.ResourceProperties) && found {
		a, err := m.Describe(ctx, cur.ActivationID)
		if err != nil {
			return e.PhysicalResourceID, nil, err
		}
		if a != nil && cur.ActivationCode != "" {
			log.Info("properties unchanged: keeping the current activation", "activation", cur)
			return e.PhysicalResourceID, data(s.SecretArn), nil
		}
		log.Warn("current activation no longer exists: making a new one", "activationId", cur.ActivationID)
	}
	var old *contract.Current
	if found {
		old = &cur
	}
	if _, err := m.Replace(ctx, s, old); err != nil && !errors.Is(err, ErrOldNotDeleted) {
		return e.PhysicalResourceID, nil, err
	} else if err != nil {
		// The new activation is current; failing now would make
		// CloudFormation roll back and create yet another.
		log.Warn("new activation is current, the old one is left to expire", "error", err)
	}
	return e.PhysicalResourceID, data(s.SecretArn), nil
}
