package stacks

import (
	"errors"
	"fmt"

	"github.com/ecs-anywhere-stretched/stretched/config"
	"github.com/ecs-anywhere-stretched/stretched/internal/quota"
)

// ResourceLimitContext is aws-cdk-lib's own check of resources per stack;
// the app sets it to 0 (off) and checks every quota itself after synth
// (quota.CheckAssembly), because aws-cdk-lib's check throws in Node, which
// reaches Go as a panic with a jsii stack trace.
const ResourceLimitContext = "@aws-cdk/core:stackResourceLimit"

// cellWhere names a cell in a quota's message ("" without cells: the
// app's own account and region).
func cellWhere(cell config.Cell, what string) string {
	if cell.Name == "" {
		return ""
	}
	return fmt.Sprintf("cell %s (%s)", cell.Name, what)
}

// PlannedStacks is the first check, made from the configuration before
// any stack is built, so a configuration far over the stacks quota fails
// at once instead of after minutes of building: per cell (an account and
// region) one stack per site and the regional one, and, in pipeline
// mode, the pipeline's in its own account and region.
func PlannedStacks(cfg config.Config) error {
	var uses []quota.Use
	for _, cell := range cfg.CellsOrOne() {
		n := len(cfg.ForCell(cell).Sites) + 1
		if cfg.Pipeline != nil && cell.Account == cfg.Account && cell.Region == cfg.Region {
			n++
		}
		uses = append(uses, quota.Use{Quota: quota.Stacks, Where: cellWhere(cell, "account "+cell.Account+", region "+cell.Region), Value: n, WayOut: quota.OtherAccounts})
	}
	return quota.Check(uses...)
}

// RolesPerSite are the IAM roles a site's stack makes: its nodes'
// instance role (none when the site brings its own), its tasks' role and
// their execution role.
const RolesPerSite = 3

// RegionRoles are the IAM roles the regional stack makes with the
// default settings (its functions', the Fargate worker's, the flow logs'
// and the scheduler's; test/quotas_test.go counts them in the template).
const RegionRoles = 9

// PlannedRoles checks the roles the sites and the regional stacks would
// make against the IAM roles quota (iamRolesQuota) of each account (cells
// in one account share it) before any stack is built, so the number it
// asks for is the one the assembly's check (main.go), which counts every
// role once synthesized, accepts.
func PlannedRoles(cfg config.Config) error {
	byAccount := map[string]int{}
	var accounts []string
	for _, cell := range cfg.CellsOrOne() {
		if _, ok := byAccount[cell.Account]; !ok {
			accounts = append(accounts, cell.Account)
		}
		n := RegionRoles
		for _, s := range cfg.ForCell(cell).Sites {
			n += RolesPerSite
			if s.InstanceRoleArn != "" {
				n--
			}
		}
		byAccount[cell.Account] += n
	}
	var errs []error
	for _, a := range accounts {
		where := ""
		if len(cfg.Cells) > 0 {
			where = "account " + a
		}
		errs = append(errs, quota.CheckRaised(quota.Use{Quota: quota.Roles, Where: where, Value: byAccount[a], WayOut: quota.RolesWayOut}, quota.Raised{Limit: cfg.IamRolesQuota, Key: config.KeyIamRolesQuota}))
	}
	return errors.Join(errs...)
}

// PlannedNodes checks the sites' expected machines against Systems
// Manager's standard tier in each cell's account and region (unless the
// cell declares the advanced tier).
func PlannedNodes(cfg config.Config) error {
	var uses []quota.Use
	for _, cell := range cfg.CellsOrOne() {
		if cell.NodeTier == config.NodeTierAdvanced {
			continue
		}
		sites := cfg.ForCell(cell).Sites
		n := 0
		for _, s := range sites {
			n += s.ExpectedNodes
		}
		way := fmt.Sprintf("move sites to a cell in another account or region (context key %q), or set %q to %q once the account and region use Systems Manager's advanced tier (paid)", config.KeyCells, config.KeyNodeTier, config.NodeTierAdvanced)
		if cell.Name != "" {
			way = fmt.Sprintf("move sites to another cell (another account or region), or set the cell's %q to %q once its account and region use Systems Manager's advanced tier (paid)", "nodeTier", config.NodeTierAdvanced)
		}
		where := fmt.Sprintf("the sites' expectedNodes (%d sites)", len(sites))
		if cell.Name != "" {
			where = fmt.Sprintf("the expectedNodes of cell %s's %d sites (account %s, region %s)", cell.Name, len(sites), cell.Account, cell.Region)
		}
		uses = append(uses, quota.Use{Quota: quota.HybridNodes, Where: where, Value: n, WayOut: way})
	}
	return quota.Check(uses...)
}
