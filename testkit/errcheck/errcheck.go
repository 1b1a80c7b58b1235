// Package errcheck holds the one assertion the validation tests share: an
// error that must exist and name every given fragment.
package errcheck

import (
	"strings"
	"testing"
)

// Contains fails t unless err is non-nil and its text contains every fragment.
func Contains(t testing.TB, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error containing %q, got none", fragments)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q\nlacks %q", err, f)
		}
	}
}
