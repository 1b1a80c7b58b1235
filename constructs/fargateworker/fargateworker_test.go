package fargateworker

import (
	"testing"

	"github.com/ecs-anywhere-stretched/stretched/internal/testkit/errcheck"
)

func TestValidate(t *testing.T) {
	errcheck.Contains(t, (&Props{}).validate(), "Spec is nil", "Cluster is nil", "FileSystem is nil")
}
