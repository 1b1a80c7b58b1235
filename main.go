// Command stretched is the CDK app of the stretched ECS Anywhere deployment:
// one regional stack and one anywhere stack per on-premises site.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/internal/synthenv"
	"github.com/ecs-anywhere-stretched/stretched/stacks"
)

func main() {
	synthenv.SkipBuiltInValidation()
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	cfg, err := stacks.LoadConfig(app)
	if err == nil && cfg.Pipeline != nil {
		// Pipeline mode: the pipeline stack, whose stage holds the stacks.
		_, err = stacks.BuildPipeline(app, cfg)
		stacks.Check(app)
	} else if err == nil {
		_, err = stacks.Build(app, cfg)
		stacks.Check(app)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		jsii.Close()
		os.Exit(1)
	}
	app.Synth(nil)
}
