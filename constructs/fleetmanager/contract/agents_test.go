package contract

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/ecs-anywhere-stretched/stretched/internal/join"
)

func TestOlder(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"3.2.0", "3.3.3050.0", true},
		{"3.3.3050.0", "3.3.3050.0", false},
		{"3.3.3050.1", "3.3.3050.0", false},
		{"v1.85.9", "1.86.0", true},
		{"1.86", "1.86.0", false},
		{"10.0.0", "9.9.9", false},
	} {
		if got := Older(tc.a, tc.b); got != tc.want {
			t.Errorf("Older(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// A node below a minimum is named with the fix; at the minimum, or with an
// unknown version, nothing is said.
func TestAgentProblems(t *testing.T) {
	if p := SSMAgentProblem("3.2.582.0"); !strings.Contains(p, "older than "+MinSSMAgent) || !strings.Contains(p, "AWS-UpdateSSMAgent") {
		t.Errorf("old SSM Agent: %q", p)
	}
	if p := ECSAgentProblem("1.80.0"); !strings.Contains(p, "older than "+MinECSAgent) || !strings.Contains(p, "update-agents") {
		t.Errorf("old ECS agent: %q", p)
	}
	for _, ok := range []string{"", MinSSMAgent} {
		if p := SSMAgentProblem(ok); p != "" {
			t.Errorf("SSMAgentProblem(%q) = %q", ok, p)
		}
	}
	if p := ECSAgentProblem(MinECSAgent); p != "" {
		t.Errorf("ECSAgentProblem(%q) = %q", MinECSAgent, p)
	}
}

// The update script names the region's bucket and the ECS key, verifies
// before it installs, and is valid sh.
func TestUpdateScript(t *testing.T) {
	s := UpdateScript("eu-west-1")
	for _, want := range []string{"amazon-ecs-agent-eu-west-1", join.KeyFingerprint, join.KeyURL, "systemctl restart ecs"} {
		if !strings.Contains(s, want) {
			t.Errorf("update script lacks %q", want)
		}
	}
	if strings.Index(s, "--verify") > strings.Index(s, "dpkg -i") {
		t.Error("the script installs before it verifies the signature")
	}
	if out, err := exec.Command("sh", "-n", "-c", s).CombinedOutput(); err != nil {
		t.Errorf("sh -n: %v: %s", err, out)
	}
}
