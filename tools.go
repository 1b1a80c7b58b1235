//go:build tools

// Package main pins the modules the project imports until every importer exists.
package main

import (
	_ "github.com/aws/aws-cdk-go/awscdk/v2"
	_ "github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	_ "github.com/aws/aws-cdk-go/awscdklambdagoalpha/v2"
	_ "github.com/aws/aws-lambda-go/cfn"
	_ "github.com/aws/aws-lambda-go/lambda"
	_ "github.com/aws/aws-sdk-go-v2/aws"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/credentials"
	_ "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	_ "github.com/aws/aws-sdk-go-v2/service/sqs"
	_ "github.com/aws/aws-sdk-go-v2/service/ssm"
	_ "github.com/aws/constructs-go/constructs/v10"
	_ "github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

func main() {}
