package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ecs-anywhere-stretched/stretched/internal/cr"
)

// Start is what the Lambda binary runs for contract.Handler: the fleet's
// activation function, which answers CloudFormation's requests of every
// site's Custom::SsmActivation and every site's renewal schedule.
func Start(log *slog.Logger, cfg aws.Config, _ func(string) string) (any, error) {
	m := NewManager(ssm.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg), log)
	m.Stacks = cloudformation.NewFromConfig(cfg)
	answer := cfn.LambdaWrap((&Handler{M: m}).Function(log))
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		return dispatch(ctx, log, m, answer, raw)
	}, nil
}

// dispatch answers what reaches the fleet's activation function: a
// CloudFormation request of a site's Custom::SsmActivation, or a site's
// renewal from its schedule.
func dispatch(ctx context.Context, log *slog.Logger, m *Manager, answer cfn.CustomResourceLambdaFunction, raw json.RawMessage) (any, error) {
	var kind struct {
		RequestType string `json:"RequestType"`
	}
	if err := json.Unmarshal(raw, &kind); err != nil {
		return nil, fmt.Errorf("activation: the event is not a JSON object: %w", err)
	}
	if kind.RequestType != "" {
		return cr.Lenient(log, answer)(ctx, raw)
	}
	var e Event
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("activation: a renewal event that does not parse: %w", err)
	}
	r, err := FromEvent(e)
	if err != nil {
		log.Error("activation renewal failed", "error", err)
		return nil, err
	}
	r.Log = log.With("stack", r.Settings.StackTag())
	r.M = m
	out, err := r.Run(ctx)
	if err != nil {
		r.Log.Error("activation renewal failed", "error", err)
	}
	return out, err
}
