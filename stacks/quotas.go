package stacks

import (
	"github.com/ecs-anywhere-stretched/stretched/config"
	"github.com/ecs-anywhere-stretched/stretched/internal/quota"
)

// ResourceLimitContext is aws-cdk-lib's own check of resources per stack;
// the app sets it to 0 (off) and checks every quota itself after synth
// (quota.CheckAssembly), because aws-cdk-lib's check throws in Node, which
// reaches Go as a panic with a jsii stack trace.
const ResourceLimitContext = "@aws-cdk/core:stackResourceLimit"

// PlannedStacks is the first check, made from the configuration before
// any stack is built, so a configuration far over the stacks quota fails
// at once instead of after minutes of building: one stack per site, the
// regional one and, in pipeline mode, the pipeline's.
func PlannedStacks(cfg config.Config) error {
	n := len(cfg.Sites) + 1
	if cfg.Pipeline != nil {
		n++
	}
	return quota.Check(quota.Use{Quota: quota.Stacks, Value: n, WayOut: quota.OtherAccounts})
}

// RolesPerSite are the IAM roles a site's stack makes: its nodes'
// instance role (none when the site brings its own), its tasks' role and
// their execution role.
const RolesPerSite = 3

// RegionRoles are the IAM roles the regional stack makes with the
// default settings (its functions', the Fargate worker's, the flow logs'
// and the scheduler's; test/quotas_test.go counts them in the template).
const RegionRoles = 9

// PlannedRoles checks the roles the sites and the regional stack would
// make against the account's IAM roles quota (iamRolesQuota) before any
// stack is built, so the number it asks for is the one the assembly's
// check (main.go), which counts every role once synthesized, accepts.
func PlannedRoles(cfg config.Config) error {
	n := RegionRoles
	for _, s := range cfg.Sites {
		n += RolesPerSite
		if s.InstanceRoleArn != "" {
			n--
		}
	}
	return quota.CheckRaised(quota.Use{Quota: quota.Roles, Value: n, WayOut: quota.RolesWayOut}, quota.Raised{Limit: cfg.IamRolesQuota, Key: config.KeyIamRolesQuota})
}
