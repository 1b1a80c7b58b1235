package main

import (
	"bytes"
	"strings"
	"testing"
)

// Without a synthesized assembly, review says what to run; it writes
// nothing.
func TestReviewSaysWhatIsMissing(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{t.TempDir()}, "run make synth first"},
	} {
		var out, errOut bytes.Buffer
		if code := run(tc.args, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), tc.want) || out.Len() != 0 {
			t.Errorf("review %v: exit %d, stdout %q, stderr %q; want 1 and %q", tc.args, code, out.String(), errOut.String(), tc.want)
		}
	}
}
