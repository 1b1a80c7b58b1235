package upgrade

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// old is a site template of the version before the fleet-wide functions, cut
// to what Prepare looks at: a custom resource answered by the site's own
// function, one answered through an import (this version's shape), and
// imports in properties and lists.
const old = `{
 "Resources": {
  "NodesHandler": {"Type": "AWS::Lambda::Function", "Properties": {"MemorySize": 128}},
  "Nodes": {"Type": "Custom::SiteNodes", "Properties": {"ServiceToken": {"Fn::GetAtt": ["NodesHandler", "Arn"]}, "Limit": 10}, "DeletionPolicy": "Delete"},
  "Other": {"Type": "Custom::Other", "Properties": {"ServiceToken": {"Fn::GetAtt": ["NodesHandler", "Arn"]}}},
  "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"AlarmActions": [{"Fn::ImportValue": "R:Topic"}], "Threshold": 1.5, "Description": "a <b> & c"}},
  "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"Url": {"Fn::ImportValue": "R:Queue"}}}
 }
}`

var exports = map[string]string{"R:Topic": "arn:aws:sns:eu-west-1:123456789012:alerts", "R:Queue": "https://sqs/q", "R:Unused": "x"}

func TestPrepareRetainsTheOldCustomResourcesAndResolvesImports(t *testing.T) {
	p, err := Prepare([]byte(old), exports)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Changed() || !slices.Equal(p.Retained, []string{"Nodes"}) || !slices.Equal(p.Imports, []string{"R:Queue", "R:Topic"}) {
		t.Fatalf("retained %v, imports %v: want [Nodes], [R:Queue R:Topic]", p.Retained, p.Imports)
	}
	got := string(p.Template)
	for _, want := range []string{
		`"Nodes":{"DeletionPolicy":"Retain","Properties":{"Limit":10,`,
		`"UpdateReplacePolicy":"Retain"`,
		`"AlarmActions":["arn:aws:sns:eu-west-1:123456789012:alerts"]`,
		`"Threshold":1.5`, `"a <b> & c"`, `"Url":"https://sqs/q"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("prepared template has no %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "ImportValue") {
		t.Errorf("an import is left:\n%s", got)
	}
	var other map[string]map[string]map[string]any
	if err := json.Unmarshal(p.Template, &other); err != nil {
		t.Fatal(err)
	}
	if _, retained := other["Resources"]["Other"]["DeletionPolicy"]; retained {
		t.Errorf("a custom resource of another type was retained: %v", other["Resources"]["Other"])
	}
	again, err := Prepare(p.Template, exports)
	if err != nil || again.Changed() {
		t.Errorf("a prepared template prepared again: changed %v, %v; want nothing to do", again.Retained, err)
	}
}

func TestPrepareLeavesTemplatesOfThisVersion(t *testing.T) {
	now := `{"Resources": {"Nodes": {"Type": "Custom::SiteNodes", "Properties": {"ServiceToken": {"Fn::ImportValue": "R:Fn"}}},
	 "Q": {"Type": "AWS::SQS::Queue", "Properties": {"X": {"Fn::ImportValue": "R:Gone"}}}}}`
	p, err := Prepare([]byte(now), exports)
	if err != nil || p.Changed() || string(p.Template) != now {
		t.Errorf("Prepare(template of this version) = %v, %v: want it unchanged", p, err)
	}
}

func TestPrepareNamesWhatItCannotResolve(t *testing.T) {
	for name, tc := range map[string]struct{ template, want string }{
		"missing export": {strings.Replace(old, `"R:Queue"`, `"R:Missing"`, 1), `the stack imports "R:Missing", which no stack of this account and region exports`},
		"computed name":  {strings.Replace(old, `"R:Queue"`, `{"Fn::Sub": "${AWS::StackName}:Q"}`, 1), "an Fn::ImportValue of a computed name"},
		"not JSON":       {"Resources: {}", "the template is not JSON"},
	} {
		if _, err := Prepare([]byte(tc.template), exports); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
	}
}
