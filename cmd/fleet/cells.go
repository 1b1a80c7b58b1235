package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// defaultMap is where `make synth` (cdk synth) writes the fleet map.
const defaultMap = "cdk.out/" + stackscontract.FleetMapFile

// cellFlag collects CELL=VALUE pairs of a repeated flag (--profile,
// --role).
type cellFlag map[string]string

func (c cellFlag) String() string {
	var out []string
	for k, v := range c {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func (c cellFlag) Set(v string) error {
	cell, value, ok := strings.Cut(v, "=")
	if !ok || cell == "" || value == "" {
		return fmt.Errorf("%q is not CELL=VALUE, such as eu=prod-eu", v)
	}
	if _, dup := c[cell]; dup {
		return fmt.Errorf("cell %s is given twice", cell)
	}
	c[cell] = value
	return nil
}

// readMap reads the fleet map at path. With the default path, a missing
// file is no map (nil): the command then works on one account and region
// (--prefix, --region); a map of an app without cells is no map either.
func readMap(path string, given bool) (*stackscontract.FleetMap, error) {
	if path == "" {
		path = defaultMap
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) && !given {
		return nil, nil
	}
	m, err := stackscontract.ReadFleetMap(path)
	if err != nil {
		return nil, err
	}
	if len(m.Cells) == 1 && m.Cells[0].Name == "" {
		return nil, nil
	}
	return &m, nil
}

// cellAWS is the AWS configuration of one cell: its region, and the
// credentials the user gave for it (a profile, a role to assume, or the
// default chain), checked to be of the cell's account.
func cellAWS(ctx context.Context, c stackscontract.MapCell, profiles, roles cellFlag, base []func(*config.LoadOptions) error) (aws.Config, error) {
	opts := append([]func(*config.LoadOptions) error{}, base...)
	opts = append(opts, config.WithRegion(c.Region))
	if p, ok := profiles[c.Name]; ok {
		opts = append(opts, config.WithSharedConfigProfile(p))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, fmt.Errorf("cell %s: load the AWS configuration: %w", c.Name, err)
	}
	if arn, ok := roles[c.Name]; ok {
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), arn, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "fleet-" + c.Name
		}))
	}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return cfg, fmt.Errorf("cell %s (account %s, region %s): no usable credentials: %w; give --profile %s=PROFILE or --role %s=ROLE_ARN (docs/cells.md)", c.Name, c.Account, c.Region, reachable(err, c.Region), c.Name, c.Name)
	}
	if c.Account != "" && aws.ToString(id.Account) != c.Account {
		return cfg, fmt.Errorf("cell %s is in account %s, but its credentials are of account %s (%s): give --profile %s=PROFILE or --role %s=ROLE_ARN for it (docs/cells.md)", c.Name, c.Account, aws.ToString(id.Account), aws.ToString(id.Arn), c.Name, c.Name)
	}
	return cfg, nil
}

// cellsFor are the cells a command goes to: the cell of the site it names,
// the cell --cell names, or every cell.
func cellsFor(m *stackscontract.FleetMap, cmd, site, location, cell string) ([]stackscontract.MapCell, error) {
	if cmd == "send" && location != "" && location != "region" {
		site = location
	}
	switch {
	case site != "":
		c, _, err := m.Locate(site)
		if err != nil {
			return nil, err
		}
		if cell != "" && cell != c.Name {
			return nil, fmt.Errorf("site %s is in cell %s, not %s: leave --cell out", site, c.Name, cell)
		}
		return []stackscontract.MapCell{c}, nil
	case cell != "":
		c, err := m.Cell(cell)
		return []stackscontract.MapCell{c}, err
	case cmd == "send":
		var names []string
		for _, c := range m.Cells {
			names = append(names, c.Name)
		}
		return nil, fmt.Errorf("--location region: every cell has a region; give --cell CELL (one of %s)", strings.Join(names, ", "))
	}
	return m.Cells, nil
}
