package externalworker

import (
	"testing"

	"github.com/ecs-anywhere-stretched/stretched/testkit/errcheck"
)

// Bad props are refused by New, before anything is made, naming each problem.
func TestNewRefusesBadProps(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props Props
		want  []string
	}{
		{"nothing", Props{}, []string{"Spec is nil", "Cluster is nil"}},
		{"relative host path", Props{HostPath: "data"}, []string{`HostPath is "data"`, "absolute"}},
		{"stream prefix with a colon", Props{LogStreamPrefix: "external:a"}, []string{`LogStreamPrefix is "external:a"`, "without ':' or '*'"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(nil, "Worker", tc.props)
			errcheck.Contains(t, err, tc.want...)
		})
	}
	if p := (Props{}).withDefaults(); p.HostPath != "/data" || p.LogStreamPrefix != StreamPrefix {
		t.Errorf("documented defaults are /data and %q, got %q and %q", StreamPrefix, p.HostPath, p.LogStreamPrefix)
	}
}
