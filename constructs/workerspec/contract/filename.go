package contract

// The worker's rule for what a message may name: one plain file name in the
// source folder. The worker refuses anything else; fleet send checks names
// with the same rule before it sends them.

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ProcessedSuffix is appended to a file's name in the destination.
const ProcessedSuffix = "_has_been_processed"

// MaxNameBytes keeps name+suffix within the 255-byte file-name limit.
const MaxNameBytes = 255 - len(ProcessedSuffix)

// CheckName accepts a name only if it is one plain file name: it can name
// nothing outside the source folder.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("empty body: expected a file name")
	case !utf8.ValidString(name):
		return errors.New("body is not valid UTF-8")
	case len(name) > MaxNameBytes:
		return fmt.Errorf("name is %d bytes: at most %d", len(name), MaxNameBytes)
	case name == "." || name == "..":
		return fmt.Errorf("name %q is a directory reference", name)
	case strings.ContainsAny(name, `/\`):
		return errors.New("name contains a path separator")
	case strings.TrimSpace(name) != name:
		return errors.New("name starts or ends with white space")
	}
	for _, r := range name {
		if r == 0 || unicode.IsControl(r) {
			return fmt.Errorf("name contains control character %U", r)
		}
	}
	return nil
}
