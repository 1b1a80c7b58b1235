// Package cr is what this project's Go custom-resource handlers share: a
// deadline margin so CloudFormation always gets an answer, panics turned into
// FAILED answers (so Lambda never re-runs a request), and one log line per
// request.
package cr

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
)

// Handler answers one CloudFormation request.
type Handler func(ctx context.Context, log *slog.Logger, e cfn.Event) (physicalID string, data map[string]any, err error)

// Margin is the time kept, before the Lambda's deadline, to answer
// CloudFormation: a stack must never wait an hour for a lost answer.
const Margin = 15 * time.Second

// Wrap makes h a cfn.CustomResourceFunction for cfn.LambdaWrap. name says
// which handler a panic came from.
func Wrap(name string, log *slog.Logger, h Handler) cfn.CustomResourceFunction {
	return func(ctx context.Context, e cfn.Event) (id string, data map[string]any, err error) {
		log := log.With("requestType", string(e.RequestType), "logicalResourceId", e.LogicalResourceID, "physicalResourceId", e.PhysicalResourceID)
		defer func() {
			if r := recover(); r != nil {
				log.Error("handler panicked", "panic", fmt.Sprint(r))
				id, data, err = FallbackID(e), nil, fmt.Errorf("internal error in the %s handler (%v); see its log group", name, r)
			}
			if err != nil {
				log.Error("request failed", "error", err)
			} else {
				log.Info("request succeeded", "physicalResourceId", id)
			}
		}()
		if dl, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, dl.Add(-Margin))
			defer cancel()
		}
		switch e.RequestType {
		case cfn.RequestCreate, cfn.RequestUpdate, cfn.RequestDelete:
			return h(ctx, log, e)
		}
		return FallbackID(e), nil, fmt.Errorf("request type %q is not Create, Update or Delete", e.RequestType)
	}
}

// FallbackID is the physical id to answer with when a request fails before
// the handler chose one.
func FallbackID(e cfn.Event) string {
	if e.RequestType == cfn.RequestCreate {
		return "create-failed-" + e.RequestID
	}
	return e.PhysicalResourceID
}
