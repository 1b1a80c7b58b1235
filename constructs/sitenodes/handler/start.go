package handler

import (
	"log/slog"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ecs-anywhere-stretched/stretched/internal/cr"
)

// Start is what the Lambda binary runs for contract.Handler: the answer to
// every site's Custom::SiteNodes.
func Start(log *slog.Logger, cfg aws.Config, _ func(string) string) (any, error) {
	h := &Handler{ECS: ecs.NewFromConfig(cfg), SSM: ssm.NewFromConfig(cfg), CFN: cloudformation.NewFromConfig(cfg)}
	return cr.Lenient(log, cfn.LambdaWrap(h.Function(log))), nil
}
