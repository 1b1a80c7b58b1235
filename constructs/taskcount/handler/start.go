package handler

import (
	"log/slog"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ecs-anywhere-stretched/stretched/internal/cr"
)

// Start is what the Lambda binary runs for contract.Handler: the answer to
// every site's Custom::ServiceTaskCount.
func Start(log *slog.Logger, cfg aws.Config, _ func(string) string) (any, error) {
	h := &Handler{ECS: ecs.NewFromConfig(cfg)}
	return cr.Lenient(log, cfn.LambdaWrap(h.Function(log))), nil
}
