// Command renewer is the scheduled Lambda that renews a site's activation
// (package internal/renewer). Its settings come from its environment, written
// by constructs/activation from the same values as the custom resource's.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ecs-anywhere-stretched/stretched/internal/lambdamain"
	"github.com/ecs-anywhere-stretched/stretched/internal/renewer"
	"github.com/ecs-anywhere-stretched/stretched/internal/ssmact"
)

func main() {
	log, cfg := lambdamain.Setup()
	r, err := renewer.FromEnv(os.Getenv)
	if err != nil {
		log.Error("bad environment", "error", err)
		os.Exit(1)
	}
	r.M, r.Log = ssmact.NewManager(ssm.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg), log), log
	lambda.Start(func(ctx context.Context) (renewer.Outcome, error) {
		out, err := r.Run(ctx)
		if err != nil {
			log.Error("activation renewal failed", "error", err)
		}
		return out, err
	})
}
