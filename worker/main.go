// Command worker consumes the work queue: each message body names a file in
// EFS_SOURCE_FOLDER, which is moved to EFS_DESTINATION_FOLDER as
// <name>_has_been_processed before the message is deleted. It runs the same in
// the region (Fargate, EFS) and on ECS Anywhere nodes (host /data).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

func main() { os.Exit(run()) }

func run() int {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "worker: bad configuration:\n%v\n", err)
		log.Error("bad configuration", "error", err.Error())
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// The SDK's standard configuration applies, AWS_ENDPOINT_URL_SQS included.
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithRegion(cfg.Region))
	if err != nil {
		log.Error("load AWS configuration", "error", err.Error())
		return 1
	}
	if err := newWorker(cfg, sqs.NewFromConfig(awsCfg), log).run(ctx); err != nil {
		log.Error("worker failed", "error", err.Error())
		return 1
	}
	return 0
}
