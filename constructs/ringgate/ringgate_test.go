package ringgate

import (
	"strings"
	"testing"
)

// Bad props are refused before anything is made, each problem named.
func TestValidateNamesEveryProblem(t *testing.T) {
	err := Props{PipelineAccount: "12345"}.validate()
	if err == nil {
		t.Fatal("empty props accepted")
	}
	for _, want := range []string{"Name is empty", "0 alarms: give the cell's fleet alarms, 1 to 100", `PipelineAccount is "12345"`, "PipelineStack, Repository and RegionalStack are required"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q:\n%v", want, err)
		}
	}
	if AlarmName("P-eu") != "P-eu-fleet-health" || RoleName("P-eu") != "P-eu-pipeline" {
		t.Errorf("names: %s, %s (the pipeline names them before the cell is deployed)", AlarmName("P-eu"), RoleName("P-eu"))
	}
}
