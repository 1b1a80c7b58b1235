package contract

import (
	"strings"
	"testing"
)

func ptr(n int) *int { return &n }

// A site's maximum follows its minimum unless both are set; every bad bound
// is named by its key.
func TestTaskBounds(t *testing.T) {
	if got := (TasksInput{}).WithDefaults(); got != (SiteSettings{MinTasks: 1, MaxTasks: 3}) {
		t.Errorf("defaults %+v, want 1..3", got)
	}
	if got := (TasksInput{MinTasks: ptr(5)}).WithDefaults(); got.MaxTasks != 5 {
		t.Errorf("minTasks 5 alone gives maxTasks %d, want 5", got.MaxTasks)
	}
	p := (SiteSettings{MinTasks: 4, MaxTasks: 2}).Problems()
	if len(p) != 1 || p[0].Error() != "minTasks is 4: must not exceed maxTasks (2)" {
		t.Errorf("min above max: %v", p)
	}
	var keys []string
	for _, q := range (SiteSettings{MinTasks: -1, MaxTasks: 1001}).Problems() {
		keys = append(keys, q.Key)
	}
	if strings.Join(keys, " ") != "minTasks maxTasks" {
		t.Errorf("out of range: %v", keys)
	}
}
