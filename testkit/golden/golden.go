// Package golden keeps generated parts of documents current: a section
// between two marker lines is what code generates, rewritten with -update.
package golden

import (
	"os"
	"strings"
	"testing"
)

// Section checks that file holds body between the lines start and end
// (each ending in a newline); with update it rewrites the section, else
// a difference fails t naming the command that rewrites it.
func Section(t *testing.T, file, start, end, body string, update bool, rewrite string) {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	before, rest, ok1 := strings.Cut(doc, start)
	_, after, ok2 := strings.Cut(rest, end)
	if !ok1 || !ok2 {
		t.Fatalf("%s lacks the markers %q and %q around its generated section", file, start, end)
	}
	want := before + start + "\n" + body + "\n" + end + after
	if want == doc {
		return
	}
	if update {
		if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s's generated section is not what the code says; run %s", file, rewrite)
}
