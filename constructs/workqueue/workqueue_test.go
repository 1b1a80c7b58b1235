package workqueue

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
		{"no key", Props{MaxReceiveCount: 3}, []string{"Key is nil"}},
		{"receive count", Props{MaxReceiveCount: 1001}, []string{"Key is nil", "MaxReceiveCount is 1001", "from 1 to 1000"}},
		{"negative", Props{MaxReceiveCount: -4}, []string{"MaxReceiveCount is -4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(nil, "Queue", tc.props)
			errcheck.Contains(t, err, tc.want...)
		})
	}
}
