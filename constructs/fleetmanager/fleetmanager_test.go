package fleetmanager

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/constructs/fleetmanager/contract"
	"github.com/ecs-anywhere-stretched/stretched/testkit/cdktest"
	"github.com/ecs-anywhere-stretched/stretched/testkit/errcheck"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

// A site's associations target its managed instances by its stack tag:
// inventory and the SSM Agent update always, patching and the ECS agent
// update when asked, the latter one node at a time.
func TestAssociationsOfASite(t *testing.T) {
	stack := cdktest.Stack()
	if _, err := New(stack, "Fleet", Props{TagKey: "stretched:stack", TagValue: "App-Anywhere-a", Site: contract.SiteSettings{Patching: contract.PatchInstall, PatchSchedule: contract.DefaultPatchSchedule, EcsAgentUpdateSchedule: "rate(7 days)"}}); err != nil {
		t.Fatal(err)
	}
	tmpl := cdktest.Template(t, stack)
	targets := []any{map[string]any{"Key": "tag:stretched:stack", "Values": []any{"App-Anywhere-a"}}}
	cdktest.Assert(t, func() {
		tmpl.ResourceCountIs(jsii.String("AWS::SSM::Association"), jsii.Number(4))
		for name, schedule := range map[string]string{"AWS-GatherSoftwareInventory": InventorySchedule, "AWS-UpdateSSMAgent": AgentUpdateSchedule, "AWS-RunPatchBaseline": contract.DefaultPatchSchedule} {
			tmpl.HasResourceProperties(jsii.String("AWS::SSM::Association"), map[string]any{"Name": name, "Targets": targets, "ScheduleExpression": schedule})
		}
		tmpl.HasResourceProperties(jsii.String("AWS::SSM::Association"), map[string]any{
			"Name": "AWS-RunShellScript", "Targets": targets, "ScheduleExpression": "rate(7 days)", "MaxConcurrency": "1", "MaxErrors": "0",
			"Parameters": map[string]any{"commands": assertions.Match_AnyValue()},
		})
	})
	plain := cdktest.Stack()
	off := contract.DefaultSiteSettings()
	off.Patching = contract.PatchOff
	if _, err := New(plain, "Fleet", Props{TagKey: "stretched:stack", TagValue: "App-Anywhere-b", Site: off}); err != nil {
		t.Fatal(err)
	}
	cdktest.Assert(t, func() {
		cdktest.Template(t, plain).ResourceCountIs(jsii.String("AWS::SSM::Association"), jsii.Number(2)) // inventory, SSM Agent
	})
	// The zero Site is the app's default: a weekly scan.
	byDefault := cdktest.Stack()
	if _, err := New(byDefault, "Fleet", Props{TagKey: "stretched:stack", TagValue: "App-Anywhere-c"}); err != nil {
		t.Fatal(err)
	}
	cdktest.Assert(t, func() {
		cdktest.Template(t, byDefault).HasResourceProperties(jsii.String("AWS::SSM::Association"), map[string]any{
			"Name": "AWS-RunPatchBaseline", "ScheduleExpression": contract.DefaultPatchSchedule,
			"Parameters": map[string]any{"Operation": []any{"Scan"}, "RebootOption": []any{"NoReboot"}},
		})
	})
}

func TestBadProps(t *testing.T) {
	_, err := New(cdktest.Stack(), "Fleet", Props{Site: contract.SiteSettings{Patching: "everything", PatchSchedule: "weekly", EcsAgentUpdateSchedule: "rate(1 minute)"}})
	errcheck.Contains(t, err, `TagKey "" and TagValue ""`, `Site.patching is "everything"`, `Site.patchSchedule is "weekly"`, `Site.ecsAgentUpdateSchedule is "rate(1 minute)"`)
}
