// Command stretched is the CDK app of the stretched ECS Anywhere deployment:
// one regional stack and one anywhere stack per on-premises site.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/config"
	"github.com/ecs-anywhere-stretched/stretched/internal/quota"
	"github.com/ecs-anywhere-stretched/stretched/internal/synthenv"
	"github.com/ecs-anywhere-stretched/stretched/stacks"
)

func main() {
	synthenv.SkipBuiltInValidation()
	defer jsii.Close()
	app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{stacks.ResourceLimitContext: 0}})
	if err := run(app); err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		jsii.Close()
		os.Exit(1)
	}
}

// run builds the stacks, synthesizes them and checks the templates against
// AWS's quotas. Every problem is an error: a configuration the app cannot deploy
// fails with what is wrong, never with a panic.
func run(app awscdk.App) (err error) {
	cfg, err := stacks.LoadConfig(app)
	if err != nil {
		return err
	}
	// The stacks first: a configuration far over it crosses the rest too.
	if err := stacks.PlannedStacks(cfg); err != nil {
		return err
	}
	if err := stacks.PlannedRoles(cfg); err != nil {
		return err
	}
	if err := stacks.PlannedNodes(cfg); err != nil {
		return err
	}
	if cfg.Pipeline != nil {
		// Pipeline mode: the pipeline stack, whose stage holds the stacks.
		_, err = stacks.BuildPipeline(app, cfg)
	} else {
		_, err = stacks.BuildCells(app, cfg)
	}
	if err != nil {
		return err
	}
	stacks.Check(app)
	defer func() {
		// aws-cdk-lib's own checks throw in Node, which jsii turns into a
		// panic: the first line says what failed.
		if r := recover(); r != nil {
			msg, _, _ := strings.Cut(fmt.Sprint(r), "\n")
			err = fmt.Errorf("synth failed: %s", msg)
		}
	}()
	asm := app.Synth(nil)
	// Every quota, from the templates as written (with the exports CDK
	// adds at synth).
	if err := quota.CheckAssembly(*asm.Directory(), map[quota.Quota]quota.Raised{
		quota.Roles: {Limit: cfg.IamRolesQuota, Key: config.KeyIamRolesQuota},
	}); err != nil {
		return err
	}
	// Where every site is, for the fleet command.
	return stacks.WriteFleetMap(*asm.Directory(), cfg)
}
