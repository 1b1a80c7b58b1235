package taskcount

import (
	"testing"

	"github.com/ecs-anywhere-stretched/stretched/testkit/errcheck"
)

// Every missing prop is named, with what to pass, before anything is made.
func TestNewNamesEveryMissingProp(t *testing.T) {
	_, err := New(nil, "TaskCount", Props{})
	errcheck.Contains(t, err, "taskcount: Fleet is nil", "taskcount.NewFleet in the regional stack", "taskcount: Cluster is nil", "Service and TaskDefinition are both required")
}
