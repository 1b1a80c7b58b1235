// Command lambda is every Go Lambda of this project in one binary, built
// once per synth (constructs/gofunction). The provided.al2023 runtime passes
// a function's Handler setting as _HANDLER; that name picks which feature's
// handler runs. Each feature keeps its handler beside its construct
// (constructs/<feature>/handler) and its name in its contract
// (constructs/<feature>/contract.Handler); this file only lists them:
//
//   - activation: a site's Custom::SsmActivation and its renewal schedule;
//   - siteagent: scales every site's EXTERNAL service on its queue and writes
//     the fleet's metrics;
//   - sitenodes: Custom::SiteNodes deregisters a deleted site's nodes;
//   - taskcount: Custom::ServiceTaskCount answers a site service's desired
//     count.
package main

import (
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"

	activation "github.com/ecs-anywhere-stretched/stretched/constructs/activation/contract"
	activationhandler "github.com/ecs-anywhere-stretched/stretched/constructs/activation/handler"
	siteagent "github.com/ecs-anywhere-stretched/stretched/constructs/siteagent/contract"
	siteagenthandler "github.com/ecs-anywhere-stretched/stretched/constructs/siteagent/handler"
	sitenodes "github.com/ecs-anywhere-stretched/stretched/constructs/sitenodes/contract"
	sitenodeshandler "github.com/ecs-anywhere-stretched/stretched/constructs/sitenodes/handler"
	taskcount "github.com/ecs-anywhere-stretched/stretched/constructs/taskcount/contract"
	taskcounthandler "github.com/ecs-anywhere-stretched/stretched/constructs/taskcount/handler"
	"github.com/ecs-anywhere-stretched/stretched/internal/lambdamain"
)

// starter makes the function lambda.Start runs from the logger, the AWS
// configuration and the environment; each feature's handler.Start is one.
type starter func(log *slog.Logger, cfg aws.Config, getenv func(string) string) (any, error)

// handlers maps each feature's handler name to its Start.
var handlers = map[string]starter{
	activation.Handler: activationhandler.Start,
	siteagent.Handler:  siteagenthandler.Start,
	sitenodes.Handler:  sitenodeshandler.Start,
	taskcount.Handler:  taskcounthandler.Start,
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
