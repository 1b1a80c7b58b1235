// Package fleetmanager manages a site's nodes through Systems Manager State
// Manager: an association that gathers software inventory from the site's
// managed instances, and an optional patch association
// (AWS-RunPatchBaseline). Both target the nodes by the tag every activation
// of the site gives them, so nodes that join later are included.
package fleetmanager

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/constructs/fleetmanager/contract"
	"github.com/ecs-anywhere-stretched/stretched/internal/nodes"
)

// Patch operations of AWS-RunPatchBaseline.
const (
	PatchScan    = "Scan"
	PatchInstall = "Install"
)

// InventorySchedule is how often inventory is gathered.
const InventorySchedule = "rate(12 hours)"

// AgentUpdateSchedule is when the SSM Agent update association runs after
// the first time (on every node as it joins).
const AgentUpdateSchedule = "rate(7 days)"

// DefaultPatchSchedule is Sunday 03:00 UTC.
const DefaultPatchSchedule = contract.DefaultPatchSchedule

// Props configure the associations.
type Props struct {
	// TagKey and TagValue select the site's managed instances. Required.
	TagKey, TagValue string
	// Patch is PatchScan (report missing patches), PatchInstall (install them,
	// without rebooting) or "" (no patch association). Default: "".
	Patch string
	// EcsAgentUpdateSchedule, when set, runs nodes.UpdateScript on every
	// node on that schedule, one node at a time. Default: none.
	EcsAgentUpdateSchedule string
	// PatchSchedule is when patching runs. Default: DefaultPatchSchedule.
	PatchSchedule string
}

func (p Props) validate() error {
	var errs []error
	if p.TagKey == "" || p.TagValue == "" {
		errs = append(errs, fmt.Errorf("fleetmanager: TagKey %q and TagValue %q must both be set: pass the site activation's StackTag()", p.TagKey, p.TagValue))
	}
	if p.Patch != "" && p.Patch != PatchScan && p.Patch != PatchInstall {
		errs = append(errs, fmt.Errorf("fleetmanager: Patch is %q: must be %q, %q or empty (no patching)", p.Patch, PatchScan, PatchInstall))
	}
	if p.PatchSchedule != "" {
		if problem := contract.PatchScheduleProblem(p.PatchSchedule); problem != "" {
			errs = append(errs, fmt.Errorf("fleetmanager: PatchSchedule is %q: %s", p.PatchSchedule, problem))
		}
	}
	if p.EcsAgentUpdateSchedule != "" {
		if problem := contract.PatchScheduleProblem(p.EcsAgentUpdateSchedule); problem != "" {
			errs = append(errs, fmt.Errorf("fleetmanager: EcsAgentUpdateSchedule is %q: %s", p.EcsAgentUpdateSchedule, problem))
		}
	}
	return errors.Join(errs...)
}

// Fleet is the associations.
type Fleet struct {
	constructs.Construct
}

// New makes the associations.
func New(scope constructs.Construct, id string, props Props) (*Fleet, error) {
	if err := props.validate(); err != nil {
		return nil, err
	}
	if props.PatchSchedule == "" {
		props.PatchSchedule = DefaultPatchSchedule
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	targets := &[]any{&awsssm.CfnAssociation_TargetProperty{
		Key:    jsii.String("tag:" + props.TagKey),
		Values: jsii.Strings(props.TagValue),
	}}
	enabled := jsii.Strings("Enabled")
	awsssm.NewCfnAssociation(c, jsii.String("Inventory"), &awsssm.CfnAssociationProps{
		Name:               jsii.String("AWS-GatherSoftwareInventory"),
		AssociationName:    jsii.String(props.TagValue + "-inventory"),
		Targets:            targets,
		ScheduleExpression: jsii.String(InventorySchedule),
		Parameters: &map[string]any{
			"applications":                enabled,
			"awsComponents":               enabled,
			"networkConfig":               enabled,
			"instanceDetailedInformation": enabled,
			"services":                    enabled,
		},
	})
	// SSM Agent before nodes.MinSSMAgent backs off for hours after a long outage
	// before it reconnects, and the ECS agent's credentials come through
	// it: a site would stay dark long after its link returns. The
	// association updates every node's agent to the latest when it joins
	// (an association runs on a new target at once) and then weekly.
	awsssm.NewCfnAssociation(c, jsii.String("AgentUpdate"), &awsssm.CfnAssociationProps{
		Name:               jsii.String("AWS-UpdateSSMAgent"),
		AssociationName:    jsii.String(props.TagValue + "-ssm-agent-update"),
		Targets:            targets,
		ScheduleExpression: jsii.String(AgentUpdateSchedule),
		Parameters:         &map[string]any{"allowDowngrade": jsii.Strings("false")},
	})
	if props.EcsAgentUpdateSchedule != "" {
		awsssm.NewCfnAssociation(c, jsii.String("EcsAgentUpdate"), &awsssm.CfnAssociationProps{
			Name:               jsii.String("AWS-RunShellScript"),
			AssociationName:    jsii.String(props.TagValue + "-ecs-agent-update"),
			Targets:            targets,
			ScheduleExpression: jsii.String(props.EcsAgentUpdateSchedule),
			// One node at a time; the first failure stops the round.
			MaxConcurrency:          jsii.String("1"),
			MaxErrors:               jsii.String("0"),
			ApplyOnlyAtCronInterval: jsii.Bool(true),
			Parameters:              &map[string]any{"commands": jsii.Strings(nodes.UpdateScript(*awscdk.Stack_Of(c).Region()))},
		})
	}
	if props.Patch != "" {
		awsssm.NewCfnAssociation(c, jsii.String("Patch"), &awsssm.CfnAssociationProps{
			Name:               jsii.String("AWS-RunPatchBaseline"),
			AssociationName:    jsii.String(props.TagValue + "-patch-" + strings.ToLower(props.Patch)),
			Targets:            targets,
			ScheduleExpression: jsii.String(props.PatchSchedule),
			// A node that runs tasks is never rebooted by patching: plan
			// reboots with the site's people.
			Parameters: &map[string]any{"Operation": jsii.Strings(props.Patch), "RebootOption": jsii.Strings("NoReboot")},
		})
	}
	return &Fleet{Construct: c}, nil
}
