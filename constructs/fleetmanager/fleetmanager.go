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
)

// operations maps a site's patching setting to AWS-RunPatchBaseline's
// Operation ("" for no patch association).
var operations = map[string]string{contract.PatchScan: "Scan", contract.PatchInstall: "Install", contract.PatchOff: ""}

// InventorySchedule is how often inventory is gathered.
const InventorySchedule = "rate(12 hours)"

// AgentUpdateSchedule is when the SSM Agent update association runs after
// the first time (on every node as it joins).
const AgentUpdateSchedule = "rate(7 days)"

// Props configure the associations.
type Props struct {
	// TagKey and TagValue select the site's managed instances. Required.
	TagKey, TagValue string
	// Site is what State Manager does on the site's nodes: patching (scan,
	// install or off) and its schedule, and the ECS agent update's schedule
	// (none when empty), the site settings of the same names. Default
	// (the zero value): contract.DefaultSiteSettings(), a weekly scan and no
	// ECS agent update; a Site that sets any field is taken as given.
	Site contract.SiteSettings
}

func (p Props) withDefaults() Props {
	if p.Site == (contract.SiteSettings{}) {
		p.Site = contract.DefaultSiteSettings()
	}
	return p
}

func (p Props) validate() error {
	var errs []error
	if p.TagKey == "" || p.TagValue == "" {
		errs = append(errs, fmt.Errorf("fleetmanager: TagKey %q and TagValue %q must both be set: pass the site activation's StackTag()", p.TagKey, p.TagValue))
	}
	for _, problem := range p.Site.Problems() {
		errs = append(errs, fmt.Errorf("fleetmanager: Site.%w", problem))
	}
	return errors.Join(errs...)
}

// Fleet is the associations.
type Fleet struct {
	constructs.Construct
}

// New makes the associations.
func New(scope constructs.Construct, id string, props Props) (*Fleet, error) {
	props = props.withDefaults()
	if err := props.validate(); err != nil {
		return nil, err
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
	// SSM Agent before contract.MinSSMAgent backs off for hours after a long outage
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
	if props.Site.EcsAgentUpdateSchedule != "" {
		awsssm.NewCfnAssociation(c, jsii.String("EcsAgentUpdate"), &awsssm.CfnAssociationProps{
			Name:               jsii.String("AWS-RunShellScript"),
			AssociationName:    jsii.String(props.TagValue + "-ecs-agent-update"),
			Targets:            targets,
			ScheduleExpression: jsii.String(props.Site.EcsAgentUpdateSchedule),
			// One node at a time; the first failure stops the round.
			MaxConcurrency:          jsii.String("1"),
			MaxErrors:               jsii.String("0"),
			ApplyOnlyAtCronInterval: jsii.Bool(true),
			Parameters:              &map[string]any{"commands": jsii.Strings(contract.UpdateScript(*awscdk.Stack_Of(c).Region()))},
		})
	}
	if op := operations[props.Site.Patching]; op != "" {
		awsssm.NewCfnAssociation(c, jsii.String("Patch"), &awsssm.CfnAssociationProps{
			Name:               jsii.String("AWS-RunPatchBaseline"),
			AssociationName:    jsii.String(props.TagValue + "-patch-" + strings.ToLower(op)),
			Targets:            targets,
			ScheduleExpression: jsii.String(props.Site.PatchSchedule),
			// A node that runs tasks is never rebooted by patching: plan
			// reboots with the site's people.
			Parameters: &map[string]any{"Operation": jsii.Strings(op), "RebootOption": jsii.Strings("NoReboot")},
		})
	}
	return &Fleet{Construct: c}, nil
}
