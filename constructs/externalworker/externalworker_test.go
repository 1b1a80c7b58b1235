package externalworker

import (
	"testing"

	"github.com/ecs-anywhere-stretched/stretched/internal/errcheck"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props Props
		want  []string
	}{
		{"nothing", Props{}, []string{"Spec is nil", "Cluster is nil"}},
		{"count", Props{DesiredCount: 1001}, []string{"DesiredCount is 1001", "from 0 to 1000"}},
		{"relative host path", Props{HostPath: "data"}, []string{`HostPath is "data"`, "absolute"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errcheck.Contains(t, tc.props.validate(), tc.want...)
		})
	}
	p := Props{}
	_ = p.validate()
	if p.DesiredCount != 1 || p.HostPath != "/data" {
		t.Errorf("documented defaults are 1 task and /data, got %d and %q", p.DesiredCount, p.HostPath)
	}
	z := Props{ZeroTasks: true}
	_ = z.validate()
	if z.DesiredCount != 0 {
		t.Errorf("ZeroTasks keeps 0 tasks, got %d", z.DesiredCount)
	}
}
