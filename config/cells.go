package config

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Cell is one account and region of the fleet: its regional stack and its
// sites' stacks deploy there, and its sites' messages, logs, secrets and
// keys stay there.
type Cell struct {
	// Name identifies the cell: its stacks are named
	// <stackPrefix>-<name>-Regional and <stackPrefix>-<name>-Anywhere-<site>.
	Name string `json:"name"`
	// Account and Region are the cell's environment. Required.
	Account string `json:"account"`
	Region  string `json:"region"`
	// NodeTier is the Systems Manager tier of the cell's account and region
	// for hybrid nodes: NodeTierStandard (at most 1,000 nodes, free) or
	// NodeTierAdvanced (paid, no such limit). Default: the top-level
	// nodeTier.
	NodeTier string `json:"nodeTier"`
	// Approve makes the pipeline wait for a manual approval before its
	// first deployment into the cell (production cells). Default false.
	Approve bool `json:"approve"`
}

// Ring is one step of the pipeline's rollout: the next sites, in
// configuration order, deployed in waves, then a bake time during which
// the fleet's alarms of every cell the ring touched must stay quiet.
type Ring struct {
	// Name of the ring (its pipeline stages are named after it). Required.
	Name string `json:"name"`
	// Sites is how many sites, the next in configuration order, the ring
	// deploys. 0 (the default, the last ring only): every site left.
	Sites int `json:"sites"`
	// BakeMinutes is how long the ring's alarms must stay quiet after its
	// last wave before the next ring starts. Default DefaultBakeMinutes.
	BakeMinutes *int `json:"bakeMinutes"`
}

// Node tiers of Systems Manager (the account and region's setting for
// hybrid nodes).
const (
	NodeTierStandard = "standard"
	NodeTierAdvanced = "advanced"
	// StandardTierNodes is what the standard tier registers at most per
	// account and region (Systems Manager quotas: "Registered on-premises
	// managed nodes per account per Region, standard tier").
	StandardTierNodes = 1000
)

// Defaults of the cells' and rings' settings.
const (
	DefaultNodeTier = NodeTierStandard
	// DefaultExpectedNodes: two machines a site, so one can be drained or
	// updated while the other runs the site's tasks.
	DefaultExpectedNodes = 2
	// DefaultBakeMinutes is a ring's bake time: an hour, AWS's own
	// guidance for the first waves of a deployment.
	DefaultBakeMinutes = 60
	// MaxBakeMinutes is as CloudFormation's longest rollback monitoring
	// (180 minutes); the bake is a CodeBuild build, which may run 8 hours.
	MaxBakeMinutes = 180
)

var cellRe = regexp.MustCompile(`^[a-z][a-z0-9]{0,11}$`)

// ForCell is the configuration of one cell: its environment, its stack
// prefix (<stackPrefix>-<cell>) and its sites; every other setting is the
// fleet's. Without cells it is c itself.
func (c Config) ForCell(cell Cell) Config {
	if cell.Name == "" {
		return c
	}
	out := c
	out.Account, out.Region = cell.Account, cell.Region
	out.StackPrefix = CellPrefix(c.StackPrefix, cell.Name)
	out.Sites = nil
	for _, s := range c.Sites {
		if s.Cell == cell.Name {
			out.Sites = append(out.Sites, s)
		}
	}
	out.Cells, out.Pipeline = nil, nil
	return out
}

// CellPrefix is the stack prefix of a cell's stacks.
func CellPrefix(prefix, cell string) string { return prefix + "-" + cell }

// CellsOrOne are the configured cells, or the one cell of the app's own
// account and region (with no name) when none are.
func (c Config) CellsOrOne() []Cell {
	if len(c.Cells) > 0 {
		return c.Cells
	}
	return []Cell{{Account: c.Account, Region: c.Region, NodeTier: c.NodeTier}}
}

func (d *decoder) cells() []Cell {
	return list[Cell](d, KeyCells, "cells", `[{"name": "eu", "account": "111111111111", "region": "eu-west-1"}]`)
}

func cellsWithDefaults(cells []Cell, tier string) []Cell {
	out := slices.Clone(cells)
	for i := range out {
		out[i].NodeTier = cmp.Or(out[i].NodeTier, tier)
	}
	return out
}

func ringsWithDefaults(rings []Ring) []Ring {
	out := slices.Clone(rings)
	for i := range out {
		if out[i].BakeMinutes == nil {
			b := DefaultBakeMinutes
			out[i].BakeMinutes = &b
		}
	}
	return out
}

func (v *checker) cells(c Config, in input) {
	if in.Cells == nil {
		for i, s := range c.Sites {
			if s.Cell != "" {
				v.fail("context key %q names cell %q, but context key %q is not set: define the cells, such as [{\"name\": %q, \"account\": \"111111111111\", \"region\": \"eu-west-1\"}], or remove the site's cell", fmt.Sprintf("%s[%d].cell", KeySites, i), s.Cell, KeyCells, s.Cell)
			}
		}
		return
	}
	if len(c.Cells) == 0 {
		v.fail("context key %q is an empty list: give at least one cell, or remove the key (one cell: the app's account and region)", KeyCells)
		return
	}
	if c.Pipeline == nil && (c.Account != "" || c.Region != "") {
		v.fail("context keys %q and %q are set with %q: each cell names its own account and region (the top-level ones are the pipeline's account and region, with %q); remove them", KeyAccount, KeyRegion, KeyCells, KeyPipeline)
	}
	names := map[string]bool{}
	envs := map[string]string{}
	var list []string
	for i, cell := range c.Cells {
		key := fmt.Sprintf("%s[%d]", KeyCells, i)
		v.name(key, cell.Name, names, "cell", "it is part of every stack name of the cell")
		list = append(list, cell.Name)
		if !stringRules[KeyAccount].re.MatchString(cell.Account) {
			v.fail("context key %q is %q: must be %s", key+".account", cell.Account, stringRules[KeyAccount].allowed)
		}
		if !stringRules[KeyRegion].re.MatchString(cell.Region) {
			v.fail("context key %q is %q: must be %s", key+".region", cell.Region, stringRules[KeyRegion].allowed)
		}
		env := cell.Account + "/" + cell.Region
		if other, ok := envs[env]; ok {
			v.fail("context key %q is in account %s and region %s, like cell %q: two cells in one account and region share its quotas and names; merge them into one cell", key, cell.Account, cell.Region, other)
		}
		envs[env] = cell.Name
		if cell.NodeTier != NodeTierStandard && cell.NodeTier != NodeTierAdvanced {
			v.fail("context key %q is %q: must be %q (at most %d hybrid nodes in the account and region, free) or %q (paid, set in Systems Manager's settings first)", key+".nodeTier", cell.NodeTier, NodeTierStandard, StandardTierNodes, NodeTierAdvanced)
		}
	}
	for i, s := range c.Sites {
		if !names[s.Cell] {
			what := fmt.Sprintf("names cell %q", s.Cell)
			if s.Cell == "" {
				what = "names no cell"
			}
			v.fail("context key %q %s: give one of the cells %s", fmt.Sprintf("%s[%d].cell", KeySites, i), what, strings.Join(list, ", "))
		}
	}
}

// name checks the name of a cell or ring (what): its form, for use, and
// that no earlier one in seen has it.
func (v *checker) name(key, name string, seen map[string]bool, what, use string) {
	if !cellRe.MatchString(name) {
		v.fail("context key %q has name %q: must be a lowercase letter then up to 11 lowercase letters or digits (%s)", key, name, use)
	}
	if seen[name] {
		v.fail("context key %q repeats the %s name %q: give every %s its own name", key, what, name, what)
	}
	seen[name] = true
}

func (v *checker) rings(c Config) {
	p := c.Pipeline
	left := len(c.Sites)
	names := map[string]bool{}
	for i, r := range p.Rings {
		key := fmt.Sprintf("%s.rings[%d]", KeyPipeline, i)
		v.name(key, r.Name, names, "ring", "it names the ring's pipeline stages")
		if b := *r.BakeMinutes; b < 0 || b > MaxBakeMinutes {
			v.fail("context key %q is %d: must be from 0 to %d minutes (as CloudFormation's longest rollback monitoring; the bake is a CodeBuild build)", key+".bakeMinutes", b, MaxBakeMinutes)
		}
		switch {
		case r.Sites < 0:
			v.fail("context key %q is %d: must be how many sites the ring deploys, or 0 for every site left (last ring only)", key+".sites", r.Sites)
		case r.Sites == 0 && i != len(p.Rings)-1:
			v.fail("context key %q takes every site left, but rings follow it: give it a number of sites, or make it the last ring", key)
		case r.Sites > left:
			v.fail("context key %q is %d, but only %d site(s) are left for it: lower it", key+".sites", r.Sites, left)
		}
		if r.Sites == 0 {
			left = 0
		} else {
			left -= min(r.Sites, left)
		}
	}
	if len(p.Rings) > 0 && left > 0 {
		v.fail("context key %q leaves %d site(s) in no ring: give the last ring no \"sites\" (it takes every site left), or add a ring", KeyPipeline+".rings", left)
	}
}
