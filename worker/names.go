package main

import (
	"strconv"
	"unicode/utf8"

	"github.com/ecs-anywhere-stretched/stretched/constructs/workerspec/contract"
)

// processedSuffix is appended to a file's name in the destination.
const processedSuffix = contract.ProcessedSuffix

// maxNameBytes keeps name+suffix within the 255-byte file-name limit.
const maxNameBytes = contract.MaxNameBytes

// checkName accepts a message body only if it is one plain file name: it can
// name nothing outside the source folder (the rule fleet send checks too).
func checkName(body string) error { return contract.CheckName(body) }

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
