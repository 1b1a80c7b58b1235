package queuescaling

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
		{"nothing", Props{}, []string{"Service, Cluster and Queue are required", "MinTasks 0 and MaxTasks 0"}},
		{"min above max", Props{MinTasks: 5, MaxTasks: 2}, []string{"MinTasks 5 and MaxTasks 2"}},
		{"mode", Props{MaxTasks: 1, Mode: "age"}, []string{`Mode is "age"`, `"depth" or "burst"`}},
		{"burst age", Props{MaxTasks: 1, Mode: Burst, BurstAgeSeconds: 10}, []string{"BurstAgeSeconds is 10", "from 60 to 43200"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(nil, "Scaling", tc.props)
			errcheck.Contains(t, err, tc.want...)
		})
	}
	if p := (Props{}).withDefaults(); p.Mode != Depth || p.BurstAgeSeconds != 300 {
		t.Errorf("documented defaults are depth and 300 s, got %+v", p)
	}
}
