package config

import (
	"strings"
	"testing"
)

// threeCells is two accounts and two regions, a site in each cell.
var threeCells = map[string]any{
	"cells": `[{"name":"eu","account":"111111111111","region":"eu-west-1"},
	           {"name":"us","account":"111111111111","region":"us-east-1","nodeTier":"advanced"},
	           {"name":"de","account":"222222222222","region":"eu-central-1","approve":true}]`,
	"sites": `[{"name":"lyon","cell":"eu"},{"name":"ohio","cell":"us","expectedNodes":3},{"name":"berlin","cell":"de"}]`,
}

func TestCellsSplitTheSites(t *testing.T) {
	c, err := load(threeCells)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if len(c.Cells) != 3 || c.Cells[0].NodeTier != "standard" || c.Cells[1].NodeTier != "advanced" || !c.Cells[2].Approve {
		t.Errorf("cells: %+v", c.Cells)
	}
	if c.Sites[0].ExpectedNodes != DefaultExpectedNodes || c.Sites[1].ExpectedNodes != 3 {
		t.Errorf("expectedNodes: %+v", c.Sites)
	}
	de := c.ForCell(c.Cells[2])
	if de.StackPrefix != "EcsWorker-de" || de.Account != "222222222222" || de.Region != "eu-central-1" || len(de.Sites) != 1 || de.Sites[0].Name != "berlin" || de.Cells != nil {
		t.Errorf("the de cell's configuration: prefix %s, env %s/%s, sites %+v", de.StackPrefix, de.Account, de.Region, de.Sites)
	}
	// Cluster names are the fleet's: a site keeps its cluster's name
	// whatever its cell's other sites.
	if de.Sites[0].ClusterName != "ecsAnywhereCluster-berlin" {
		t.Errorf("cluster: %s", de.Sites[0].ClusterName)
	}
	one, err := load(map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	if cells := one.CellsOrOne(); len(cells) != 1 || cells[0].Name != "" || one.ForCell(cells[0]).StackPrefix != "EcsWorker" {
		t.Errorf("without cells: %+v", cells)
	}
}

func TestBadCellsFailNamingTheFix(t *testing.T) {
	for name, tc := range map[string]struct {
		ctx  map[string]any
		want []string
	}{
		"unknown cell": {map[string]any{"cells": `[{"name":"eu","account":"111111111111","region":"eu-west-1"},{"name":"us","account":"111111111111","region":"us-east-1"}]`, "sites": `[{"name":"a","cell":"mars"},{"name":"b"}]`},
			[]string{`"sites[0].cell" names cell "mars": give one of the cells eu, us`, `"sites[1].cell" names no cell: give one of the cells eu, us`}},
		"cell without cells": {map[string]any{"sites": `[{"name":"a","cell":"eu"}]`}, []string{`"sites[0].cell" names cell "eu", but context key "cells" is not set`}},
		"same env twice": {map[string]any{"cells": `[{"name":"a","account":"111111111111","region":"eu-west-1"},{"name":"b","account":"111111111111","region":"eu-west-1"}]`, "sites": `[{"name":"x","cell":"a"}]`},
			[]string{`"cells[1]" is in account 111111111111 and region eu-west-1, like cell "a"`}},
		"bad fields": {map[string]any{"cells": `[{"name":"Eu-1","account":"1","region":"mars","nodeTier":"gold"},{"name":"Eu-1","account":"111111111111","region":"eu-west-1"}]`, "sites": `[{"name":"x","cell":"Eu-1","expectedNodes":0}]`},
			[]string{`"cells[0]" has name "Eu-1"`, `"cells[0].account" is "1"`, `"cells[0].region" is "mars"`, `"cells[0].nodeTier" is "gold"`, `repeats the cell name "Eu-1"`, `"sites[0].expectedNodes" is 0`}},
		"top-level env with cells": {map[string]any{"account": "111111111111", "cells": `[{"name":"a","account":"111111111111","region":"eu-west-1"}]`, "sites": `[{"name":"x","cell":"a"}]`},
			[]string{`each cell names its own account and region`}},
		"empty":         {map[string]any{"cells": `[]`}, []string{`"cells" is an empty list`}},
		"unknown field": {map[string]any{"cells": `[{"name":"a","acount":"1"}]`}, []string{`context key "cells" is`, `unknown field "acount"`}},
		"rings": {map[string]any{"account": "111111111111", "region": "eu-west-1",
			"sites":    `[{"name":"a"},{"name":"b"},{"name":"c"}]`,
			"pipeline": `{"codeCommitRepository":"r","rings":[{"name":"canary","sites":1,"bakeMinutes":500},{"name":"rest","sites":0},{"name":"Late","sites":5}]}`},
			[]string{`"pipeline.rings[0].bakeMinutes" is 500: must be from 0 to 180`, `"pipeline.rings[1]" takes every site left, but rings follow it`, `"pipeline.rings[2]" has name "Late"`, `"pipeline.rings[2].sites" is 5, but only 0 site(s) are left`}},
		"rings leave sites": {map[string]any{"account": "111111111111", "region": "eu-west-1", "sites": `[{"name":"a"},{"name":"b"},{"name":"c"}]`,
			"pipeline": `{"codeCommitRepository":"r","rings":[{"name":"canary","sites":1}]}`},
			[]string{`"pipeline.rings" leaves 2 site(s) in no ring`}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := load(tc.ctx)
			if err == nil {
				t.Fatal("loaded; want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}
