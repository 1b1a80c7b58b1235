package fargateworker

import (
	"testing"

	"github.com/ecs-anywhere-stretched/stretched/internal/errcheck"
)

func TestValidate(t *testing.T) {
	errcheck.Contains(t, (&Props{DesiredCount: 101}).validate(), "Spec is nil", "Cluster is nil", "FileSystem is nil", "DesiredCount is 101")
	p := Props{}
	_ = p.validate()
	if p.DesiredCount != 1 {
		t.Errorf("documented default is 1 task, got %d", p.DesiredCount)
	}
}
