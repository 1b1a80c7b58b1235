// Command siteagent is the Lambda that, once a minute and on every
// container-instance state change of its site, scales the site's EXTERNAL
// service on the queue and writes the site's metrics (package
// internal/siteagent).
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/ecs-anywhere-stretched/stretched/internal/lambdamain"
	"github.com/ecs-anywhere-stretched/stretched/internal/siteagent"
)

func main() {
	log, cfg := lambdamain.Setup()
	agent, err := siteagent.FromEnv(os.Getenv)
	if err != nil {
		log.Error("bad environment", "error", err)
		os.Exit(1)
	}
	agent.ECS, agent.SQS, agent.Log, agent.Metrics, agent.Now = ecs.NewFromConfig(cfg), sqs.NewFromConfig(cfg), log, os.Stdout, time.Now
	lambda.Start(func(ctx context.Context) (siteagent.Report, error) {
		r, err := agent.Run(ctx)
		if err != nil {
			log.Error("site agent run failed", "error", err)
		}
		return r, err
	})
}
