package handler

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// Start is what the Lambda binary runs for contract.Handler: the fleet's
// site agent, configured by its environment (FleetFromEnv).
func Start(log *slog.Logger, cfg aws.Config, getenv func(string) string) (any, error) {
	f, err := FleetFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	f.SSM, f.ECS, f.SQS, f.Log, f.Metrics, f.Now = ssm.NewFromConfig(cfg), ecs.NewFromConfig(cfg), sqs.NewFromConfig(cfg), log, os.Stdout, time.Now
	return func(ctx context.Context, e Event) (FleetReport, error) {
		rep, err := f.Handle(ctx, e)
		if err != nil {
			log.Error("site agent run failed", "error", err)
		}
		return rep, err
	}, nil
}
