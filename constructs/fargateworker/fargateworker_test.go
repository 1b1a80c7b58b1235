package fargateworker

import (
	"testing"

	"github.com/ecs-anywhere-stretched/stretched/testkit/errcheck"
)

// Bad props are refused by New, before anything is made, naming each problem.
func TestNewRefusesBadProps(t *testing.T) {
	_, err := New(nil, "Worker", Props{})
	errcheck.Contains(t, err, "Spec is nil", "Cluster is nil", "FileSystem is nil")
}
