package stacks

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/aws/constructs-go/constructs/v10"

	"github.com/ecs-anywhere-stretched/stretched/config"
	routercontract "github.com/ecs-anywhere-stretched/stretched/constructs/router/contract"
	siteagentcontract "github.com/ecs-anywhere-stretched/stretched/constructs/siteagent/contract"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// CellApp is one cell's stacks and the configuration they were built from.
type CellApp struct {
	Cell   config.Cell
	Config config.Config
	*App
}

// BuildCells makes every cell's stacks in scope: per cell its regional
// stack and its sites' stacks, all in the cell's account and region, named
// with the cell's prefix. Without cells it is Build of the app's one cell:
// the same stacks, ids and names as ever.
func BuildCells(scope constructs.Construct, cfg config.Config) ([]CellApp, error) {
	var out []CellApp
	for _, cell := range cfg.CellsOrOne() {
		cc := cfg.ForCell(cell)
		a, err := Build(scope, cc)
		if err != nil {
			return nil, err
		}
		out = append(out, CellApp{Cell: cell, Config: cc, App: a})
	}
	return out, nil
}

// FleetMapOf is the fleet map of a configuration.
func FleetMapOf(cfg config.Config) stackscontract.FleetMap {
	m := stackscontract.FleetMap{Prefix: cfg.StackPrefix}
	for _, cell := range cfg.CellsOrOne() {
		cc := cfg.ForCell(cell)
		mc := stackscontract.MapCell{
			Name: cell.Name, Account: cell.Account, Region: cell.Region, StackPrefix: cc.StackPrefix,
			RegionalStack: RegionalStackName(cc), Directory: siteagentcontract.SiteDirectory(cc.StackPrefix),
			Sites: []stackscontract.MapSite{},
		}
		for _, s := range cc.Sites {
			topic := -1
			if cc.Work == config.WorkRouted {
				topic = routercontract.Topic(s.Name, cc.EntryTopics)
			}
			mc.Sites = append(mc.Sites, stackscontract.MapSite{Name: s.Name, Stack: AnywhereStackName(cc, s), EntryTopic: topic})
		}
		m.Cells = append(m.Cells, mc)
	}
	return m
}

// WriteFleetMap writes the configuration's fleet map into the cloud
// assembly directory dir.
func WriteFleetMap(dir string, cfg config.Config) error {
	raw, err := json.MarshalIndent(FleetMapOf(cfg), "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, stackscontract.FleetMapFile), append(raw, '\n'), 0o644)
}
