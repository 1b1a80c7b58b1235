package contract

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
)

// FleetMapFile is the fleet map's file name in the cloud assembly
// (cdk.out/fleet-map.json), written at every synth.
const FleetMapFile = "fleet-map.json"

// FleetMap says where every site of the app is: its cell (an account and
// region), its stacks, its directory entry and which entry topic routes its
// work. The fleet command reads it to go to a site's cell.
type FleetMap struct {
	// Prefix is the app's stack prefix (context key stackPrefix).
	Prefix string `json:"prefix"`
	// Cells are the app's cells in configuration order: one, with no
	// name, when the app has no cells.
	Cells []MapCell `json:"cells"`
}

// MapCell is one cell of the map.
type MapCell struct {
	// Name is the cell's name; "" for the one cell of an app without cells.
	Name string `json:"name"`
	// Account and Region are the cell's environment; "" when the app is
	// environment-agnostic (the AWS configuration's at run time).
	Account string `json:"account"`
	Region  string `json:"region"`
	// StackPrefix starts the names of the cell's stacks, its site
	// directory and its dashboard.
	StackPrefix string `json:"stackPrefix"`
	// RegionalStack is the cell's regional stack: its outputs name the
	// entry topics (EntryTopicArns) and queues.
	RegionalStack string `json:"regionalStack"`
	// Directory is the cell's site directory (SSM parameters, one a site).
	Directory string `json:"directory"`
	// Sites are the cell's sites, in configuration order.
	Sites []MapSite `json:"sites"`
}

// MapSite is one site of the map.
type MapSite struct {
	Name  string `json:"name"`
	Stack string `json:"stack"`
	// EntryTopic is the index, in the regional stack's EntryTopicArns
	// output, of the topic that routes the site's work; -1 with shared
	// work (one queue, no topic).
	EntryTopic int `json:"entryTopic"`
}

// ReadFleetMap reads and checks a fleet map file.
func ReadFleetMap(path string) (FleetMap, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return FleetMap{}, fmt.Errorf("read the fleet map: %w (synthesize the app first: make synth writes cdk.out/%s)", err, FleetMapFile)
	}
	var m FleetMap
	if err := json.Unmarshal(raw, &m); err != nil || len(m.Cells) == 0 {
		return FleetMap{}, fmt.Errorf("the fleet map %s is not one this app writes (%v): synthesize the app again (make synth)", path, err)
	}
	return m, nil
}

// Locate is the cell of site, or an error listing the sites there are.
func (m FleetMap) Locate(site string) (MapCell, MapSite, error) {
	var all []string
	for _, c := range m.Cells {
		for _, s := range c.Sites {
			if s.Name == site {
				return c, s, nil
			}
			all = append(all, s.Name)
		}
	}
	slices.Sort(all)
	return MapCell{}, MapSite{}, fmt.Errorf("%q is no site of the fleet map: the sites are %s", site, strings.Join(all, ", "))
}

// Cell is the cell called name, or an error listing the cells there are.
func (m FleetMap) Cell(name string) (MapCell, error) {
	var all []string
	for _, c := range m.Cells {
		if c.Name == name {
			return c, nil
		}
		all = append(all, c.Name)
	}
	return MapCell{}, fmt.Errorf("%q is no cell of the fleet map: the cells are %s", name, strings.Join(all, ", "))
}
