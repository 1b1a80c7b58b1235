package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// processedSuffix is appended to a file's name in the destination.
const processedSuffix = "_has_been_processed"

// maxNameBytes keeps name+suffix within the 255-byte file-name limit.
const maxNameBytes = 255 - len(processedSuffix)

// checkName accepts a message body only if it is one plain file name: it can
// name nothing outside the source folder.
func checkName(body string) error {
	switch {
	case body == "":
		return errors.New("empty body: expected a file name")
	case !utf8.ValidString(body):
		return errors.New("body is not valid UTF-8")
	case len(body) > maxNameBytes:
		return fmt.Errorf("name is %d bytes: at most %d", len(body), maxNameBytes)
	case body == "." || body == "..":
		return fmt.Errorf("name %q is a directory reference", body)
	case strings.ContainsAny(body, `/\`):
		return errors.New("name contains a path separator")
	case strings.TrimSpace(body) != body:
		return errors.New("name starts or ends with white space")
	}
	for _, r := range body {
		if r == 0 || unicode.IsControl(r) {
			return fmt.Errorf("name contains control character %U", r)
		}
	}
	return nil
}

// maxShown is how many bytes of a message body a log line shows.
const maxShown = 64

// shown is a message body as log lines show it: whole when it is a short
// plain name (plain: checkName accepted it), else an escaped prefix of
// maxShown bytes (the length is logged beside it), so a hostile body cannot
// blow up the logs.
func shown(body string, plain bool) string {
	if len(body) <= maxShown && plain {
		return body
	}
	cut := body[:min(len(body), maxShown)]
	// Do not split the last rune of the prefix; invalid bytes elsewhere
	// are escaped by QuoteToASCII like any other.
	if len(body) > maxShown {
		for i := len(cut) - 1; i >= 0 && i >= len(cut)-utf8.UTFMax; i-- {
			if utf8.RuneStart(cut[i]) {
				if !utf8.FullRuneInString(cut[i:]) {
					cut = cut[:i]
				}
				break
			}
		}
	}
	q := strconv.QuoteToASCII(cut)
	if len(body) > len(cut) {
		q += "..."
	}
	return q
}
