package fargateworker

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	err := (&Props{DesiredCount: 101}).validate()
	for _, w := range []string{"Spec is nil", "Cluster is nil", "FileSystem is nil", "DesiredCount is 101"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
	p := Props{}
	_ = p.validate()
	if p.DesiredCount != 1 {
		t.Errorf("documented default is 1 task, got %d", p.DesiredCount)
	}
}
