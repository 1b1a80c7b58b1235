// Command activation is the Lambda behind the Custom::SsmActivation resource:
// it creates, replaces and deletes the SSM hybrid activation that ECS Anywhere
// nodes join with, and writes the activation code into a Secrets Manager
// secret. The code never appears in a log line or a response.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := config.LoadDefaultConfig(context.Background(),
		// Throttling is retried with backoff, more patiently than the default.
		config.WithRetryMaxAttempts(8), config.WithRetryMode("standard"))
	if err != nil {
		logger.Error("load AWS configuration", "error", err)
		os.Exit(1)
	}
	h := newHandler(ssm.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg), logger)
	lambda.Start(cfn.LambdaWrap(h.handle))
}
