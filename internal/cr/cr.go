// Package cr is what this project's Go custom-resource handlers share: a
// deadline margin so CloudFormation always gets an answer, panics turned into
// FAILED answers (so Lambda never re-runs a request), and one log line per
// request.
package cr

import (
	"context"
	"encoding/json"
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

// Lenient is what lambda.Start runs for a custom resource: answer with the
// request parsed. A request that does not parse as one (a property of the
// wrong shape, a hand-made event) never reaches answer; the Lambda runtime
// would fail it without a word to CloudFormation, which then waits an hour
// for the answer and Lambda retries twice. Lenient answers FAILED instead,
// through the ResponseURL the request names, and returns no error, so
// nothing retries.
func Lenient(log *slog.Logger, answer cfn.CustomResourceLambdaFunction) func(context.Context, json.RawMessage) (string, error) {
	return func(ctx context.Context, raw json.RawMessage) (string, error) {
		var e cfn.Event
		if err := json.Unmarshal(raw, &e); err != nil {
			return "", Refuse(log, raw, fmt.Errorf("the request does not parse as a CloudFormation custom resource request: %w", err))
		}
		return answer(ctx, e)
	}
}

// Refuse answers FAILED, with reason, to a request read only as far as its
// answer needs (ResponseURL, StackId, RequestId, LogicalResourceId,
// PhysicalResourceId). Without a ResponseURL there is nobody to answer:
// it returns reason.
func Refuse(log *slog.Logger, raw json.RawMessage, reason error) error {
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	field := func(k string) string { s, _ := m[k].(string); return s }
	e := cfn.Event{
		RequestType: cfn.RequestType(field("RequestType")), ResponseURL: field("ResponseURL"), StackID: field("StackId"),
		RequestID: field("RequestId"), LogicalResourceID: field("LogicalResourceId"), PhysicalResourceID: field("PhysicalResourceId"),
	}
	log = log.With("requestType", string(e.RequestType), "logicalResourceId", e.LogicalResourceID)
	if e.ResponseURL == "" {
		log.Error("request without a ResponseURL: nobody to answer", "error", reason)
		return reason
	}
	r := cfn.NewResponse(&e)
	r.Status, r.Reason, r.PhysicalResourceID = cfn.StatusFailed, reason.Error(), FallbackID(e)
	if r.PhysicalResourceID == "" {
		r.PhysicalResourceID = "unreadable-" + e.RequestID
	}
	if err := r.Send(); err != nil {
		log.Error("answering FAILED failed", "error", err, "reason", reason)
		return fmt.Errorf("%w; and answering FAILED: %w", reason, err)
	}
	log.Error("request failed", "error", reason)
	return nil
}

// PropServiceToken is the property every custom resource has: the function
// CloudFormation sends its requests to. It does not describe the resource.
const PropServiceToken = "ServiceToken"
