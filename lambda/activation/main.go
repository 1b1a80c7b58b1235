// Command activation is the Lambda behind Custom::SsmActivation (package
// internal/activationcr): it keeps the site's current SSM activation and
// writes it into the site's secret. The code never appears in a log line or
// a response.
package main

import (
	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ecs-anywhere-stretched/stretched/internal/activationcr"
	"github.com/ecs-anywhere-stretched/stretched/internal/lambdamain"
	"github.com/ecs-anywhere-stretched/stretched/internal/ssmact"
)

func main() {
	log, cfg := lambdamain.Setup()
	h := &activationcr.Handler{M: ssmact.NewManager(ssm.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg), log)}
	lambda.Start(cfn.LambdaWrap(h.Function(log)))
}
