// Command lambda is every Go Lambda of this project in one binary, built
// once per synth (constructs/gofunction). The provided.al2023 runtime passes
// a function's Handler setting as _HANDLER; that name picks what runs:
//
//   - activation: one for the fleet: a site's Custom::SsmActivation
//     (lambda/activationcr) keeps the site's current SSM activation and
//     writes it into the site's secret, and a site's renewal schedule
//     renews it (lambda/renewer); the code never appears in a log line or a
//     response.
//   - siteagent: one for the fleet, once a minute for every site of the site
//     directory and on a container-instance state change for that cluster's
//     site, scales each site's EXTERNAL service on its queue and writes the
//     site's metrics (lambda/agent).
//   - sitenodes: Custom::SiteNodes deregisters a deleted site's nodes
//     (lambda/deregister).
//   - taskcount: Custom::ServiceTaskCount answers the desired count of a
//     site's service (lambda/desiredcount).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ecs-anywhere-stretched/stretched/internal/cr"
	"github.com/ecs-anywhere-stretched/stretched/internal/lambdamain"
	"github.com/ecs-anywhere-stretched/stretched/internal/names"
	"github.com/ecs-anywhere-stretched/stretched/internal/ssmact"
	"github.com/ecs-anywhere-stretched/stretched/lambda/activationcr"
	"github.com/ecs-anywhere-stretched/stretched/lambda/agent"
	"github.com/ecs-anywhere-stretched/stretched/lambda/deregister"
	"github.com/ecs-anywhere-stretched/stretched/lambda/desiredcount"
	"github.com/ecs-anywhere-stretched/stretched/lambda/renewer"
)

// handlers makes, for each handler name, the function lambda.Start runs,
// from the logger, the AWS configuration and the environment.
var handlers = map[string]func(log *slog.Logger, cfg aws.Config, getenv func(string) string) (any, error){
	names.HandlerActivation: func(log *slog.Logger, cfg aws.Config, _ func(string) string) (any, error) {
		m := ssmact.NewManager(ssm.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg), log)
		answer := cfn.LambdaWrap((&activationcr.Handler{M: m}).Function(log))
		return func(ctx context.Context, raw json.RawMessage) (any, error) {
			return activation(ctx, log, m, answer, raw)
		}, nil
	},
	names.HandlerSiteAgent: func(log *slog.Logger, cfg aws.Config, getenv func(string) string) (any, error) {
		f, err := agent.FleetFromEnv(getenv)
		if err != nil {
			return nil, err
		}
		f.SSM, f.ECS, f.SQS, f.Log, f.Metrics, f.Now = ssm.NewFromConfig(cfg), ecs.NewFromConfig(cfg), sqs.NewFromConfig(cfg), log, os.Stdout, time.Now
		return func(ctx context.Context, e agent.Event) (agent.FleetReport, error) {
			rep, err := f.Handle(ctx, e)
			if err != nil {
				log.Error("site agent run failed", "error", err)
			}
			return rep, err
		}, nil
	},
	names.HandlerSiteNodes: func(log *slog.Logger, cfg aws.Config, _ func(string) string) (any, error) {
		h := &deregister.Handler{ECS: ecs.NewFromConfig(cfg), SSM: ssm.NewFromConfig(cfg), CFN: cloudformation.NewFromConfig(cfg)}
		return cr.Lenient(log, cfn.LambdaWrap(h.Function(log))), nil
	},
	names.HandlerTaskCount: func(log *slog.Logger, cfg aws.Config, _ func(string) string) (any, error) {
		h := &desiredcount.Handler{ECS: ecs.NewFromConfig(cfg)}
		return cr.Lenient(log, cfn.LambdaWrap(h.Function(log))), nil
	},
}

// activation answers what reaches the fleet's activation function: a
// CloudFormation request of a site's Custom::SsmActivation, or a site's
// renewal from its schedule.
func activation(ctx context.Context, log *slog.Logger, m *ssmact.Manager, answer cfn.CustomResourceLambdaFunction, raw json.RawMessage) (any, error) {
	var kind struct {
		RequestType string `json:"RequestType"`
	}
	if err := json.Unmarshal(raw, &kind); err != nil {
		return nil, fmt.Errorf("activation: the event is not a JSON object: %w", err)
	}
	if kind.RequestType != "" {
		return cr.Lenient(log, answer)(ctx, raw)
	}
	var e renewer.Event
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("activation: a renewal event that does not parse: %w", err)
	}
	r, err := renewer.FromEvent(e)
	if err != nil {
		log.Error("activation renewal failed", "error", err)
		return nil, err
	}
	r.Log = log.With("stack", r.Settings.StackTag())
	r.M = m
	return logged(r.Log, "activation renewal failed", r.Run)(ctx)
}

// logged is a scheduled handler whose failure is also logged, with what
// failed (the runtime reports only the error).
func logged[T any](log *slog.Logger, failed string, run func(context.Context) (T, error)) func(context.Context) (T, error) {
	return func(ctx context.Context) (T, error) {
		out, err := run(ctx)
		if err != nil {
			log.Error(failed, "error", err)
		}
		return out, err
	}
}

// handler returns what the function named by _HANDLER runs.
func handler(log *slog.Logger, cfg aws.Config, getenv func(string) string) (any, error) {
	name := getenv("_HANDLER")
	build, ok := handlers[name]
	if !ok {
		known := slices.Sorted(maps.Keys(handlers))
		return nil, fmt.Errorf("_HANDLER is %q: set the function's Handler to one of %s", name, strings.Join(known, ", "))
	}
	h, err := build(log, cfg, getenv)
	if err != nil {
		return nil, fmt.Errorf("handler %s: bad environment: %w", name, err)
	}
	return h, nil
}

func main() {
	log, cfg := lambdamain.Setup()
	h, err := handler(log, cfg, os.Getenv)
	if err != nil {
		log.Error("cannot start", "error", err)
		os.Exit(1)
	}
	lambda.Start(h)
}
