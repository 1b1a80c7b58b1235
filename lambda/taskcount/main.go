// Command taskcount is the Lambda behind Custom::ServiceTaskCount (package
// internal/taskcount): the count a site's service is deployed with.
package main

import (
	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ecs-anywhere-stretched/stretched/internal/lambdamain"
	"github.com/ecs-anywhere-stretched/stretched/internal/taskcount"
)

func main() {
	log, cfg := lambdamain.Setup()
	h := &taskcount.Handler{ECS: ecs.NewFromConfig(cfg)}
	lambda.Start(cfn.LambdaWrap(h.Function(log)))
}
