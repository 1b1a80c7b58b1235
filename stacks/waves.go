package stacks

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/pipelines"
	"github.com/aws/jsii-runtime-go"
)

// Wave is one pipeline stage of sites that deploy side by side.
type Wave struct {
	// Stage is the CodePipeline stage's name.
	Stage string
	// Sites are the sites' names.
	Sites []string
}

// Waves splits the sites into waves of at most size, in configuration order.
func Waves(prefix string, sites []string, size int) []Wave {
	var out []Wave
	for i := 0; i < len(sites); i += size {
		out = append(out, Wave{Stage: fmt.Sprintf("%s-Sites-%d", prefix, len(out)+1), Sites: sites[i:min(i+size, len(sites))]})
	}
	return out
}

// deployInWaves moves the sites' actions out of the stage CDK Pipelines
// made for the whole app (region, every site, the step after) into one
// stage per wave: the region's stage deploys the region (and waits for the
// approval), then each wave's stage deploys its sites side by side, the
// last one with the step that followed every site. CodePipeline allows 50
// actions per stage; a failed site fails its wave's stage, so later waves
// wait and the region stays deployed. CDK Pipelines has no setting for
// this (one Stage is one CodePipeline stage, and sites cannot be Stages of
// their own: they refer to the regional stack), so the pipeline's rendered
// stages are rewritten on its L1.
func deployInWaves(stack awscdk.Stack, cp pipelines.CodePipeline, stageName string, sites []string, waveSize int) ([]Wave, error) {
	cfn, ok := cp.Pipeline().Node().DefaultChild().(awscodepipeline.CfnPipeline)
	if !ok {
		return nil, fmt.Errorf("pipeline: no CfnPipeline under the pipeline")
	}
	// The L1 holds its properties as in TypeScript (camelCase); it writes
	// them as CloudFormation names at synth.
	stages, _ := stack.Resolve(cfn.Stages()).([]any)
	out, waves, err := SplitStages(stages, stageName, sites, waveSize)
	if err != nil {
		return nil, err
	}
	// The typed setter takes no plain maps, so the stages go in as an
	// override, with CloudFormation's names.
	cfn.AddPropertyOverride(jsii.String("Stages"), cfnNames(out, false))
	return waves, nil
}

// cfnNames writes CDK's property names (camelCase) as CloudFormation's
// (PascalCase), but for an action's configuration, whose keys are the
// provider's own.
func cfnNames(v any, free bool) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			name := k
			if !free {
				name = strings.ToUpper(k[:1]) + k[1:]
			}
			out[name] = cfnNames(x, free || k == "configuration")
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = cfnNames(x, free)
		}
		return out
	default:
		return v
	}
}

// SplitStages rewrites a pipeline's stages (as CDK holds them: camelCase
// properties) so that the app's stage, stageName (or the parts CDK
// Pipelines splits it into, <stageName>.1, .2, … when it has more than 50
// actions), deploys the region, and one stage per wave of waveSize sites
// follows it; it returns the stages and the waves.
func SplitStages(stages []any, stageName string, sites []string, waveSize int) ([]any, []Wave, error) {
	// CDK Pipelines itself splits a stage of more than 50 actions into
	// <name>.1, <name>.2, …: all of them are the app's stage.
	isApp := func(name any) bool {
		n := fmt.Sprint(name)
		return n == stageName || strings.HasPrefix(n, stageName+".")
	}
	var out, actions []any
	var waves []Wave
	for _, st := range stages {
		stage, _ := st.(map[string]any)
		if !isApp(stage["name"]) {
			out = append(out, stage)
			continue
		}
		acts, _ := stage["actions"].([]any)
		actions = append(actions, acts...)
		if waves != nil {
			continue // a later part: its actions are in
		}
		waves = Waves(stageName, sites, waveSize)
		out = append(out, map[string]any{"name": stageName}) // the region's, filled below
	}
	if waves == nil {
		var seen []string
		for _, st := range stages {
			stage, _ := st.(map[string]any)
			seen = append(seen, fmt.Sprint(stage["name"]))
		}
		return nil, nil, fmt.Errorf("pipeline: no stage %q to split into waves (the pipeline has %s)", stageName, strings.Join(seen, ", "))
	}
	region, bySite, after, err := sortActions(actions, sites)
	if err != nil {
		return nil, nil, err
	}
	for i, st := range out {
		if stage, _ := st.(map[string]any); stage["name"] == stageName && stage["actions"] == nil {
			stage["actions"] = region
			rest := append([]any{}, out[i+1:]...)
			out = out[:i+1]
			for k, w := range waves {
				var acts []any
				for _, s := range w.Sites {
					acts = append(acts, withRunOrder(bySite[s].prepare, 1), withRunOrder(bySite[s].deploy, 2))
				}
				if k == len(waves)-1 {
					for _, a := range after {
						acts = append(acts, withRunOrder(a, 3))
					}
				}
				out = append(out, map[string]any{"name": w.Stage, "actions": acts})
			}
			out = append(out, rest...)
			break
		}
	}
	return out, waves, nil
}

type siteActions struct{ prepare, deploy map[string]any }

// sortActions sorts the app stage's actions, in pipeline order, into the
// region's (before the first site's), each site's Prepare and Deploy, and
// those after the last site's.
func sortActions(actions []any, sites []string) (region []any, bySite map[string]siteActions, after []map[string]any, err error) {
	bySite = map[string]siteActions{}
	seenSite := false
	for _, a := range actions {
		act, _ := a.(map[string]any)
		name, _ := act["name"].(string)
		stackID, step, _ := strings.Cut(name, ".")
		site, isSite := strings.CutPrefix(stackID, "Anywhere-")
		sa := bySite[site]
		switch {
		case isSite && step == "Prepare":
			sa.prepare = act
		case isSite && step == "Deploy":
			sa.deploy = act
		case seenSite:
			after = append(after, act)
			continue
		default:
			region = append(region, act)
			continue
		}
		seenSite = true
		bySite[site] = sa
	}
	for _, s := range sites {
		if bySite[s].prepare == nil || bySite[s].deploy == nil {
			return nil, nil, nil, fmt.Errorf("pipeline: site %s has no Anywhere-%s.Prepare and .Deploy actions to put in a wave (has CDK Pipelines renamed them?)", s, s)
		}
	}
	if len(bySite) != len(sites) {
		return nil, nil, nil, fmt.Errorf("pipeline: the stage deploys %d sites, the configuration has %d", len(bySite), len(sites))
	}
	return region, bySite, after, nil
}

func withRunOrder(action map[string]any, order int) map[string]any {
	action["runOrder"] = order
	return action
}
