// Package lambdamain is the start-up every Go Lambda of this project shares:
// a JSON logger on stdout and an AWS configuration that retries throttling
// more patiently than the default.
package lambdamain

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// RetryMaxAttempts is how often a throttled or failed AWS call is tried
// (standard retry mode: exponential backoff with jitter).
const RetryMaxAttempts = 8

// Setup returns the logger and the AWS configuration, or exits with a log
// line saying why it could not.
func Setup() (*slog.Logger, aws.Config) {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRetryMaxAttempts(RetryMaxAttempts), config.WithRetryMode(aws.RetryModeStandard))
	if err != nil {
		logger.Error("load AWS configuration", "error", err)
		os.Exit(1)
	}
	return logger, cfg
}
