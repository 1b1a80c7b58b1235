// Command sitenodes is the Lambda behind Custom::SiteNodes (package
// internal/sitenodes): on stack deletion it deregisters the site's nodes.
package main

import (
	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ecs-anywhere-stretched/stretched/internal/lambdamain"
	"github.com/ecs-anywhere-stretched/stretched/internal/sitenodes"
)

func main() {
	log, cfg := lambdamain.Setup()
	h := &sitenodes.Handler{ECS: ecs.NewFromConfig(cfg), SSM: ssm.NewFromConfig(cfg), CFN: cloudformation.NewFromConfig(cfg)}
	lambda.Start(cfn.LambdaWrap(h.Function(log)))
}
