// Command fleet tells whether a stretched ECS Anywhere deployment is
// healthy: `go run ./cmd/fleet status` (or `make status`) prints, from the
// deployed stacks, the queue, the regional service and, per site, the
// activations, managed instances, container instances and service. Exit
// status: 0 healthy, 1 unhealthy (a node disconnected, tasks below desired,
// dead letters present, ...), 2 when it cannot tell (no credentials, no
// stack). It never reads or prints an activation code.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ecs-anywhere-stretched/stretched/internal/names"
	"github.com/ecs-anywhere-stretched/stretched/internal/status"
)

// Exit statuses.
const (
	exitHealthy   = 0
	exitUnhealthy = 1
	exitError     = 2
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintf(stderr, "usage: fleet status [--prefix %s] [--region REGION] [--json]\n", names.DefaultStackPrefix)
	}
	if len(args) == 0 || args[0] != "status" {
		usage()
		return exitError
	}
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	prefix := fs.String("prefix", names.DefaultStackPrefix, "stack prefix of the app (context key stackPrefix)")
	region := fs.String("region", "", "AWS region of the stacks (default: the AWS configuration's)")
	asJSON := fs.Bool("json", false, "print JSON instead of tables")
	if err := fs.Parse(args[1:]); err != nil {
		return exitError
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "fleet status: "+format+"\n", a...)
		return exitError
	}
	opts := []func(*config.LoadOptions) error{config.WithRetryMaxAttempts(5)}
	if *region != "" {
		opts = append(opts, config.WithRegion(*region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return fail("load the AWS configuration: %v", err)
	}
	if cfg.Region == "" {
		return fail("no AWS region: pass --region or set AWS_REGION (or a region in your AWS profile)")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return fail("no AWS credentials found: set AWS_PROFILE, run `aws configure` or `aws sso login`, then run this again (%v)", err)
	}
	c := status.Clients{
		CloudFormation: cloudformation.NewFromConfig(cfg), SQS: sqs.NewFromConfig(cfg), CloudWatch: cloudwatch.NewFromConfig(cfg),
		ECS: ecs.NewFromConfig(cfg), SSM: ssm.NewFromConfig(cfg), Now: time.Now,
	}
	f, err := status.Gather(ctx, c, *prefix)
	if err != nil {
		if errors.Is(err, status.ErrNoStack) {
			return fail("%v (region %s)", err, cfg.Region)
		}
		return fail("%v", err)
	}
	if *asJSON {
		err = status.WriteJSON(stdout, f)
	} else {
		err = status.WriteText(stdout, f, c.Now())
	}
	if err != nil {
		return fail("write: %v", err)
	}
	if !f.Healthy {
		return exitUnhealthy
	}
	return exitHealthy
}
