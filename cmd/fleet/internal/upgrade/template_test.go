package upgrade

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestUpgradeRetainsTheOldCustomResources: `fleet prepare-upgrade` on the
// site template the previous version deployed
// (testdata/EcsWorker-Anywhere-onprem.template.json, commit
// da21a79) retains exactly its custom resources (so their removal sends no
// Delete to the old handlers, whose activation Delete would delete the
// site's new activation) and leaves no import (so the regional stack may
// drop the exports of the old site queues and roles). On this version's
// templates it changes nothing: retaining the fleet-answered resources
// would leave a destroyed site's nodes registered (this version's templates
// are the test package's goldens, which its golden test keeps current).
func TestUpgradeRetainsTheOldCustomResources(t *testing.T) {
	old, err := os.ReadFile(filepath.Join("testdata", "EcsWorker-Anywhere-onprem.template.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Resources map[string]struct{ Type string }
	}
	if err := json.Unmarshal(old, &tmpl); err != nil {
		t.Fatal(err)
	}
	var want []string
	for id, r := range tmpl.Resources {
		if slices.Contains(OldCustomResources, r.Type) {
			want = append(want, id)
		}
	}
	slices.Sort(want)
	imported := regexp.MustCompile(`"Fn::ImportValue":\s*"([^"]+)"`)
	exports := map[string]string{}
	for _, m := range imported.FindAllStringSubmatch(string(old), -1) {
		exports[m[1]] = "value of " + m[1]
	}
	p, err := Prepare(old, exports)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 3 || !slices.Equal(p.Retained, want) || strings.Contains(string(p.Template), "ImportValue") || len(p.Imports) != len(exports) {
		t.Errorf("prepared: retained %v (want %v), %d of %d imports replaced, an import left: %v", p.Retained, want, len(p.Imports), len(exports), strings.Contains(string(p.Template), "ImportValue"))
	}
	if len(p.Template) > MaxTemplateBody {
		t.Errorf("the prepared template is %d bytes: UpdateStack takes %d inline", len(p.Template), MaxTemplateBody)
	}
	current, err := filepath.Glob(filepath.Join("..", "..", "..", "..", "test", "testdata", "*.template.json"))
	if err != nil || len(current) < 3 {
		t.Fatalf("this version's golden templates: %v, %v", current, err)
	}
	for _, name := range current {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := Prepare(raw, nil); err != nil || p.Changed() {
			t.Errorf("%s: prepare-upgrade would change this version's template (retain %v, %v)", name, p.Retained, err)
		}
	}
}
